/* Streaming from C: a body read as it arrives (Content-Length and chunked, 100-continue, a
 * per-route limit broken mid-stream), and answers written as they go (chunked with trailers,
 * Content-Length, short, aborted), the misuse the header refuses, a slow reader that blocks
 * the writer, and a client that leaves and makes the next write fail. Runs under ASan. */
#define _DEFAULT_SOURCE
#include "test_support.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LIMIT 100000
#define BIG_CHUNK 65536
#define BIG_CHUNKS 1024 /* 64 MiB */

static atomic_int body_errors = 0;
static atomic_int loop_write_refused = 0;
static atomic_int misuse_checked = 0;
static atomic_long big_written = 0;
static atomic_int big_cancelled = 0;

/* Reads the body a few bytes at a time; answers "<count> <sum of bytes>". */
static void sum(sluice_request *request, void *user_data) {
    (void)user_data;
    unsigned char buffer[1000];
    long long count = 0, total = 0;
    int64_t n;
    while ((n = sluice_request_body_read(request, buffer, sizeof(buffer))) > 0) {
        for (int64_t i = 0; i < n; i++) total += buffer[i];
        count += n;
    }
    if (n < 0) {
        if (n == SLUICE_EBODY) atomic_fetch_add(&body_errors, 1);
        sluice_respond_error(request, 413, "broke off");
        return;
    }
    char text[64];
    int len = snprintf(text, sizeof(text), "%lld %lld", count, total);
    CHECK_RC(sluice_respond(request, 200, NULL, 0, text, (size_t)len), SLUICE_OK);
}

static void chunks(sluice_request *request, void *user_data) {
    (void)user_data;
    CHECK_RC(sluice_response_write(request, "x", 1), SLUICE_ESTATE); /* before start */
    CHECK_RC(sluice_response_finish(request, NULL, 0), SLUICE_ESTATE);
    CHECK_RC(sluice_response_start(request, 200, NULL, 0, -1), SLUICE_OK);
    CHECK_RC(sluice_response_start(request, 200, NULL, 0, -1), SLUICE_ESTATE);
    CHECK_RC(sluice_respond(request, 200, NULL, 0, "no", 2), SLUICE_ESTATE);
    CHECK_RC(sluice_response_write(request, "alpha,", 6), SLUICE_OK);
    CHECK_RC(sluice_response_write(request, NULL, 0), SLUICE_OK);
    CHECK_RC(sluice_response_write(request, "beta", 4), SLUICE_OK);
    sluice_header bad[] = {{"Bad Name", "x"}};
    CHECK_RC(sluice_response_finish(request, bad, 1), SLUICE_EINVAL);
    /* Counted before the last call: once finish has sent the end, the client may look
     * before this thread runs again. finish's own result shows in the response's trailer. */
    atomic_fetch_add(&misuse_checked, 1);
    sluice_header trailers[] = {{"X-Done", "yes"}};
    CHECK_RC(sluice_response_finish(request, trailers, 1), SLUICE_OK);
}

static void fixed(sluice_request *request, void *user_data) {
    (void)user_data;
    CHECK_RC(sluice_response_start(request, 200, NULL, 0, 10), SLUICE_OK);
    CHECK_RC(sluice_response_write(request, "01234", 5), SLUICE_OK);
    CHECK_RC(sluice_response_write(request, "56789", 5), SLUICE_OK);
    CHECK_RC(sluice_response_finish(request, NULL, 0), SLUICE_OK);
}

static void short_body(sluice_request *request, void *user_data) {
    (void)user_data;
    CHECK_RC(sluice_response_start(request, 200, NULL, 0, 10), SLUICE_OK);
    CHECK_RC(sluice_response_write(request, "01234", 5), SLUICE_OK);
    CHECK_RC(sluice_response_finish(request, NULL, 0), SLUICE_OK);
}

static void aborted(sluice_request *request, void *user_data) {
    (void)user_data;
    CHECK_RC(sluice_response_start(request, 200, NULL, 0, -1), SLUICE_OK);
    CHECK_RC(sluice_response_write(request, "partial", 7), SLUICE_OK);
    CHECK_RC(sluice_response_abort(request), SLUICE_OK);
    CHECK_RC(sluice_response_abort(request), SLUICE_ESTATE);
}

/* Not blocking: it runs on a loop thread, where the blocking calls are refused. */
static void on_loop(sluice_request *request, void *user_data) {
    (void)user_data;
    char buffer[8];
    CHECK(sluice_request_body_read(request, buffer, sizeof(buffer)) == SLUICE_ESTATE);
    CHECK_RC(sluice_response_start(request, 200, NULL, 0, 2), SLUICE_OK);
    if (sluice_response_write(request, "ok", 2) == SLUICE_ESTATE) atomic_fetch_add(&loop_write_refused, 1);
    CHECK_RC(sluice_response_finish(request, NULL, 0), SLUICE_OK);
}

static void big(sluice_request *request, void *user_data) {
    (void)user_data;
    static char chunk[BIG_CHUNK];
    memset(chunk, 'b', sizeof(chunk));
    CHECK_RC(sluice_response_start(request, 200, NULL, 0, (int64_t)BIG_CHUNK * BIG_CHUNKS), SLUICE_OK);
    int rc = SLUICE_OK;
    for (int i = 0; i < BIG_CHUNKS && rc == SLUICE_OK; i++) {
        rc = sluice_response_write(request, chunk, sizeof(chunk));
        if (rc == SLUICE_OK) atomic_fetch_add(&big_written, BIG_CHUNK);
    }
    if (rc == SLUICE_ECANCELED) atomic_fetch_add(&big_cancelled, 1);
    if (rc == SLUICE_OK) sluice_response_finish(request, NULL, 0);
    else sluice_response_abort(request);
}

static void routes(sluice_server *server) {
    sluice_route_options streams = SLUICE_ROUTE_OPTIONS_INIT;
    streams.stream_body = 1;
    streams.max_body_bytes = LIMIT;
    sluice_route_options blocking = SLUICE_ROUTE_OPTIONS_INIT;
    blocking.blocking = 1;
    CHECK_RC(sluice_server_add_route(server, "POST", "/sum", sum, NULL, &streams), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/chunks", chunks, NULL, &blocking), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/fixed", fixed, NULL, &blocking), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/short", short_body, NULL, &blocking), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/abort", aborted, NULL, &blocking), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "POST", "/loop", on_loop, NULL, NULL), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/big", big, NULL, &blocking), SLUICE_OK);
}

static int connect_to(int port) {
    int fd = http_connect(port, 16384);
    CHECK(fd >= 0);
    return fd;
}

static void send_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) return; /* the server may close first (413) */
        p += n;
        len -= (size_t)n;
    }
}

static void sleep_ms(long ms) {
    struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

static char response[1 << 16];

static void test_bodies(int port) {
    /* Content-Length: 50000 bytes of 3. */
    static char body[50000];
    memset(body, 3, sizeof(body));
    char head[256];
    int fd = connect_to(port);
    int len = snprintf(head, sizeof(head), "POST /sum HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                       sizeof(body));
    send_all(fd, head, (size_t)len);
    send_all(fd, body, sizeof(body));
    size_t got = 0;
    ssize_t r;
    while ((r = recv(fd, response + got, sizeof(response) - 1 - got, 0)) > 0) got += (size_t)r;
    response[got] = '\0';
    close(fd);
    CHECK(strstr(response, "HTTP/1.1 200") == response);
    CHECK(strstr(response, "\r\n\r\n50000 150000") != NULL);

    /* Chunked, and 100-continue answered at the first read. */
    CHECK(http_exchange(port,
                        "POST /sum HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\n\x01\x01\x01\r\n2\r\n\x02\x02\r\n0\r\n\r\n",
                        response, sizeof(response)) == 200);
    CHECK(strstr(response, "\r\n\r\n5 7") != NULL);
    fd = connect_to(port);
    const char *expect = "POST /sum HTTP/1.1\r\nHost: t\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    send_all(fd, expect, strlen(expect));
    r = recv(fd, response, sizeof(response) - 1, 0);
    CHECK(r > 0);
    response[r] = '\0';
    CHECK(strncmp(response, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    send_all(fd, "\x05\x05", 2);
    got = 0;
    while ((r = recv(fd, response + got, sizeof(response) - 1 - got, 0)) > 0) got += (size_t)r;
    response[got] = '\0';
    close(fd);
    CHECK(strstr(response, "\r\n\r\n2 10") != NULL);

    /* Over the route's limit mid-stream: 413, and the handler's read says SLUICE_EBODY. */
    fd = connect_to(port);
    const char *chunked = "POST /sum HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_all(fd, chunked, strlen(chunked));
    static char piece[20000 + 16];
    for (int i = 0; i < 8; i++) {
        int n = snprintf(piece, sizeof(piece), "%x\r\n", 20000);
        memset(piece + n, 1, 20000);
        memcpy(piece + n + 20000, "\r\n", 2);
        send_all(fd, piece, (size_t)n + 20002);
    }
    got = 0;
    while ((r = recv(fd, response + got, sizeof(response) - 1 - got, 0)) > 0) got += (size_t)r;
    response[got] = '\0';
    close(fd);
    CHECK(strstr(response, "HTTP/1.1 413") == response);
    for (int i = 0; i < 200 && atomic_load(&body_errors) == 0; i++) sleep_ms(10);
    CHECK(atomic_load(&body_errors) == 1);
}

static void test_answers(int port) {
    CHECK(http_exchange(port, "GET /chunks HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", response, sizeof(response)) == 200);
    CHECK(strstr(response, "Transfer-Encoding: chunked\r\n") != NULL);
    CHECK(strstr(response, "\r\n\r\n6\r\nalpha,\r\n4\r\nbeta\r\n0\r\nX-Done: yes\r\n\r\n") != NULL);
    CHECK(atomic_load(&misuse_checked) == 1);

    CHECK(http_exchange(port, "GET /fixed HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", response, sizeof(response)) == 200);
    CHECK(strstr(response, "Content-Length: 10\r\n") != NULL);
    CHECK(strstr(response, "\r\n\r\n0123456789") != NULL);

    /* Shorter than declared: the connection closes after the 5 bytes (no keep-alive reuse). */
    CHECK(http_exchange(port, "GET /short HTTP/1.1\r\nHost: t\r\n\r\n", response, sizeof(response)) == 200);
    CHECK(strstr(response, "\r\n\r\n01234") != NULL);

    /* Aborted: no last chunk, the connection closes. */
    CHECK(http_exchange(port, "GET /abort HTTP/1.1\r\nHost: t\r\n\r\n", response, sizeof(response)) == 200);
    CHECK(strstr(response, "7\r\npartial\r\n") != NULL);
    CHECK(strstr(response, "0\r\n\r\n") == NULL);

    CHECK(http_exchange(port, "POST /loop HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", response,
                        sizeof(response)) == 200);
    CHECK(atomic_load(&loop_write_refused) == 1);
}

static void test_slow_reader_and_departure(int port) {
    int fd = connect_to(port);
    const char *get = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, get, strlen(get));
    char buffer[65536];
    CHECK(recv(fd, buffer, sizeof(buffer), 0) > 0);
    /* The client stalls: the writer must block near the connection's bound, far below 64 MiB. */
    long seen = -1;
    for (int i = 0; i < 100; i++) {
        sleep_ms(20);
        long now = atomic_load(&big_written);
        if (now == seen) break;
        seen = now;
    }
    CHECK(atomic_load(&big_written) < 16L * 1024 * 1024);
    /* Reading resumes the writer; then the client leaves and the next write fails. */
    long received = 0;
    while (received < 8L * 1024 * 1024) {
        ssize_t r = recv(fd, buffer, sizeof(buffer), 0);
        CHECK(r > 0);
        received += r;
    }
    close(fd);
    for (int i = 0; i < 500 && atomic_load(&big_cancelled) == 0; i++) sleep_ms(10);
    CHECK(atomic_load(&big_cancelled) == 1);
    CHECK(atomic_load(&big_written) < (long)BIG_CHUNK * BIG_CHUNKS);
}

int main(void) {
    int port = 0;
    sluice_server *server = start_server(&port, NULL, routes);
    test_bodies(port);
    test_answers(port);
    test_slow_reader_and_departure(port);
    /* The departed /big handler has returned; its permit goes back just after. */
    sluice_stats stats = {.size = sizeof(stats)};
    for (int i = 0; i < 500; i++) {
        CHECK_RC(sluice_server_stats(&stats, server), SLUICE_OK);
        if (stats.in_flight == 0) break;
        sleep_ms(10);
    }
    CHECK(stats.in_flight == 0);
    CHECK_RC(sluice_server_stop(server), SLUICE_OK);
    sluice_server_destroy(server);
    puts("api_streaming: ok");
    return 0;
}
