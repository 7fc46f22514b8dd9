/* Helpers for the C API tests: checks that report and fail, and a tiny HTTP client. */
#ifndef SLUICE_TEST_SUPPORT_H
#define SLUICE_TEST_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>

#include "sluice.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define CHECK_RC(expr, expected)                                                                      \
    do {                                                                                              \
        int rc_ = (expr);                                                                             \
        if (rc_ != (expected)) {                                                                      \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d\n", __FILE__, __LINE__, #expr, rc_, \
                    sluice_strerror(rc_), (expected));                                                \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

/* A TCP connection to 127.0.0.1:port with a 10 s receive timeout and, when receive_buffer > 0,
 * that receive buffer size; -1 on failure. */
int http_connect(int port, int receive_buffer);

/* Sends request (raw bytes, a C string) to 127.0.0.1:port and reads the whole response into
 * out (capacity n, NUL-terminated; the server must close). Returns the status, or -1. */
int http_exchange(int port, const char *request, char *out, size_t n);

/* Sends one request (method, target, body) to 127.0.0.1:port and reads the whole response
 * (Connection: close). Returns the status, or -1; the body is copied into body (capacity n). */
int http_request(int port, const char *method, const char *target, const char *body, char *out_body, size_t n);

/* A server with default options on a free port, started; *out_port receives the port. */
sluice_server *start_server(int *out_port, const sluice_server_options *options, void (*add_routes)(sluice_server *));

#endif
