/* Misuse gets error codes, never a crash: NULLs, bad patterns, wrong states, a busy port. */
#include "test_support.h"

#include <stddef.h>
#include <string.h>

static void ok(sluice_request *request, void *user_data) {
    (void)user_data;
    sluice_respond(request, 200, NULL, 0, "ok", 2);
}

static void add_ok(sluice_server *server) { CHECK_RC(sluice_server_add_route(server, "GET", "/ok", ok, NULL, NULL), 0); }

static void nulls(void) {
    CHECK_RC(sluice_server_create(NULL, NULL), SLUICE_EINVAL);
    sluice_server_destroy(NULL);
    CHECK_RC(sluice_server_start(NULL, NULL), SLUICE_EINVAL);
    CHECK_RC(sluice_server_stop(NULL), SLUICE_EINVAL);
    CHECK_RC(sluice_server_run(NULL), SLUICE_EINVAL);
    CHECK_RC(sluice_respond(NULL, 200, NULL, 0, NULL, 0), SLUICE_EINVAL);
    CHECK_RC(sluice_counter_add(NULL, NULL, "x", 1), SLUICE_EINVAL);
    CHECK(sluice_request_path(NULL) == NULL);
    CHECK(strlen(sluice_strerror(SLUICE_ECANCELED)) > 0);
    CHECK(strcmp(sluice_version(), "0.1.0") == 0);

    sluice_server *server = NULL;
    CHECK_RC(sluice_server_create(&server, NULL), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, NULL, "/x", ok, NULL, NULL), SLUICE_EINVAL);
    CHECK_RC(sluice_server_add_route(server, "GET", NULL, ok, NULL, NULL), SLUICE_EINVAL);
    CHECK_RC(sluice_server_add_route(server, "GET", "/x", NULL, NULL, NULL), SLUICE_EINVAL);
    CHECK_RC(sluice_server_add_route(server, "G ET", "/x", ok, NULL, NULL), SLUICE_EINVAL);
    sluice_stats stats = {.size = 0};
    CHECK_RC(sluice_server_stats(&stats, server), SLUICE_EINVAL); /* size field not set */
    sluice_server_destroy(server);
}

static void options(void) {
    sluice_server_options o = SLUICE_SERVER_OPTIONS_INIT;
    sluice_server *server = NULL;
    o.port = 70000;
    CHECK_RC(sluice_server_create(&server, &o), SLUICE_EINVAL);
    o = (sluice_server_options)SLUICE_SERVER_OPTIONS_INIT;
    o.size = 8;
    CHECK_RC(sluice_server_create(&server, &o), SLUICE_EINVAL);
    o = (sluice_server_options)SLUICE_SERVER_OPTIONS_INIT;
    o.max_concurrency = 0;
    CHECK_RC(sluice_server_create(&server, &o), SLUICE_EINVAL);
    o = (sluice_server_options)SLUICE_SERVER_OPTIONS_INIT;
    o.log_level = SLUICE_LOG_OFF + 1;
    CHECK_RC(sluice_server_create(&server, &o), SLUICE_EINVAL);
    o.log_level = -1;
    CHECK_RC(sluice_server_create(&server, &o), SLUICE_EINVAL);
    CHECK(server == NULL);

    /* Every level, and logging off, is taken. */
    for (int level = SLUICE_LOG_TRACE; level <= SLUICE_LOG_OFF; level++) {
        o.log_level = level;
        CHECK_RC(sluice_server_create(&server, &o), SLUICE_OK);
        sluice_server_destroy(server);
        server = NULL;
    }

    /* A program built against the first header, whose struct ended before log_level: taken,
     * whatever lies past its size (here an out-of-range level it never set). */
    o = (sluice_server_options)SLUICE_SERVER_OPTIONS_INIT;
    o.size = offsetof(sluice_server_options, log_level);
    o.log_level = 12345;
    CHECK_RC(sluice_server_create(&server, &o), SLUICE_OK);
    sluice_server_destroy(server);
    server = NULL;
    o.size = offsetof(sluice_server_options, log_level) - 1; /* no version ends there */
    CHECK_RC(sluice_server_create(&server, &o), SLUICE_EINVAL);
    CHECK(server == NULL);
}

static void patterns(void) {
    sluice_server *server = NULL;
    CHECK_RC(sluice_server_create(&server, NULL), SLUICE_OK);
    const char *bad[] = {"no-slash", "/a/:", "/a/:x/:x", "/a/**/b", "/a//b", "/a/b:c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_RC(sluice_server_add_route(server, "GET", bad[i], ok, NULL, NULL), SLUICE_EPATTERN);
    }
    CHECK_RC(sluice_server_add_route(server, "GET", "/users/:id/files/**", ok, NULL, NULL), SLUICE_OK);
    sluice_server_destroy(server); /* never started */
}

static void states(void) {
    int port = 0;
    sluice_server *server = start_server(&port, NULL, add_ok);
    char body[64];
    CHECK(http_request(port, "GET", "/ok", NULL, body, sizeof(body)) == 200 && strcmp(body, "ok") == 0);
    CHECK_RC(sluice_server_start(server, NULL), SLUICE_ESTATE);
    CHECK_RC(sluice_server_add_route(server, "GET", "/late", ok, NULL, NULL), SLUICE_ESTATE);

    /* Another server on the same port cannot listen. */
    sluice_server_options o = SLUICE_SERVER_OPTIONS_INIT;
    o.port = port;
    sluice_server *busy = NULL;
    CHECK_RC(sluice_server_create(&busy, &o), SLUICE_OK);
    add_ok(busy);
    CHECK_RC(sluice_server_start(busy, NULL), SLUICE_ELISTEN);
    sluice_server_destroy(busy);

    CHECK_RC(sluice_server_stop(server), SLUICE_OK);
    CHECK_RC(sluice_server_stop(server), SLUICE_OK); /* twice is harmless */
    CHECK_RC(sluice_server_run(server), SLUICE_OK);  /* returns once drained */
    sluice_server_destroy(server);
}

static void destroy_while_running(void) {
    int port = 0;
    sluice_server *server = start_server(&port, NULL, add_ok);
    CHECK(http_request(port, "GET", "/ok", NULL, NULL, 0) == 200);
    sluice_server_destroy(server); /* stops, drains and frees */
    CHECK(http_request(port, "GET", "/ok", NULL, NULL, 0) == -1);
}

int main(void) {
    nulls();
    options();
    patterns();
    states();
    destroy_while_running();
    puts("api_misuse: ok");
    return 0;
}
