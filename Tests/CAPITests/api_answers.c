/* Answers: a second answer and an answer after the deadline return codes and send nothing
 * more; the cancel callback runs once; the error helper answers JSON and counts an error. */
#define _DEFAULT_SOURCE
#include "test_support.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int second_answer = 1;
static atomic_int late_answer = 1;
static atomic_int cancel_calls = 0;
static atomic_int bad_status = 1;

static void twice(sluice_request *request, void *user_data) {
    (void)user_data;
    sluice_respond(request, 200, NULL, 0, "first", 5);
    atomic_store(&second_answer, sluice_respond(request, 200, NULL, 0, "second", 6));
}

static void on_cancel(sluice_request *request, void *user_data) {
    (void)request;
    (void)user_data;
    atomic_fetch_add(&cancel_calls, 1);
}

/* A blocking handler that sleeps past its route's 100 ms deadline, then answers. */
static void late(sluice_request *request, void *user_data) {
    (void)user_data;
    CHECK_RC(sluice_request_on_cancel(request, on_cancel, NULL), SLUICE_OK);
    CHECK_RC(sluice_request_on_cancel(request, on_cancel, NULL), SLUICE_ESTATE);
    usleep(400 * 1000);
    CHECK(sluice_request_is_cancelled(request) == 1);
    atomic_store(&late_answer, sluice_respond(request, 200, NULL, 0, "late", 4));
}

static void failing(sluice_request *request, void *user_data) {
    (void)user_data;
    atomic_store(&bad_status, sluice_respond(request, 42, NULL, 0, NULL, 0));
    /* A 1xx is interim: as a final answer the client would wait on for another. */
    CHECK_RC(sluice_respond(request, 101, NULL, 0, NULL, 0), SLUICE_EINVAL);
    CHECK_RC(sluice_respond(request, 199, NULL, 0, NULL, 0), SLUICE_EINVAL);
    sluice_header injected[] = {{"X-A", "a\r\nX-Injected: 1"}};
    CHECK_RC(sluice_respond(request, 200, injected, 1, NULL, 0), SLUICE_EINVAL);
    sluice_header not_token[] = {{"X(A)", "v"}};
    CHECK_RC(sluice_respond(request, 200, not_token, 1, NULL, 0), SLUICE_EINVAL);
    CHECK_RC(sluice_respond_error(request, 418, "no coffee"), SLUICE_OK);
}

static void owned_free(void *body) { free(body); }

static void owned(sluice_request *request, void *user_data) {
    (void)user_data;
    char *body = malloc(5);
    memcpy(body, "owned", 5);
    CHECK_RC(sluice_respond_owned(request, 200, NULL, 0, body, 5, owned_free), SLUICE_OK);
}

/* Content types: values the library keeps as constants, and values one byte or one length
 * away from them, must each go out exactly as the handler sent it. */
static const char *content_types[] = {
    "text/plain; charset=utf-8", "text/plain; charset=utf-9", "text/plain; charset=utf-8x", "application/json",
    "application/jsoN", "application/js", "application/octet-stream", "text/plain",
};
enum { CONTENT_TYPES = sizeof(content_types) / sizeof(content_types[0]) };

static void typed(sluice_request *request, void *user_data) {
    sluice_header type[] = {{"Content-Type", user_data}};
    CHECK_RC(sluice_respond(request, 200, type, 1, "t", 1), SLUICE_OK);
}

/* A known value under a name spelled otherwise, or beside another field: the shared
 * Content-Type field list must not stand in for them. */
static void typed_lower(sluice_request *request, void *user_data) {
    (void)user_data;
    sluice_header type[] = {{"content-type", "text/plain; charset=utf-8"}};
    CHECK_RC(sluice_respond(request, 200, type, 1, "t", 1), SLUICE_OK);
}

static void typed_pair(sluice_request *request, void *user_data) {
    (void)user_data;
    sluice_header fields[] = {{"Content-Type", "application/json"}, {"X-Extra", "1"}};
    CHECK_RC(sluice_respond(request, 200, fields, 2, "t", 1), SLUICE_OK);
}

/* Header reads: by name in any case, the first of repeated fields, nothing for a name that
 * is only a prefix or an extension of one present; the same pointer on every read. */
static void headers(sluice_request *request, void *user_data) {
    (void)user_data;
    const char *first = sluice_request_header(request, "X-Twice");
    CHECK(first != NULL && strcmp(first, "one") == 0);
    CHECK(sluice_request_header(request, "x-TWICE") == first);
    CHECK(sluice_request_header(request, "X-Twic") == NULL);
    CHECK(sluice_request_header(request, "X-Twice2") == NULL);
    CHECK(sluice_request_header(request, "") == NULL);
    CHECK(sluice_request_header(request, NULL) == NULL);
    const char *empty = sluice_request_header(request, "x-empty");
    CHECK(empty != NULL && empty[0] == '\0');
    const char *host = sluice_request_header(request, "HOST");
    CHECK(host != NULL && strcmp(host, "t") == 0);
    CHECK_RC(sluice_respond(request, 200, NULL, 0, first, strlen(first)), SLUICE_OK);
}

static void routes(sluice_server *server) {
    CHECK_RC(sluice_server_add_route(server, "GET", "/headers", headers, NULL, NULL), SLUICE_OK);
    for (int i = 0; i < CONTENT_TYPES; i++) {
        char pattern[32];
        snprintf(pattern, sizeof(pattern), "/type/%d", i);
        CHECK_RC(sluice_server_add_route(server, "GET", pattern, typed, (void *)content_types[i], NULL), SLUICE_OK);
    }
    CHECK_RC(sluice_server_add_route(server, "GET", "/type-lower", typed_lower, NULL, NULL), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/type-pair", typed_pair, NULL, NULL), SLUICE_OK);
    sluice_route_options slow = SLUICE_ROUTE_OPTIONS_INIT;
    slow.timeout_ms = 100;
    slow.blocking = 1;
    CHECK_RC(sluice_server_add_route(server, "GET", "/twice", twice, NULL, NULL), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/late", late, NULL, &slow), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/failing", failing, NULL, NULL), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/owned", owned, NULL, NULL), SLUICE_OK);
}

int main(void) {
    int port = 0;
    sluice_server *server = start_server(&port, NULL, routes);
    char body[256];

    CHECK(http_request(port, "GET", "/twice", NULL, body, sizeof(body)) == 200 && strcmp(body, "first") == 0);
    /* The first answer may reach this client before the handler's second call returns. */
    for (int i = 0; i < 250 && atomic_load(&second_answer) == 1; i++) usleep(20 * 1000);
    CHECK(atomic_load(&second_answer) == SLUICE_ESTATE);

    CHECK(http_request(port, "GET", "/late", NULL, body, sizeof(body)) == 504);
    for (int i = 0; i < 100 && atomic_load(&late_answer) == 1; i++) usleep(20 * 1000); /* the handler's own sleep ends */
    CHECK(atomic_load(&late_answer) == SLUICE_ECANCELED);
    CHECK(atomic_load(&cancel_calls) == 1);

    CHECK(http_request(port, "GET", "/failing", NULL, body, sizeof(body)) == 418);
    CHECK(strstr(body, "\"error\":\"no coffee\"") != NULL && strstr(body, "\"request_id\":") != NULL);
    CHECK(atomic_load(&bad_status) == SLUICE_EINVAL);

    CHECK(http_request(port, "GET", "/owned", NULL, body, sizeof(body)) == 200 && strcmp(body, "owned") == 0);

    sluice_stats stats = {.size = sizeof(sluice_stats)};
    CHECK_RC(sluice_server_stats(&stats, server), SLUICE_OK);
    CHECK(stats.timed_out == 1);
    CHECK(stats.errors == 1);
    CHECK(stats.completed == 3);
    CHECK(stats.in_flight == 0);

    for (int i = 0; i < CONTENT_TYPES; i++) {
        char request[96], expected[96], response[1024];
        snprintf(request, sizeof(request), "GET /type/%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", i);
        snprintf(expected, sizeof(expected), "\r\nContent-Type: %s\r\n", content_types[i]);
        CHECK(http_exchange(port, request, response, sizeof(response)) == 200);
        CHECK(strstr(response, expected) != NULL);
    }
    char response[1024];
    CHECK(http_exchange(port, "GET /headers HTTP/1.1\r\nHost: t\r\nX-TWICE: one\r\nx-empty:\r\nx-twice: two\r\n"
                              "Connection: close\r\n\r\n", response, sizeof(response)) == 200);
    CHECK(strstr(response, "\r\n\r\none") != NULL);
    CHECK(http_exchange(port, "GET /type-lower HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", response,
                        sizeof(response)) == 200);
    CHECK(strstr(response, "\r\ncontent-type: text/plain; charset=utf-8\r\n") != NULL);
    CHECK(http_exchange(port, "GET /type-pair HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", response,
                        sizeof(response)) == 200);
    CHECK(strstr(response, "\r\nContent-Type: application/json\r\n") != NULL);
    CHECK(strstr(response, "\r\nX-Extra: 1\r\n") != NULL);

    CHECK_RC(sluice_server_stop(server), SLUICE_OK);
    CHECK_RC(sluice_server_run(server), SLUICE_OK);
    sluice_server_destroy(server);
    puts("api_answers: ok");
    return 0;
}
