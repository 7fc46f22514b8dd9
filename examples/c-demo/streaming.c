/*
 * /upload, /stream and /events: bodies that are never held whole. Their handlers block
 * (reading the body, writing while the client is slow, pausing between chunks), so they
 * run on the blocking pool, never on an event loop.
 */
#define _POSIX_C_SOURCE 200809L
#include "streaming.h"
#include "routes.h"
#include "sha256.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void pause_ms(long ms) {
    struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
    }
}

static void upload(sluice_request *request, void *user_data) {
    (void)user_data;
    enum { BUFFER_BYTES = 64 * 1024 };
    uint8_t *buffer = malloc(BUFFER_BYTES);
    if (buffer == NULL) {
        sluice_respond_error(request, 500, "out of memory");
        return;
    }
    sha256 hash;
    sha256_init(&hash);
    uint64_t bytes = 0;
    int64_t n;
    while ((n = sluice_request_body_read(request, buffer, BUFFER_BYTES)) > 0) {
        sha256_update(&hash, buffer, (size_t)n);
        bytes += (uint64_t)n;
    }
    free(buffer);
    if (n < 0) {
        /* Over the limit the engine has answered 413 already, and a client gone gets nothing:
         * this answer only releases the request. */
        sluice_respond_error(request, n == SLUICE_EBODY ? 413 : 500, "the upload broke off");
        return;
    }
    char hex[65], json[160];
    sha256_final_hex(&hash, hex);
    int len = snprintf(json, sizeof(json), "{\"bytes\":%" PRIu64 ",\"sha256\":\"%s\"}", bytes, hex);
    static const sluice_header type[] = {{"Content-Type", "application/json"}};
    sluice_respond(request, 200, type, 1, json, (size_t)len);
}

/* Byte i of /stream's body: the lowercase alphabet over and over. */
static void fill_pattern(uint8_t *chunk, size_t size, uint64_t offset) {
    for (size_t i = 0; i < size; i++) chunk[i] = (uint8_t)('a' + (offset + i) % 26);
}

static void stream(sluice_request *request, void *user_data) {
    (void)user_data;
    long long chunks = routes_query_integer(request, "chunks", 10, 0, 10000000);
    long long size = routes_query_integer(request, "size", 1024, 1, 16 << 20);
    long long delay = routes_query_integer(request, "delay_ms", 0, 0, 60000);
    /* The first bad parameter is named, as the Swift demo names it. */
    const char *problem = chunks < 0 ? "chunks must be a whole number in 0...10000000"
                          : size < 0 ? "size must be a whole number in 1...16777216"
                          : delay < 0 ? "delay_ms must be a whole number in 0...60000"
                                      : NULL;
    if (problem) {
        sluice_respond_error(request, 400, problem);
        return;
    }
    uint8_t *chunk = malloc((size_t)size);
    if (chunk == NULL) {
        sluice_respond_error(request, 500, "out of memory");
        return;
    }
    static const sluice_header type[] = {{"Content-Type", "application/octet-stream"}};
    if (sluice_response_start(request, 200, type, 1, -1) != SLUICE_OK) {
        free(chunk);
        return;
    }
    int rc = SLUICE_OK;
    for (long long i = 0; i < chunks && rc == SLUICE_OK; i++) {
        if (i > 0 && delay > 0) pause_ms((long)delay);
        fill_pattern(chunk, (size_t)size, (uint64_t)i * (uint64_t)size);
        rc = sluice_response_write(request, chunk, (size_t)size);
    }
    free(chunk);
    if (rc == SLUICE_OK) sluice_response_finish(request, NULL, 0);
    else sluice_response_abort(request);
}

static void events(sluice_request *request, void *user_data) {
    (void)user_data;
    long long count = routes_query_integer(request, "n", 10, 0, 100000);
    if (count < 0) {
        sluice_respond_error(request, 400, "n must be a whole number in 0...100000");
        return;
    }
    static const sluice_header headers[] = {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
    if (sluice_response_start(request, 200, headers, 2, -1) != SLUICE_OK) return;
    int rc = SLUICE_OK;
    for (long long i = 0; i < count && rc == SLUICE_OK; i++) {
        if (i > 0) pause_ms(100);
        char event[64];
        int len = snprintf(event, sizeof(event), "id: %lld\ndata: {\"seq\":%lld}\n\n", i, i);
        rc = sluice_response_write(request, event, (size_t)len);
    }
    if (rc == SLUICE_OK) sluice_response_finish(request, NULL, 0);
    else sluice_response_abort(request);
}

int streaming_routes_add(sluice_server *server, const uint64_t *upload_limit_bytes) {
    sluice_route_options streams_body = SLUICE_ROUTE_OPTIONS_INIT;
    streams_body.stream_body = 1;
    streams_body.max_body_bytes = *upload_limit_bytes;
    sluice_route_options blocking = SLUICE_ROUTE_OPTIONS_INIT;
    blocking.blocking = 1;
    int rc = sluice_server_add_route(server, "POST", "/upload", upload, NULL, &streams_body);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/stream", stream, NULL, &blocking);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/events", events, NULL, &blocking);
    return rc;
}
