#define _POSIX_C_SOURCE 200809L
#include "routes.h"
#include "delay.h"
#include "dependency.h"
#include "streaming.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sluice_header json_type[] = {{"Content-Type", "application/json"}};

static void respond_json(sluice_request *request, const char *json) {
    sluice_respond(request, 200, json_type, 1, json, strlen(json));
}

/* Writes text as a JSON string literal into out (capacity n); returns out. */
static char *json_string(char *out, size_t n, const char *text) {
    size_t j = 0;
    out[j++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p && j + 8 < n; p++) {
        if (*p == '"' || *p == '\\') {
            out[j++] = '\\';
            out[j++] = (char)*p;
        } else if (*p < 0x20) {
            j += (size_t)snprintf(out + j, n - j, "\\u%04x", *p);
        } else {
            out[j++] = (char)*p;
        }
    }
    out[j++] = '"';
    out[j] = '\0';
    return out;
}

long long routes_query_integer(sluice_request *request, const char *name, long long fallback, long long low,
                               long long high) {
    const char *text = sluice_request_query_param(request, name);
    if (text == NULL) return fallback;
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || value < low || value > high) return -1;
    return value;
}

/* The ms query parameter: a whole number 0...3600000, 0 when absent; -1 when invalid. */
static long long milliseconds(sluice_request *request) { return routes_query_integer(request, "ms", 0, 0, 3600000); }

static void hello(sluice_request *request, void *user_data) {
    (void)user_data;
    static const sluice_header text_type[] = {{"Content-Type", "text/plain; charset=utf-8"}};
    sluice_respond(request, 200, text_type, 1, "Hello, World!", 13);
}

static void json(sluice_request *request, void *user_data) {
    (void)user_data;
    respond_json(request, "{\"message\":\"Hello, World!\"}");
}

static void echo(sluice_request *request, void *user_data) {
    (void)user_data;
    size_t len = 0;
    const void *body = sluice_request_body(request, &len);
    const char *type = sluice_request_header(request, "Content-Type");
    sluice_header headers[] = {{"Content-Type", type ? type : "application/octet-stream"}};
    sluice_respond(request, 200, headers, 1, body, len);
}

static void answer_work(sluice_request *request, uint64_t waited_ms, int gate_occupancy) {
    (void)gate_occupancy;
    if (sluice_request_is_cancelled(request)) {
        sluice_respond(request, 503, NULL, 0, NULL, 0); /* releases it; nothing is sent */
        return;
    }
    const char *id = sluice_request_query_param(request, "id");
    char id_json[512], request_id_json[512], body[1200];
    snprintf(body, sizeof(body), "{\"id\":%s,\"request_id\":%s,\"slept_ms\":%" PRIu64 "}",
             json_string(id_json, sizeof(id_json), id ? id : ""),
             json_string(request_id_json, sizeof(request_id_json), sluice_request_id(request)), waited_ms);
    respond_json(request, body);
}

static const char bad_ms[] = "ms must be a whole number of milliseconds, 0...3600000";

/* Answers through answer after the ms query parameter's milliseconds, holding no thread. */
static void answer_later(sluice_request *request, int gate_occupancy, delay_answer_fn answer) {
    long long ms = milliseconds(request);
    if (ms < 0) {
        sluice_respond_error(request, 400, bad_ms);
    } else if (delay_schedule(request, (uint64_t)ms, gate_occupancy, answer) != 0) {
        sluice_respond_error(request, 500, "out of memory");
    }
}

/* The work takes ms in the simulated dependency (which may make it wait for a slot first). */
static void work(sluice_request *request, void *user_data) {
    (void)user_data;
    long long ms = milliseconds(request);
    if (ms < 0) {
        sluice_respond_error(request, 400, bad_ms);
    } else if (dependency_call(request, (uint64_t)ms) != 0) {
        sluice_respond_error(request, 500, "out of memory");
    }
}

static void health(sluice_request *request, void *user_data) {
    (void)user_data;
    respond_json(request, "{\"status\":\"ok\"}");
}

/* The demo's priority classes: X-Priority: low|high picks one (never critical, which only
 * /health has, from its route). */
static int classify(const sluice_request *request, void *user_data) {
    (void)user_data;
    const char *priority = sluice_request_header(request, "X-Priority");
    if (priority != NULL && strcmp(priority, "low") == 0) return SLUICE_PRIORITY_LOW;
    if (priority != NULL && strcmp(priority, "high") == 0) return SLUICE_PRIORITY_HIGH;
    return SLUICE_PRIORITY_DEFAULT;
}

static void answer_gated(sluice_request *request, uint64_t waited_ms, int gate_occupancy) {
    (void)waited_ms;
    char body[64];
    snprintf(body, sizeof(body), "{\"in_flight\":%d}", gate_occupancy);
    if (sluice_request_is_cancelled(request)) {
        sluice_respond(request, 503, NULL, 0, NULL, 0);
        return;
    }
    respond_json(request, body);
}

static void gated(sluice_request *request, void *user_data) {
    (void)user_data;
    answer_later(request, sluice_request_gate_occupancy(request), answer_gated);
}

static void counter_increment(sluice_request *request, void *user_data) {
    (void)user_data;
    int64_t value = 0;
    sluice_counter_add(&value, sluice_request_server(request), "counter", 1);
    char body[64];
    snprintf(body, sizeof(body), "{\"value\":%" PRId64 "}", value);
    respond_json(request, body);
}

static void counter(sluice_request *request, void *user_data) {
    (void)user_data;
    int64_t value = 0;
    sluice_counter_get(&value, sluice_request_server(request), "counter");
    char body[64];
    snprintf(body, sizeof(body), "{\"value\":%" PRId64 "}", value);
    respond_json(request, body);
}

static void fail(sluice_request *request, void *user_data) {
    (void)user_data;
    sluice_respond_error(request, 500, "internal server error");
}

static void stats(sluice_request *request, void *user_data) {
    (void)user_data;
    sluice_server *server = sluice_request_server(request);
    sluice_stats s = {.size = sizeof(sluice_stats)};
    sluice_gate_stats g = {.size = sizeof(sluice_gate_stats)};
    if (sluice_server_stats(&s, server) != 0 || sluice_server_gate_stats(&g, server, "gated") != 0) {
        sluice_respond_error(request, 500, "no stats");
        return;
    }
    const int adaptive = *(const int *)user_data;
    char adaptive_json[256] = "null";
    if (adaptive) {
        snprintf(adaptive_json, sizeof(adaptive_json),
                 "{\"baseline_ms\":%.3f,\"latency_ms\":%.3f,\"increases\":%" PRIu64 ",\"decreases\":%" PRIu64 "}",
                 (double)s.baseline_latency_us / 1000, (double)s.latency_us / 1000, s.limit_increases, s.limit_decreases);
    }
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"in_flight\":%" PRIu64 ",\"max_in_flight\":%" PRIu64 ",\"queued\":%" PRIu64 ",\"completed\":%" PRIu64
             ",\"rejected\":%" PRIu64 ",\"timed_out\":%" PRIu64 ",\"cancelled\":%" PRIu64 ",\"errors\":%" PRIu64
             ",\"gates\":{\"gated\":{\"limit\":%" PRIu64 ",\"in_flight\":%" PRIu64 ",\"max_in_flight\":%" PRIu64 "}}"
             ",\"limit\":%" PRIu64 ",\"adaptive\":%s,\"shed\":{\"low\":%" PRIu64 ",\"normal\":%" PRIu64
             ",\"high\":%" PRIu64 ",\"critical\":%" PRIu64 "}}",
             s.in_flight, s.max_in_flight, s.queued, s.completed, s.rejected, s.timed_out, s.cancelled, s.errors,
             g.limit, g.in_flight, g.max_in_flight, s.limit, adaptive_json, s.shed[SLUICE_PRIORITY_LOW],
             s.shed[SLUICE_PRIORITY_NORMAL], s.shed[SLUICE_PRIORITY_HIGH], s.shed[SLUICE_PRIORITY_CRITICAL]);
    respond_json(request, body);
}

/* The access log line, as the Swift demo's swift-log handler writes it, through the library's
 * writer (dropped rather than block when stderr is a full pipe). */
static void access_log(const sluice_request *request, int status, size_t body_bytes, uint64_t duration_us,
                       void *user_data) {
    (void)user_data;
    char status_text[16];
    if (status == 0) snprintf(status_text, sizeof(status_text), "cancelled");
    else snprintf(status_text, sizeof(status_text), "%d", status);
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s %s %s bytes=%zu duration_ms=%.3f request_id=%s",
                     sluice_request_method(request), sluice_request_path(request), status_text, body_bytes,
                     (double)duration_us / 1000, sluice_request_id(request));
    if (n > 0) sluice_log(SLUICE_LOG_INFO, "sluice-access", line);
}

int routes_add(sluice_server *server, const routes_settings *settings) {
    dependency_init(settings->work_capacity, answer_work);
    sluice_route_options gate = SLUICE_ROUTE_OPTIONS_INIT;
    gate.gate_limit = settings->gate_limit;
    gate.gate_name = "gated";
    sluice_route_options monitoring = SLUICE_ROUTE_OPTIONS_INIT;
    monitoring.monitoring = 1;
    sluice_route_options fast = SLUICE_ROUTE_OPTIONS_INIT;
    fast.share_percent = settings->fast_share_percent;
    fast.share_name = "fast";
    sluice_route_options critical = SLUICE_ROUTE_OPTIONS_INIT;
    critical.priority = SLUICE_PRIORITY_CRITICAL;
    sluice_route_options heavy = SLUICE_ROUTE_OPTIONS_INIT;
    heavy.weight = settings->work_weight;
    int rc = sluice_server_set_classifier(server, classify, NULL);
    if (!rc && settings->access_log) rc = sluice_server_set_hooks(server, NULL, access_log, NULL);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/hello", hello, NULL, &fast);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/json", json, NULL, &fast);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/health", health, NULL, &critical);
    if (!rc) rc = sluice_server_add_route(server, "POST", "/echo", echo, NULL, NULL);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/work", work, NULL, &heavy);
    if (!rc) rc = sluice_server_add_route(server, "POST", "/counter/increment", counter_increment, NULL, NULL);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/counter", counter, NULL, NULL);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/fail", fail, NULL, NULL);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/gated", gated, NULL, &gate);
    if (!rc) rc = sluice_server_add_route(server, "GET", "/stats", stats, (void *)&settings->adaptive, &monitoring);
    if (!rc) rc = streaming_routes_add(server, &settings->upload_limit_bytes);
    return rc;
}
