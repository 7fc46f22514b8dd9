/*
 * loadgen: an open-loop HTTP/1.1 load generator for the overload harness.
 *
 * Requests leave on a fixed schedule whatever the server does: a slow server cannot slow
 * the offered load down (no coordinated omission). Each request goes out on an idle
 * keep-alive connection, or on a new one when none is idle; one request per connection at
 * a time. Every request is recorded: stream, send time, latency, status.
 *
 *   loadgen PORT SCHEDULE OUT [MAX_CONNECTIONS]
 *
 * SCHEDULE has one segment per line, "stream seconds rate target [x-priority]"; a stream's
 * segments follow each other from time 0. OUT receives "stream,sent_ms,latency_ms,status"
 * per request (status 0: connection failed or timed out; -1: no connection was free).
 * With the schedule "closed N seconds target" it runs N clients back to back instead.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <uv.h>

#define MAX_SEGMENTS 64
#define DRAIN_SECONDS 30

typedef struct segment {
    char stream[32];
    double seconds, rate;
    char request[512];
} segment;

typedef struct record {
    int stream; /* index of the stream's first segment */
    uint64_t sent_ns, done_ns;
    int status;
} record;

typedef struct connection {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    int busy;         /* index of the record in flight, or -1 */
    char head[8192];  /* the response head as it arrives */
    size_t head_len;
    long long body_left; /* -1 while the head is incomplete */
    int close_after;
    int closing;
    int served; /* responses completed on this connection */
} connection;

static uv_loop_t *loop;
static struct sockaddr_in server;
static segment segments[MAX_SEGMENTS];
static int segment_count;
static record *records;
static size_t record_count, record_capacity, outstanding;
static connection **idle;
static int idle_count, open_count, max_connections = 2000;
static uint64_t start_ns, end_ns;
static uv_timer_t ticker;
static int closed_clients; /* > 0: closed-loop mode */
static long retries;       /* requests re-sent after a reused connection closed under them */

static uint64_t now_ns(void) { return uv_hrtime(); }

static void send_on(connection *c, size_t index);
static void dispatch(size_t index);

static void finish(connection *c, int status) {
    record *r = &records[c->busy];
    r->done_ns = now_ns();
    r->status = status;
    c->busy = -1;
    outstanding--;
}

static void on_closed(uv_handle_t *handle) { free(handle->data); }

static void drop(connection *c) {
    if (c->closing) return;
    c->closing = 1;
    /* A keep-alive connection the server closed as idle just as the request went out: no
     * byte of an answer came, so the request was not processed; like any HTTP client
     * (RFC 9112 9.3.1), send it again on a fresh connection, keeping its original send time. */
    long retry = -1;
    if (c->busy >= 0 && c->served > 0 && c->head_len == 0) {
        retry = c->busy;
        c->busy = -1;
        outstanding--;
        retries++;
    } else if (c->busy >= 0) {
        finish(c, 0);
    }
    for (int i = 0; i < idle_count; i++) {
        if (idle[i] == c) idle[i] = idle[--idle_count];
    }
    open_count--;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    if (retry >= 0) dispatch((size_t)retry);
}

/* A response is complete: record it, then keep the connection for the next request. */
static void complete(connection *c) {
    int status = 0;
    sscanf(c->head, "HTTP/1.1 %d", &status);
    int stream = records[c->busy].stream;
    finish(c, status);
    c->served++;
    if (c->close_after) {
        drop(c);
    } else if (closed_clients > 0 && now_ns() < end_ns) {
        if (record_count < record_capacity) {
            records[record_count] = (record){stream, now_ns(), 0, 0};
            outstanding++;
            send_on(c, record_count++);
        }
    } else {
        idle[idle_count++] = c;
    }
}

static void parse_head(connection *c) {
    char *end = strstr(c->head, "\r\n\r\n");
    if (end == NULL) return;
    *end = '\0';
    size_t head_bytes = (size_t)(end - c->head) + 4;
    long long length = 0;
    c->close_after = 0;
    for (char *line = strstr(c->head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "content-length:", 15) == 0) length = atoll(line + 17);
        if (strncasecmp(line + 2, "connection: close", 17) == 0) c->close_after = 1;
    }
    c->body_left = length - (long long)(c->head_len - head_bytes);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)handle;
    static char scratch[65536];
    (void)suggested;
    *buf = uv_buf_init(scratch, sizeof(scratch));
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf) {
    connection *c = stream->data;
    if (n < 0) {
        drop(c);
        return;
    }
    size_t offset = 0;
    while (offset < (size_t)n && c->busy >= 0) {
        if (c->body_left < 0) {
            size_t room = sizeof(c->head) - 1 - c->head_len;
            size_t take = (size_t)n - offset < room ? (size_t)n - offset : room;
            memcpy(c->head + c->head_len, buf->base + offset, take);
            c->head_len += take;
            c->head[c->head_len] = '\0';
            offset += take;
            parse_head(c);
            if (c->body_left < 0 && c->head_len == sizeof(c->head) - 1) {
                drop(c); /* a head larger than any this harness expects */
                return;
            }
        } else {
            size_t take = (size_t)n - offset;
            if ((long long)take > c->body_left) take = (size_t)c->body_left;
            c->body_left -= (long long)take;
            offset += take;
        }
        if (c->body_left == 0) complete(c);
    }
}

static void on_written(uv_write_t *write, int status) {
    if (status < 0) drop(write->data);
}

static void send_on(connection *c, size_t index) {
    c->busy = (int)index;
    c->head_len = 0;
    c->body_left = -1;
    const char *request = segments[records[index].stream].request;
    uv_buf_t buf = uv_buf_init((char *)request, (unsigned)strlen(request));
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0) drop(c);
}

static void on_connected(uv_connect_t *connect, int status) {
    connection *c = connect->data;
    if (status < 0) {
        drop(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    send_on(c, (size_t)c->busy);
}

static void dispatch(size_t index) {
    outstanding++;
    if (idle_count > 0) {
        send_on(idle[--idle_count], index);
        return;
    }
    if (open_count >= max_connections) {
        records[index].status = -1;
        records[index].done_ns = records[index].sent_ns;
        outstanding--;
        return;
    }
    connection *c = calloc(1, sizeof(*c));
    uv_tcp_init(loop, &c->tcp);
    uv_tcp_nodelay(&c->tcp, 1);
    c->tcp.data = c;
    c->connect.data = c;
    c->busy = (int)index;
    open_count++;
    if (uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&server, on_connected) != 0) drop(c);
}

/* Per stream: the next due time, and where in its segments it is. */
static uint64_t due_ns[MAX_SEGMENTS];

static void on_tick(uv_timer_t *timer) {
    uint64_t now = now_ns();
    int active = 0;
    for (int s = 0; s < segment_count; s++) {
        /* Segment s is active from the end of its stream's previous segments. */
        double begin = 0;
        for (int p = 0; p < s; p++) {
            if (strcmp(segments[p].stream, segments[s].stream) == 0) begin += segments[p].seconds;
        }
        uint64_t from = start_ns + (uint64_t)(begin * 1e9), until = from + (uint64_t)(segments[s].seconds * 1e9);
        if (now >= until) continue;
        active = 1;
        if (now < from) continue;
        if (due_ns[s] == 0) due_ns[s] = from;
        while (due_ns[s] <= now && due_ns[s] < until && record_count < record_capacity) {
            records[record_count] = (record){s, due_ns[s], 0, 0};
            dispatch(record_count++);
            due_ns[s] += (uint64_t)(1e9 / segments[s].rate);
        }
    }
    if (!active && (outstanding == 0 || now > end_ns + (uint64_t)DRAIN_SECONDS * 1000000000u)) {
        uv_timer_stop(timer);
        uv_stop(loop);
    }
}

static void on_closed_tick(uv_timer_t *timer) {
    if (now_ns() >= end_ns && (outstanding == 0 || now_ns() > end_ns + (uint64_t)DRAIN_SECONDS * 1000000000u)) {
        uv_timer_stop(timer);
        uv_stop(loop);
    }
}

static int read_schedule(const char *path) {
    FILE *file = fopen(path, "r");
    if (file == NULL) return -1;
    char line[1024];
    double total = 0, longest = 0;
    while (fgets(line, sizeof(line), file) && segment_count < MAX_SEGMENTS) {
        segment *s = &segments[segment_count];
        char target[400] = "", priority[32] = "";
        int fields = sscanf(line, "%31s %lf %lf %399s %31s", s->stream, &s->seconds, &s->rate, target, priority);
        if (fields < 4) continue;
        if (strcmp(s->stream, "closed") == 0) {
            closed_clients = (int)s->seconds;
            s->seconds = s->rate;
        }
        snprintf(s->request, sizeof(s->request), "GET %s HTTP/1.1\r\nHost: loadgen\r\n%s%s%s\r\n", target,
                 fields == 5 ? "X-Priority: " : "", fields == 5 ? priority : "", fields == 5 ? "\r\n" : "");
        total += closed_clients > 0 ? 0 : s->seconds * s->rate;
        double begin = 0;
        for (int p = 0; p < segment_count; p++) {
            if (strcmp(segments[p].stream, s->stream) == 0) begin += segments[p].seconds;
        }
        if (begin + s->seconds > longest) longest = begin + s->seconds;
        segment_count++;
    }
    fclose(file);
    record_capacity = closed_clients > 0 ? 10000000 : (size_t)(total * 1.01) + 1000;
    end_ns = (uint64_t)(longest * 1e9);
    return segment_count > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: loadgen PORT SCHEDULE OUT [MAX_CONNECTIONS]\n");
        return 2;
    }
    if (argc > 4) max_connections = atoi(argv[4]);
    if (read_schedule(argv[2]) != 0) {
        fprintf(stderr, "loadgen: cannot read a schedule from %s\n", argv[2]);
        return 2;
    }
    struct rlimit descriptors;
    if (getrlimit(RLIMIT_NOFILE, &descriptors) == 0) {
        descriptors.rlim_cur = descriptors.rlim_max;
        setrlimit(RLIMIT_NOFILE, &descriptors);
    }
    records = calloc(record_capacity, sizeof(record));
    idle = calloc((size_t)max_connections, sizeof(connection *));
    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &server);
    start_ns = now_ns();
    end_ns += start_ns;
    uv_timer_init(loop, &ticker);
    if (closed_clients > 0) {
        for (int i = 0; i < closed_clients; i++) {
            records[record_count] = (record){0, now_ns(), 0, 0};
            dispatch(record_count++);
        }
        uv_timer_start(&ticker, on_closed_tick, 10, 10);
    } else {
        uv_timer_start(&ticker, on_tick, 0, 1);
    }
    uv_run(loop, UV_RUN_DEFAULT);

    FILE *out = fopen(argv[3], "w");
    if (out == NULL) return 1;
    fprintf(out, "stream,sent_ms,latency_ms,status\n");
    for (size_t i = 0; i < record_count; i++) {
        const record *r = &records[i];
        double latency = r->done_ns ? (double)(r->done_ns - r->sent_ns) / 1e6 : -1;
        fprintf(out, "%s,%.3f,%.3f,%d\n", segments[r->stream].stream, (double)(r->sent_ns - start_ns) / 1e6, latency,
                r->done_ns ? r->status : 0);
    }
    fclose(out);
    if (retries > 0) fprintf(stderr, "loadgen: %ld requests re-sent after an idle keep-alive connection closed\n", retries);
    return 0;
}
