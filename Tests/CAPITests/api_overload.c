/* Overload options from C: validation of the new options, a classifier that makes a
 * request critical (never shed, even with no queue), 429 with a Retry-After, and the stats
 * fields (limit, shed by priority, adaptive figures). */
#define _DEFAULT_SOURCE
#include "test_support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static atomic_int holding = 0;
static atomic_int release_hold = 0;
static atomic_int classified = 0;

/* Holds the only permit until the test lets go (bounded: 10 s). */
static void hold(sluice_request *request, void *user_data) {
    (void)user_data;
    atomic_store(&holding, 1);
    for (int i = 0; i < 10000 && !atomic_load(&release_hold); i++) usleep(1000);
    sluice_respond(request, 200, NULL, 0, "held", 4);
}

static void quick(sluice_request *request, void *user_data) {
    (void)user_data;
    sluice_respond(request, 200, NULL, 0, "quick", 5);
}

/* What the classifier said last: each request is read afresh, nothing kept from the one before. */
static atomic_int last_class = SLUICE_PRIORITY_DEFAULT;

static int classify(const sluice_request *request, void *user_data) {
    CHECK(user_data == &classified);
    atomic_fetch_add(&classified, 1);
    CHECK(sluice_request_path(request) != NULL && sluice_request_param(request, "x") == NULL);
    CHECK(sluice_request_header(request, "X-Absent") == NULL);
    /* A classifier reads; it cannot answer, stream or wait for a cancellation. */
    sluice_request *writable = (sluice_request *)request;
    CHECK_RC(sluice_respond(writable, 200, NULL, 0, NULL, 0), SLUICE_ESTATE);
    CHECK_RC(sluice_response_start(writable, 200, NULL, 0, -1), SLUICE_ESTATE);
    CHECK_RC(sluice_response_abort(writable), SLUICE_ESTATE);
    CHECK(sluice_request_is_cancelled(request) == 0);
    const char *priority = sluice_request_header(request, "X-Priority");
    /* Every read of a present value gives the same pointer, whatever the name's case. */
    CHECK(priority == NULL || sluice_request_header(request, "x-priority") == priority);
    int class = priority && strcmp(priority, "critical") == 0 ? SLUICE_PRIORITY_CRITICAL : SLUICE_PRIORITY_DEFAULT;
    atomic_store(&last_class, class);
    return class;
}

static void routes(sluice_server *server) {
    sluice_route_options blocking = SLUICE_ROUTE_OPTIONS_INIT;
    blocking.blocking = 1;
    CHECK_RC(sluice_server_set_classifier(server, classify, &classified), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/hold", hold, NULL, &blocking), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/quick", quick, NULL, NULL), SLUICE_OK);
}

static void check_invalid_options(void) {
    sluice_server *server = NULL;
    sluice_server_options options = SLUICE_SERVER_OPTIONS_INIT;
    options.overload_status = 500;
    CHECK_RC(sluice_server_create(&server, &options), SLUICE_EINVAL);
    options = (sluice_server_options)SLUICE_SERVER_OPTIONS_INIT;
    options.adaptive = 1;
    options.adaptive_min_limit = options.max_concurrency + 1;
    CHECK_RC(sluice_server_create(&server, &options), SLUICE_EINVAL);
    options.adaptive_min_limit = 1;
    options.adaptive_target_ms = 0;
    CHECK_RC(sluice_server_create(&server, &options), SLUICE_EINVAL);

    CHECK_RC(sluice_server_create(&server, NULL), SLUICE_OK);
    sluice_route_options route = SLUICE_ROUTE_OPTIONS_INIT;
    route.priority = 4;
    CHECK_RC(sluice_server_add_route(server, "GET", "/a", quick, NULL, &route), SLUICE_EINVAL);
    route = (sluice_route_options)SLUICE_ROUTE_OPTIONS_INIT;
    route.share_percent = 60;
    route.share_name = "one";
    CHECK_RC(sluice_server_add_route(server, "GET", "/a", quick, NULL, &route), SLUICE_OK);
    route.share_percent = 50;
    CHECK_RC(sluice_server_add_route(server, "GET", "/b", quick, NULL, &route), SLUICE_EINVAL); /* same name, other percent */
    route.share_name = "two";
    CHECK_RC(sluice_server_add_route(server, "GET", "/b", quick, NULL, &route), SLUICE_EINVAL); /* 110% in all */
    route.share_percent = 40;
    CHECK_RC(sluice_server_add_route(server, "GET", "/b", quick, NULL, &route), SLUICE_OK);
    sluice_stats stats = {.size = sizeof(sluice_stats)};
    CHECK_RC(sluice_server_stats(&stats, server), SLUICE_OK);
    CHECK(stats.limit == 256 && stats.baseline_latency_us == 0);
    sluice_server_destroy(server);
}

static void *critical_request(void *out_status) {
    char response[4096];
    *(int *)out_status = http_exchange(*(int *)out_status,
                                       "GET /quick HTTP/1.1\r\nHost: t\r\nX-Priority: critical\r\nConnection: close\r\n\r\n",
                                       response, sizeof(response));
    return NULL;
}

static void *hold_request(void *out_status) {
    char body[64];
    *(int *)out_status = http_request(*(int *)out_status, "GET", "/hold", NULL, body, sizeof(body));
    return NULL;
}

int main(void) {
    check_invalid_options();

    sluice_server_options options = SLUICE_SERVER_OPTIONS_INIT;
    options.max_concurrency = 1;
    options.max_queue = 0;
    options.overload_status = 429;
    options.adaptive = 1;
    options.adaptive_min_limit = 1;
    options.adaptive_target_ms = 60000;
    int port = 0;
    sluice_server *server = start_server(&port, &options, routes);

    int hold_status = port;
    pthread_t holder;
    CHECK(pthread_create(&holder, NULL, hold_request, &hold_status) == 0);
    for (int i = 0; i < 10000 && !atomic_load(&holding); i++) usleep(1000);
    CHECK(atomic_load(&holding));

    /* The only permit is held and the queue takes nobody: a normal request is shed. */
    char response[4096];
    CHECK(http_exchange(port, "GET /quick HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", response, sizeof(response)) == 429);
    CHECK(strstr(response, "\r\nRetry-After: ") != NULL);

    /* A critical one waits instead, and is served once the permit frees. */
    int critical_status = port;
    pthread_t critical;
    CHECK(pthread_create(&critical, NULL, critical_request, &critical_status) == 0);
    sluice_stats stats = {.size = sizeof(sluice_stats)};
    for (int i = 0; i < 10000; i++) {
        CHECK_RC(sluice_server_stats(&stats, server), SLUICE_OK);
        if (stats.queued == 1) break;
        usleep(1000);
    }
    CHECK(stats.queued == 1);
    atomic_store(&release_hold, 1);
    pthread_join(holder, NULL);
    pthread_join(critical, NULL);
    CHECK(hold_status == 200);
    CHECK(critical_status == 200);

    CHECK_RC(sluice_server_stats(&stats, server), SLUICE_OK);
    CHECK(stats.shed[SLUICE_PRIORITY_NORMAL] == 1 && stats.shed[SLUICE_PRIORITY_CRITICAL] == 0);
    CHECK(stats.rejected == 1 && stats.completed == 2);
    CHECK(stats.limit >= 1 && stats.limit <= 1); /* adaptive between 1 and max_concurrency = 1 */
    CHECK(atomic_load(&classified) == 3);
    CHECK(atomic_load(&last_class) == SLUICE_PRIORITY_CRITICAL);

    /* After a critical request, one with another X-Priority is classified by its own (the
     * loop's classifier view is reused: what the last request had must be gone). */
    CHECK(http_exchange(port, "GET /quick HTTP/1.1\r\nHost: t\r\nX-Priority: other\r\nConnection: close\r\n\r\n",
                        response, sizeof(response)) == 200);
    CHECK(atomic_load(&classified) == 4);
    CHECK(atomic_load(&last_class) == SLUICE_PRIORITY_DEFAULT);

    sluice_server_destroy(server);
    return 0;
}
