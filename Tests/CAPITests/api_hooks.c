/* Hooks: the before hook can short-circuit (answering itself) or let the handler run; a hook
 * that claims an answer it did not give yields 500; the after hook sees status, bytes and a
 * duration for each handled request, and never runs for monitoring routes. */
#define _DEFAULT_SOURCE
#include "test_support.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static atomic_int handler_calls = 0;
static atomic_int after_calls = 0;
static atomic_int last_status = -1;
static atomic_long last_bytes = -1;
static atomic_int monitoring_calls = 0;
static int marker;

static void ok(sluice_request *request, void *user_data) {
    (void)user_data;
    atomic_fetch_add(&handler_calls, 1);
    sluice_respond(request, 200, NULL, 0, "ok", 2);
}

static void monitoring(sluice_request *request, void *user_data) {
    (void)user_data;
    atomic_fetch_add(&monitoring_calls, 1);
    sluice_respond(request, 200, NULL, 0, "m", 1);
}

static int before(sluice_request *request, void *user_data) {
    CHECK(user_data == &marker);
    if (strcmp(sluice_request_path(request), "/liar") == 0) return 1; /* claims an answer, gives none */
    if (sluice_request_header(request, "X-Token") == NULL) {
        CHECK_RC(sluice_respond_error(request, 401, "token required"), SLUICE_OK);
        return 1;
    }
    return 0;
}

static void after(const sluice_request *request, int status, size_t body_bytes, uint64_t duration_us, void *user_data) {
    CHECK(user_data == &marker);
    CHECK(sluice_request_path(request) != NULL);
    CHECK(duration_us < 10u * 1000 * 1000);
    atomic_store(&last_status, status);
    atomic_store(&last_bytes, (long)body_bytes);
    atomic_fetch_add(&after_calls, 1);
}

static void routes(sluice_server *server) {
    sluice_route_options monitor = SLUICE_ROUTE_OPTIONS_INIT;
    monitor.monitoring = 1;
    CHECK_RC(sluice_server_set_hooks(server, before, after, &marker), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/ok", ok, NULL, NULL), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/liar", ok, NULL, NULL), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/monitor", monitoring, NULL, &monitor), SLUICE_OK);
}

int main(void) {
    int port = 0;
    sluice_server *server = start_server(&port, NULL, routes);
    CHECK_RC(sluice_server_set_hooks(server, NULL, NULL, NULL), SLUICE_ESTATE);
    char response[4096];

    CHECK(http_exchange(port, "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", response, sizeof(response)) == 401);
    CHECK(strstr(response, "token required") != NULL);
    CHECK(atomic_load(&handler_calls) == 0);
    CHECK(atomic_load(&after_calls) == 1 && atomic_load(&last_status) == 401);
    const char *body = strstr(response, "\r\n\r\n");
    CHECK(body != NULL && atomic_load(&last_bytes) == (long)strlen(body + 4));

    CHECK(http_exchange(port, "GET /ok HTTP/1.1\r\nHost: t\r\nX-Token: t\r\nConnection: close\r\n\r\n", response,
                        sizeof(response)) == 200);
    CHECK(atomic_load(&handler_calls) == 1);
    CHECK(atomic_load(&after_calls) == 2 && atomic_load(&last_status) == 200 && atomic_load(&last_bytes) == 2);

    CHECK(http_exchange(port, "GET /liar HTTP/1.1\r\nHost: t\r\nX-Token: t\r\nConnection: close\r\n\r\n", response,
                        sizeof(response)) == 500);
    CHECK(atomic_load(&handler_calls) == 1);
    CHECK(atomic_load(&after_calls) == 3 && atomic_load(&last_status) == 500);

    CHECK(http_exchange(port, "GET /monitor HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", response, sizeof(response)) == 200);
    CHECK(atomic_load(&monitoring_calls) == 1 && atomic_load(&after_calls) == 3);

    /* 404 never reaches the hooks. */
    CHECK(http_exchange(port, "GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", response, sizeof(response)) == 404);
    CHECK(atomic_load(&after_calls) == 3);

    sluice_server_destroy(server);
    return 0;
}
