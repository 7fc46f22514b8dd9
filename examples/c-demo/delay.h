/*
 * Delayed answers for the C demo: one thread holds every pending answer in a heap
 * ordered by due time, so a request that waits N ms holds no thread of its own.
 */
#ifndef SLUICE_DEMO_DELAY_H
#define SLUICE_DEMO_DELAY_H

#include <stdint.h>
#include "sluice.h"

/* Builds and sends the answer of a request whose time has come (on the delay thread). */
typedef void (*delay_answer_fn)(sluice_request *request, uint64_t waited_ms, int gate_occupancy);

int delay_start(void);
void delay_stop(void);

/* Answers request after ms milliseconds through answer. Returns 0 or -1 (out of memory). */
int delay_schedule(sluice_request *request, uint64_t ms, int gate_occupancy, delay_answer_fn answer);

#endif
