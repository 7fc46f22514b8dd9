/*
 * Internal structures of the I/O shim, shared by its files. Each struct is
 * owned by one loop thread unless a field says otherwise.
 */
#ifndef SLUICE_IO_INTERNAL_H
#define SLUICE_IO_INTERNAL_H

#include "sluice_io.h"
#include "sluice_http_parser.h"

#include <stdatomic.h>
#include <string.h>
#include <uv.h>

typedef struct sluice_io_conn sluice_io_conn;

/* Read buffers: each connection starts with this many bytes, grown as a request needs. Room
 * for a head and a 4 KiB body in one read: with 4 KiB, such a request took two reads and a
 * buffer grown (and freed) each time. Idle connections hold none (spares below). */
#define SLUICE_IO_INITIAL_BUFFER 8192
/* Room on the stack for the head of an answer given on its loop: one that fits is written
 * from there (and the body from the caller's memory), with no allocation or copy unless the
 * socket takes less than all of it. */
#define SLUICE_IO_STACK_HEAD_BYTES 2048
/* A loop's own read buffer: a connection that holds no buffer reads into it, and takes one of its
 * own only if bytes arrive. A poll that sees 1,000 connections end would otherwise take (and
 * touch) a fresh buffer for each EOF: 4 MiB more resident memory for a moment. */
#define SLUICE_IO_LOOP_READ_BYTES 65536
/* Spare initial-size buffers a loop keeps for its connections (the rest are freed). */
#define SLUICE_IO_SPARE_BUFFERS 16
/* Answered requests' records a loop keeps for the next ones: at most one per connection is
 * outstanding, so a loop serving up to this many clients at once allocates none per request
 * (a calloc and a free were 1.3% of a small request's CPU). None under AddressSanitizer,
 * which then still sees any use of a record after its answer. */
#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_IO_SPARE_REQUESTS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLUICE_IO_SPARE_REQUESTS 0
#endif
#endif
#ifndef SLUICE_IO_SPARE_REQUESTS
#define SLUICE_IO_SPARE_REQUESTS 256
#endif
/* Requests a loop hands over while reading before it runs their tasks, rather than after all
 * of the poll's reads: with 1,000 ready connections, the first ones read are answered while
 * the rest are read, not after (the tail latency then follows one batch, not the whole poll). */
#define SLUICE_IO_RUN_JOBS_EVERY 64

/* Answers to pipelined requests (another request of the connection already read), given while
 * the loop processes that connection or runs its jobs, gather up to this many bytes and leave in
 * one write when that is done: sixteen small answers cost one send(2) instead of sixteen. */
#define SLUICE_IO_CORK_BYTES 16384

/* The longest X-Request-ID a refusal carries (the engine echoes client ids up to 200 bytes). */
#define SLUICE_IO_REFUSAL_ID_MAX 256

/* A growable ring of pointers; FIFO. */
typedef struct sluice_io_ring {
    void **items;
    size_t head;
    size_t count;
    size_t capacity;
} sluice_io_ring;

int sluice__ring_push(sluice_io_ring *ring, void *item);
void *sluice__ring_pop(sluice_io_ring *ring);
void sluice__ring_free(sluice_io_ring *ring);

struct sluice_io_loop {
    uv_loop_t uv;
    uv_async_t wakeup;  /* cross-thread: jobs, responses, stop requests */
    uv_idle_t idle;     /* keeps poll from blocking while local jobs wait */
    uv_check_t check;   /* runs local jobs queued by I/O callbacks in the same iteration */
    uv_tcp_t listener;
    int listening;
    uv_thread_t thread;
    int index;
    int ready;          /* uv loop, lock and handles initialised */
    sluice_io_server *server;
    void *executor_context;
    sluice_io_field *scratch_fields; /* for parsing; loop thread only */
    sluice_http_field *parse_fields;
    sluice_io_ring jobs;       /* loop thread only */
    unsigned dispatched_unrun; /* requests handed over since the jobs last ran; loop thread only */
    int running_jobs;          /* inside run_local_jobs; loop thread only */
    uv_mutex_t remote_lock;    /* guards the three fields below */
    sluice_io_ring remote_jobs;
    sluice_io_request *remote_responses_head;
    sluice_io_request *remote_responses_tail;
    struct sluice_io_output *messages_head; /* streaming calls, in call order */
    struct sluice_io_output *messages_tail;
    atomic_int messages_pending;            /* the list is not empty: spares the lock when it is */
    atomic_int stop_accepting_requested;
    atomic_int shutdown_requested;
    int draining;              /* loop thread only */
    int drained_notified;
    int shutting_down;
    sluice_io_conn *conns;     /* open connections, a doubly linked list */
    sluice_io_conn *corked;    /* connections holding answers gathered while the jobs run, sent
                                  when the jobs are done; loop thread only */
    /* Read buffers of the initial size that idle connections gave back, for the next reader;
     * loop thread only. An idle keep-alive connection then holds no buffer at all. */
    char *spare_buffers[SLUICE_IO_SPARE_BUFFERS];
    int spare_count;
    /* Records of answered requests, linked through `next`; loop thread only. */
    sluice_io_request *spare_requests;
    int spare_request_count;
    char *read_buffer;         /* SLUICE_IO_LOOP_READ_BYTES; loop thread only, between an
                                  on_alloc and its on_read */
};

struct sluice_io_server {
    sluice_io_options options;
    sluice_http_limits limits;
    sluice_io_callbacks callbacks;
    char *host;
    int port;
    int loop_count;
    sluice_io_loop *loops;
    int started;
    int shut_down;
    atomic_uint_fast64_t connections_open;
    atomic_uint_fast64_t connections_accepted;
    atomic_uint_fast64_t connections_rejected;
    atomic_uint_fast64_t requests_parsed;
    atomic_uint_fast64_t requests_refused;
    atomic_uint_fast64_t timeouts;
};

typedef enum conn_state {
    CONN_HEAD,          /* waiting for (more of) a request head */
    CONN_BODY_LENGTH,   /* reading a Content-Length body */
    CONN_BODY_CHUNKED,  /* reading a chunked body */
    CONN_WAITING,       /* a request is with the engine */
    CONN_CLOSING        /* answer sent or failed: shut down, discard input, close */
} conn_state;

/* What a queued streaming call asks of the loop (sluice_io_output.kind). */
enum { SLUICE_MSG_NONE, SLUICE_MSG_READ_BODY, SLUICE_MSG_START, SLUICE_MSG_WRITE, SLUICE_MSG_END };

/*
 * Bytes on their way to the socket: the uv_write_t and the bytes in one block. A streaming
 * call travels to the loop in the same block (kind, request, next), so queuing a chunk costs
 * one allocation and the loop writes it where it lies.
 */
typedef struct sluice_io_output {
    uv_write_t write;
    sluice_io_conn *conn;
    struct sluice_io_output *next; /* in the loop's message list */
    sluice_io_request *request;    /* the streaming call's request */
    int kind;                      /* SLUICE_MSG_* */
    int flags;                     /* END: SLUICE_IO_RESPOND_* */
    uint64_t value;                /* READ_BODY: credit; WRITE: payload bytes, for on_response_written */
    uint64_t response_seq;         /* the response these bytes belong to (conn->response_seq) */
    size_t len;
    char data[];
} sluice_io_output;

/* How a streamed response's body is framed; chosen by the calling thread at start. */
enum { SLUICE_FRAMING_NONE, SLUICE_FRAMING_LENGTH, SLUICE_FRAMING_CHUNKED, SLUICE_FRAMING_CLOSE };

struct sluice_io_request {
    sluice_io_loop *loop;
    sluice_io_conn *conn;      /* NULL once the connection is gone; loop thread only */
    void *context;
    int is_head;
    int keep_alive;
    int http10;                /* the request was HTTP/1.0 */
    sluice_io_output *output;  /* set by respond, unless the answer is lent (below) */
    /* An answer given on the loop: its head on respond's stack and its body in the caller's
     * memory, both written by deliver during respond. */
    const char *lent_head;
    size_t lent_head_len;
    const void *lent_body;
    size_t lent_body_len;
    int close_after;
    int drop;                  /* close without answering: the client left */
    sluice_io_request *next;   /* in the loop's remote response list */
    /* A streamed response, written by the one caller of the streaming calls at a time. */
    int framing;               /* SLUICE_FRAMING_* */
    uint64_t body_left;        /* FRAMING_LENGTH: declared bytes not yet queued */
};

struct sluice_io_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_timer_t *body_timer;   /* a streamed body that stops arriving while the engine waits for
                                 it; made on a connection's first streamed body only */
    uv_shutdown_t shutdown;
    sluice_io_loop *loop;
    sluice_io_conn *prev, *next;
    conn_state state;
    char *buf;
    size_t len;
    size_t cap;
    size_t head_len;          /* bytes of the current head at buf[0] */
    size_t scanned;           /* bytes the head parser has seen without finding a line end */
    int head_parse_valid;     /* loop->parse_fields still describe buf[0, head_len) */
    sluice_http_request head;
    uint8_t *body;
    int body_in_buffer;       /* the whole body follows the head in buf: no copy into body */
    uint64_t body_len;
    uint64_t body_expected;
    sluice_http_chunked chunked;
    uint64_t body_limit;      /* of the current request, from plan_body */
    void *plan;               /* of the current request, from plan_body; handed back at dispatch */
    int body_streaming;       /* the current request's body goes to the engine in pieces */
    int body_done;            /* ... and all of it went */
    int body_failed;          /* ... and it broke off (413, 400): the connection closes */
    uint64_t body_credit;     /* streamed bytes the engine is ready for */
    int continue_pending;     /* Expect: 100-continue, not yet answered */
    uint64_t response_seq;    /* counts requests handed over, to tag streamed output */
    sluice_io_request *current;
    int reading;
    int timer_mode;
    uint64_t timer_due;       /* loop time when the timer's mode is due (set_timer) */
    uint64_t timer_armed_due; /* when the libuv timer fires; 0 when it is not armed */
    int closing;              /* uv_close called */
    int processing;           /* inside conn_process; guards re-entry */
    int more_input;           /* bytes of another request follow the one handed over */
    sluice_io_output *cork;   /* answers gathered for one write (SLUICE_IO_CORK_BYTES) */
    sluice_io_conn *next_corked; /* in loop->corked, while listed_corked */
    int listed_corked;
    int peer_eof;             /* the client sent FIN */
    int pending_closes;       /* handles still closing before the memory can go */
};

/* What a connection's timer is set for (conn->timer_mode). */
enum { CONN_TIMER_NONE, CONN_TIMER_HEADER, CONN_TIMER_IDLE, CONN_TIMER_LINGER, CONN_TIMER_REQUEST };
/* What a step of a connection's processing says: wait for input or an answer, or take the next step. */
enum { CONN_STEP_STOP, CONN_STEP_CONTINUE };

/* The connection's functions (io_connection.c, io_body.c, io_write.c) run on its loop's thread. */

/* io_connection.c: the connection's life, its reads and its heads. */
void sluice__conn_accept(sluice_io_loop *loop, uv_stream_t *listener);
void sluice__conn_close_idle(sluice_io_conn *conn);
/* Closes at once, answering nothing more; the engine is told of a request still out. */
void sluice__conn_abort(sluice_io_conn *conn);
/* Stops taking requests: the answers queued so far go out, then FIN, then input is drained and dropped. */
void sluice__conn_begin_closing(sluice_io_conn *conn);
/* Takes every step the buffered input allows; re-entry (an answer given inside a step) returns at once. */
void sluice__conn_process(sluice_io_conn *conn);
/* Reads while there is room and the output is below its bound; a closing connection reads to discard. */
void sluice__conn_update_reading(sluice_io_conn *conn);
/* Sets the connection's timer for a CONN_TIMER_* mode, with that mode's configured bound. */
void sluice__conn_arm_timer(sluice_io_conn *conn, int mode);
/* Refuses the request with a JSON error (echoing the client's id from head when safe) and closes after it. */
void sluice__conn_send_error(sluice_io_conn *conn, int status, const char *message, const sluice_http_request *head);
/* Hands the parsed request (and a body read whole) to the engine; the connection then waits for its answer. */
void sluice__conn_dispatch(sluice_io_conn *conn);
/* Keeps an answered request's record for the next request, or frees it. */
void sluice__request_recycle(sluice_io_loop *loop, sluice_io_request *request);
/* Frees a loop's spare read buffers and request records. */
void sluice__conn_free_spares(sluice_io_loop *loop);

/* Removes n bytes at offset from the read buffer. */
static inline void sluice__conn_consume(sluice_io_conn *conn, size_t offset, size_t n) {
    memmove(conn->buf + offset, conn->buf + offset + n, conn->len - offset - n);
    conn->len -= n;
}

/* Whether the connection's unsent output is above its high water mark. */
static inline int sluice__conn_write_queue_full(sluice_io_conn *conn) {
    return uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp) > conn->loop->server->options.write_high_water;
}

/* io_body.c: request bodies, read whole before dispatch or streamed to the engine after it. */
/* Starts reading a body whole (Content-Length or chunked); CONN_STEP_STOP if it refused the request. */
int sluice__conn_start_body(sluice_io_conn *conn);
/* Hands the request over now; its body follows as the engine grants credit. */
void sluice__conn_start_body_stream(sluice_io_conn *conn);
/* The steps of the CONN_BODY_LENGTH and CONN_BODY_CHUNKED states, and of a streamed body while waiting. */
int sluice__conn_step_body_length(sluice_io_conn *conn);
int sluice__conn_step_body_chunked(sluice_io_conn *conn);
int sluice__conn_step_body_stream(sluice_io_conn *conn);
/* The engine takes credit more bytes of the streamed body. */
void sluice__conn_grant_body(sluice_io_conn *conn, uint64_t credit);

/* io_write.c: answers on their way to the socket. */
/* Answers with the record respond filled in, then moves the connection to its next request or closes it. */
void sluice__conn_deliver(sluice_io_request *request);
/* Writes out (taking it), after any gathered answers; NULL (no memory) closes the connection. */
void sluice__conn_write(sluice_io_conn *conn, sluice_io_output *out);
/* Sends the answers gathered so far, if any. */
void sluice__conn_flush_cork(sluice_io_conn *conn);
/* Sends the answers gathered during a run of the loop's jobs. Loop thread, once no job is left. */
void sluice__conn_flush_corked(sluice_io_loop *loop);

/* io_stream.c */
/* Carries out the streaming calls queued so far, in order. Loop thread. */
void sluice__stream_run_messages(sluice_io_loop *loop);

/* io_response.c */
/* connection: 0 says nothing (HTTP/1.1 keep-alive), 1 "close", 2 "keep-alive" (for HTTP/1.0). */
enum { SLUICE_CONNECTION_DEFAULT = 0, SLUICE_CONNECTION_CLOSE = 1, SLUICE_CONNECTION_KEEP_ALIVE = 2 };
sluice_io_output *sluice__response_build(int status, int is_head, int connection, const char *headers,
                                         size_t headers_len, const void *body, size_t body_len);
/* A refusal: status, a JSON body {"error": message, "request_id": id} (the engine's error body;
 * no request_id when id_len is 0), and X-Request-ID unless id_len is 0. */
sluice_io_output *sluice__response_error(int status, const char *message, const char *id, size_t id_len);
sluice_io_output *sluice__response_raw(const char *bytes, size_t len);
/* RFC 9110 6.4.1 and 8.6: 1xx, 204 and 304 carry neither body nor Content-Length. */
static inline int sluice__status_is_bodiless(int status) { return status < 200 || status == 204 || status == 304; }
/* Room for len bytes, empty, with its message fields cleared. */
sluice_io_output *sluice__output_alloc(size_t len);
/*
 * Writes the head of a whole answer (as sluice__response_build lays it out) at dst and sets
 * *send_body to the bytes of the body that follow it (none for HEAD or a bodiless status);
 * returns the head's length, or 0 when it needs more than capacity bytes.
 */
size_t sluice__response_head_into(char *dst, size_t capacity, int status, int is_head, int connection,
                                  const char *headers, size_t headers_len, size_t body_len, size_t *send_body);
/* A head for a streamed answer: framing says which length field (if any) it carries. */
sluice_io_output *sluice__response_head(int status, int connection, int framing, uint64_t content_length,
                                        const char *headers, size_t headers_len);

/* io_loop.c */
extern _Thread_local sluice_io_loop *sluice__current_loop;
int sluice__loop_init(sluice_io_loop *loop, sluice_io_server *server, int index);
void sluice__loop_post_response(sluice_io_loop *loop, sluice_io_request *request);
void sluice__loop_wake(sluice_io_loop *loop);
/* Makes the loop look at its message list soon: at once from its own thread, else by a wake-up. */
void sluice__loop_kick(sluice_io_loop *loop);
void sluice__loop_check_drained(sluice_io_loop *loop);
/* Runs the loop's jobs now if many requests were handed over since they last ran. From a
 * read callback only (no job running, no connection mid-processing). */
void sluice__loop_run_jobs_if_many(sluice_io_loop *loop);
/* A uv_walk callback: closes every handle not already closing. */
void sluice__close_handle(uv_handle_t *handle, void *arg);

#endif
