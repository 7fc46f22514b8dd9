/*
 * libFuzzer harness for whole connections through the C shim: the input is sent over a real
 * loopback TCP connection to an in-process server, split into fuzzer-chosen pieces, then
 * the client either half-closes (and reads everything) or resets. Checked:
 *   - no memory error or undefined behaviour in the shim (ASan, UBSan);
 *   - after a half-close the server always ends the connection (no hang: a 5 s bound);
 *   - what the server sent is a sequence of complete, well-framed HTTP/1.1 responses;
 *   - the server keeps answering other connections.
 * A path starting "/s" streams its body (limit 4096, credit granted 100 bytes at a time) and
 * is answered by a streamed response once the body ends; so the streaming state machine
 * (credit, 100-continue, 413 and 400 mid-body, answers queued as messages) is fuzzed too.
 * A path starting "/j" is answered from a loop job, as the Swift engine answers: pipelined
 * answers then gather while the jobs run and leave when they are done.
 * Input: byte 0 = flags (bit 0: reset instead of half-close), byte 1 = split seed, rest = bytes.
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>

#include "sluice_io.h"

static sluice_io_server *server;
static int port;
static unsigned long inputs;

static void require(int ok) {
    if (!ok) abort();
}

/* A request whose body streams: everything happens on the loop thread. */
typedef struct streamed {
    sluice_io_request *request;
    size_t bytes;
    int answered;
} streamed;

static uint64_t plan_body(void *context, int loop_index, const sluice_io_request_view *head, int *stream,
                          void **plan) {
    (void)context;
    (void)loop_index;
    (void)plan;
    *stream = head->path_len >= 2 && head->path[1] == 's';
    return 4096;
}

static void on_body(void *context, void *request_context, const uint8_t *data, size_t len, int status) {
    (void)context;
    (void)data;
    streamed *s = request_context;
    if (s->answered) return;
    if (status == SLUICE_IO_BODY_DATA) {
        s->bytes += len;
        require(sluice_io_request_read_body(s->request, len) == 0);
        return;
    }
    s->answered = 1;
    if (status < 0) {
        sluice_io_respond(s->request, -status, NULL, 0, NULL, 0, SLUICE_IO_RESPOND_CLOSE);
        return;
    }
    char text[32];
    int n = snprintf(text, sizeof(text), "streamed %zu", s->bytes);
    require(sluice_io_response_start(s->request, 200, NULL, 0, n, 0) == 0);
    require(sluice_io_response_write(s->request, text, (size_t)n) == 0);
    require(sluice_io_response_end(s->request, NULL, 0, 0) == 0);
}

static void on_aborted(void *context, void *request_context) {
    (void)context;
    streamed *s = request_context;
    if (s == NULL || s->answered) return;
    s->answered = 1;
    sluice_io_respond(s->request, 0, NULL, 0, NULL, 0, SLUICE_IO_RESPOND_DROP);
}

static void release(void *context, void *request_context) {
    (void)context;
    free(request_context);
}

/* An answer given later, from the loop's job queue. */
typedef struct deferred {
    sluice_io_request *request;
    size_t len;
    char body[64];
} deferred;

static void run_job(void *executor_context, void *job) {
    (void)executor_context;
    deferred *d = job;
    sluice_io_respond(d->request, 200, NULL, 0, d->body, d->len, 0); /* after an abort too: every request is answered */
    free(d);
}

static void on_request(void *context, int loop_index, sluice_io_request *request, const sluice_io_request_view *view) {
    (void)context;
    if (view->path_len >= 2 && view->path[1] == 'j' && !view->body_streamed) {
        deferred *d = calloc(1, sizeof(*d));
        require(d != NULL);
        d->request = request;
        d->len = (size_t)snprintf(d->body, sizeof(d->body), "job %zu", view->body_len);
        sluice_io_loop_enqueue_job(sluice_io_server_loop(server, loop_index), d);
        return;
    }
    if (view->body_streamed) {
        streamed *s = calloc(1, sizeof(*s));
        require(s != NULL);
        s->request = request;
        sluice_io_request_set_context(request, s);
        require(sluice_io_request_read_body(request, 100) == 0);
        return;
    }
    static const char headers[] = "Content-Type: text/plain\r\n";
    /* Answer inline with the path (and the body length), exercising re-entry into the connection. */
    char body[64];
    int n = snprintf(body, sizeof(body), "%.*s %zu", (int)(view->path_len > 40 ? 40 : view->path_len), view->path,
                     view->body_len);
    sluice_io_respond(request, 200, headers, sizeof(headers) - 1, body, (size_t)n, 0);
}

static void ignore_context(void *context, void *request_context) {
    (void)context;
    (void)request_context;
}

static void ignore_loop(void *context, int loop_index) {
    (void)context;
    (void)loop_index;
}

/* Echoes whatever the client sent as its id, unchecked, so that the shim's own check of the
 * bytes it puts in a head is fuzzed too; a fixed id otherwise. */
static size_t refusal_id(void *context, const char *client_id, size_t client_id_len, char *out, size_t cap) {
    (void)context;
    if (client_id != NULL && client_id_len <= cap) {
        memcpy(out, client_id, client_id_len);
        return client_id_len;
    }
    static const char fixed[] = "fuzz-1";
    memcpy(out, fixed, sizeof(fixed) - 1);
    return sizeof(fixed) - 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    sluice_io_options options = {"127.0.0.1", 0, 1, 256, 1024, 32, 4096, 2000, 2000, 64, 64 * 1024};
    sluice_io_callbacks callbacks = {NULL, on_request, on_aborted, release, ignore_context, ignore_loop, run_job,
                                     plan_body, on_body, NULL, refusal_id};
    require(sluice_io_server_create(&server, &options, &callbacks) == 0);
    require(sluice_io_server_start(server) == 0);
    port = sluice_io_server_port(server);
    return 0;
}

static int connect_client(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    require(fd >= 0);
    struct timeval timeout = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    require(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    return fd;
}

/* Checks that out[0, n) is complete responses back to back; returns how many. */
static int check_responses(const char *out, size_t n) {
    int count = 0;
    size_t pos = 0;
    while (pos < n) {
        require(n - pos >= 12 && memcmp(out + pos, "HTTP/1.1 ", 9) == 0);
        const char *end = memmem(out + pos, n - pos, "\r\n\r\n", 4);
        require(end != NULL);
        size_t head_end = (size_t)(end - out) + 4;
        const char *length = memmem(out + pos, head_end - pos, "Content-Length: ", 16);
        size_t body = length ? strtoul(length + 16, NULL, 10) : 0;
        int status = atoi(out + pos + 9);
        if (status == 100) body = 0;
        require(head_end + body <= n);
        pos = head_end + body;
        count++;
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int reset = data[0] & 1;
    uint32_t seed = data[1] * 2654435761u + 1;
    const uint8_t *bytes = data + 2;
    size_t len = size - 2;
    int fd = connect_client();
    size_t sent = 0;
    while (sent < len) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % 64;
        if (piece > len - sent) piece = len - sent;
        if (send(fd, bytes + sent, piece, MSG_NOSIGNAL) < 0) break; /* the server may close early */
        sent += piece;
    }
    if (reset) {
        struct linger linger = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
        close(fd);
    } else {
        shutdown(fd, SHUT_WR);
        static char out[1 << 20];
        size_t got = 0;
        ssize_t r;
        while (got < sizeof(out) && (r = recv(fd, out + got, sizeof(out) - got, 0)) > 0) got += (size_t)r;
        require(r == 0 || (r < 0 && errno == ECONNRESET) || got == sizeof(out)); /* ended, not timed out */
        /* A response to HEAD has Content-Length but no body: framing cannot be checked then. */
        if (memmem(bytes, len, "HEAD", 4) == NULL) check_responses(out, got);
        close(fd);
    }
    if (++inputs % 64 == 0) {
        /* The server still answers a fresh, well-formed request. */
        int probe = connect_client();
        static const char request[] = "GET /probe HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        require(send(probe, request, sizeof(request) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(request) - 1));
        char answer[512];
        ssize_t r = recv(probe, answer, sizeof(answer), 0);
        require(r > 12 && memcmp(answer, "HTTP/1.1 200 ", 13) == 0);
        close(probe);
    }
    return 0;
}
