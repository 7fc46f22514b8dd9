/* The demo contract's endpoints, in C. */
#ifndef SLUICE_DEMO_ROUTES_H
#define SLUICE_DEMO_ROUTES_H

#include "sluice.h"

/* Adds every endpoint; gate_limit is the /gated route's own gate. Returns 0 or a SLUICE_E* code. */
int routes_add(sluice_server *server, int gate_limit);

#endif
