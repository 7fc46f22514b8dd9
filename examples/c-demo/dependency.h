/*
 * /work's simulated dependency: a database or downstream service that serves so many
 * calls at once, in arrival order beyond that. Each call takes its ms on the delay thread.
 */
#ifndef SLUICE_DEMO_DEPENDENCY_H
#define SLUICE_DEMO_DEPENDENCY_H

#include <stdint.h>
#include "delay.h"

/* Sets how many calls run at once (0: no bound) and the function that answers a finished
 * call. Call once, before any request. */
void dependency_init(int capacity, delay_answer_fn answer);

/* Starts or queues a call of ms milliseconds for request. Returns 0 or -1 (out of memory). */
int dependency_call(sluice_request *request, uint64_t ms);

/* Frees the queue; calls still queued have been answered by then (the server drained). */
void dependency_stop(void);

#endif
