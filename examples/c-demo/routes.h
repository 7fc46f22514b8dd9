/* The demo contract's endpoints, in C. */
#ifndef SLUICE_DEMO_ROUTES_H
#define SLUICE_DEMO_ROUTES_H

#include "sluice.h"

typedef struct routes_settings {
    int gate_limit;         /* the /gated route's own gate */
    int work_capacity;      /* calls /work's simulated dependency serves at once; 0: no bound */
    int work_weight;        /* permits of the global budget each /work request takes */
    int fast_share_percent; /* percent of the global budget guaranteed to /hello and /json; 0: none */
    int adaptive;           /* whether the global limit is adaptive (for /stats) */
    int access_log;         /* one line per handled request on stderr */
    uint64_t upload_limit_bytes; /* the largest body /upload takes; beyond it, 413 mid-stream */
} routes_settings;

/* A whole-number query parameter in [low, high] (low >= 0): fallback when absent, -1 when invalid. */
long long routes_query_integer(sluice_request *request, const char *name, long long fallback, long long low,
                               long long high);

/* Adds every endpoint and the priority classifier. settings must outlive the server.
 * Returns 0 or a SLUICE_E* code. */
int routes_add(sluice_server *server, const routes_settings *settings);

#endif
