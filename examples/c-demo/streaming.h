/* The demo contract's streaming endpoints, in C: /upload, /stream and /events. */
#ifndef SLUICE_DEMO_STREAMING_H
#define SLUICE_DEMO_STREAMING_H

#include "sluice.h"

/* Adds the three routes; /upload takes bodies up to upload_limit_bytes. Returns 0 or a SLUICE_E* code. */
int streaming_routes_add(sluice_server *server, const uint64_t *upload_limit_bytes);

#endif
