/*
 * The I/O shim between libuv and the Swift engine. Internal to Sluice: the
 * public C API is Include/sluice.h. It owns everything that must run on an event
 * loop thread: accept, read, HTTP/1.1 framing, write queues, timers, the
 * cross-thread wake-up, and the job queue behind the Swift TaskExecutor of each
 * loop. Routing, gates, deadlines and policy live in Swift.
 *
 * Threads: sluice_io_server_* calls come from one controlling thread, except
 * where marked "any thread". Callbacks run on the loop thread they name.
 */
#ifndef SLUICE_IO_H
#define SLUICE_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_io_server sluice_io_server;
typedef struct sluice_io_loop sluice_io_loop;
typedef struct sluice_io_request sluice_io_request;

/* A header field of a request, borrowed for the duration of the on_request callback. */
typedef struct sluice_io_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} sluice_io_field;

/* A complete request as seen by on_request; every pointer is valid only during that call. */
typedef struct sluice_io_request_view {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    const char *path;
    size_t path_len;
    const char *query; /* NULL when the target has no '?' */
    size_t query_len;
    int version_minor;
    const sluice_io_field *fields;
    size_t num_fields;
    const uint8_t *body;
    size_t body_len;
    int keep_alive;
    int body_streamed; /* 1: the body follows through on_body (body is NULL); set only in on_request */
    int awaits_continue; /* 1: the client waits for 100 (Continue) before its body; set only in plan_body */
    void *plan; /* what plan_body left in *plan for this request, else NULL; set only in on_request */
} sluice_io_request_view;

/* The status of an on_body call; a negative one is an error: the HTTP status to answer, negated. */
#define SLUICE_IO_BODY_DATA 0
#define SLUICE_IO_BODY_END 1

typedef struct sluice_io_callbacks {
    void *context;
    /* A complete request arrived. The engine must answer it exactly once with sluice_io_respond. */
    void (*on_request)(void *context, int loop_index, sluice_io_request *request,
                       const sluice_io_request_view *view);
    /*
     * The client closed or reset while its request was unanswered; request_context is
     * what the engine set. After a close (FIN) the answer is still written, for
     * clients that only half-closed; after a reset it is dropped.
     */
    void (*on_request_aborted)(void *context, void *request_context);
    /*
     * The loop no longer refers to request_context (the answer was handled); the engine may
     * free it. Every context set with sluice_io_request_set_context is released exactly once.
     */
    void (*release_request_context)(void *context, void *request_context);
    /* The timer set with sluice_io_request_set_timer expired. Loop thread. */
    void (*on_request_timer)(void *context, void *request_context);
    /* After stop_accepting: this loop has no connection left. Called once per loop. */
    void (*on_loop_drained)(void *context, int loop_index);
    /* Runs one job of the loop's executor; executor_context is the loop's. */
    void (*run_job)(void *executor_context, void *job);
    /*
     * Optional. A request head that announces a body arrived (only the head's fields of
     * view are set). Returns the most body bytes this request may send (413 beyond) and
     * sets *stream: 1 hands the request over at once, its body following in pieces through
     * on_body as credit is granted (sluice_io_request_read_body); 0 collects the body first.
     * *plan (NULL on entry) may be set to anything the engine wants back in this request's
     * view at on_request (the engine's routing, so that it is not done twice); the shim
     * neither reads nor frees it. NULL: every body is collected, under max_body_bytes. Loop
     * thread.
     */
    uint64_t (*plan_body)(void *context, int loop_index, const sluice_io_request_view *head, int *stream,
                          void **plan);
    /*
     * A piece of a streamed body (status SLUICE_IO_BODY_DATA; data valid during the call only),
     * its end (SLUICE_IO_BODY_END), or its failure (a negative status: -413 over the limit,
     * -400 bad chunked coding). After a failure the connection closes after the answer. Never
     * more bytes than the credit granted. Loop thread.
     */
    void (*on_body)(void *context, void *request_context, const uint8_t *data, size_t len, int status);
    /* Payload bytes of a streamed response reached the socket (framing not counted). Loop thread. */
    void (*on_response_written)(void *context, void *request_context, size_t bytes);
    /*
     * Optional. The X-Request-ID of an answer the shim gives by itself (a refusal: 400, 408,
     * 413, 414, 431, 501, 505, or a 500 when out of memory), so that every answer carries
     * one. client_id is the value of the request's first X-Request-ID field when its head
     * was read that far (client_id_len bytes, not terminated), else NULL. Writes the id
     * (visible ASCII) into out, at most cap bytes, and returns its length; 0 sends none.
     * Loop thread.
     */
    size_t (*refusal_id)(void *context, const char *client_id, size_t client_id_len, char *out, size_t cap);
} sluice_io_callbacks;

typedef struct sluice_io_options {
    const char *host;
    int port;                     /* 0 picks a free port */
    int io_threads;               /* event loops, each on its own thread; >= 1 */
    size_t max_request_line;      /* 414 beyond */
    size_t max_header_bytes;      /* 431 beyond */
    size_t max_header_fields;     /* 431 beyond */
    uint64_t max_body_bytes;      /* 413 beyond */
    uint64_t header_timeout_ms;   /* a request head (or body) must arrive within this; else close */
    uint64_t idle_timeout_ms;     /* a keep-alive connection may idle this long between requests */
    int max_connections;          /* beyond: accepted and closed at once, and counted */
    size_t write_high_water;      /* unsent bytes above which a connection stops being read */
} sluice_io_options;

typedef struct sluice_io_counters {
    uint64_t connections_accepted;
    uint64_t connections_rejected; /* over max_connections */
    uint64_t connections_open;
    uint64_t requests_parsed;
    uint64_t requests_refused;     /* answered by the parser with a 4xx/5xx */
    uint64_t timeouts;             /* header, body or idle timeouts that closed a connection */
} sluice_io_counters;

/*
 * Creates a server; nothing is bound or started yet. *out receives ownership;
 * free it with sluice_io_server_destroy. Returns 0, or a negative errno-style code.
 */
int sluice_io_server_create(sluice_io_server **out, const sluice_io_options *options,
                            const sluice_io_callbacks *callbacks);

/* Binds, listens and starts the loop threads. Returns 0 or a negative libuv error code. */
int sluice_io_server_start(sluice_io_server *server);

/* The port actually bound (after start). */
int sluice_io_server_port(const sluice_io_server *server);

int sluice_io_server_loop_count(const sluice_io_server *server);
sluice_io_loop *sluice_io_server_loop(sluice_io_server *server, int index);

/*
 * Stops accepting, closes idle keep-alive connections and makes the others close
 * after their current response. Any thread; asynchronous; idempotent.
 */
void sluice_io_server_stop_accepting(sluice_io_server *server);

/*
 * Closes every connection (aborting unanswered requests), stops the loops and joins
 * their threads. Call after stop_accepting and after the engine has drained. Idempotent.
 */
void sluice_io_server_shutdown(sluice_io_server *server);

/* Frees the server; shuts it down first if needed. */
void sluice_io_server_destroy(sluice_io_server *server);

/* A readable message for a negative error code of this shim (libuv's uv_strerror). Static string. */
const char *sluice_io_strerror(int error);

/* A snapshot of the counters. Any thread. */
void sluice_io_server_counters(const sluice_io_server *server, sluice_io_counters *out);

/* Sets the context passed to run_job for this loop. Before start. */
void sluice_io_loop_set_executor_context(sluice_io_loop *loop, void *executor_context);

/*
 * Queues a job to run on the loop's thread, in FIFO order. Any thread. From the
 * loop's own thread it costs no system call; from another, one coalesced wake-up.
 */
void sluice_io_loop_enqueue_job(sluice_io_loop *loop, void *job);

/* Whether the calling thread is any loop's thread (where nothing may block). */
int sluice_io_on_loop_thread(void);

/* Whether the calling thread is this loop's thread. */
int sluice_io_loop_is_current(const sluice_io_loop *loop);

/* Attaches the engine's context to a request, for on_request_aborted. Loop thread, inside on_request. */
void sluice_io_request_set_context(sluice_io_request *request, void *request_context);

/*
 * Arms (ms > 0) or disarms (ms == 0) the request's one timer, ms from the time of the call
 * (not from the start of the loop's iteration); arming again replaces it. When it expires,
 * on_request_timer runs. It is the connection's own timer, idle while a request is with the
 * engine, so a deadline costs no allocation. Loop thread only.
 * Returns 0, UV_EINVAL off the loop thread, or UV_ECANCELED when the client is gone.
 */
int sluice_io_request_set_timer(sluice_io_request *request, uint64_t ms);

/*
 * Answers a request: exactly once per request, from any thread. `headers` holds
 * "Name: value\r\n" lines (no Date, Server, Content-Length, Connection); the shim
 * adds those. Copies what it needs before returning. After this call the request
 * handle is gone. When the client left meanwhile, the answer is dropped.
 * flags: SLUICE_IO_RESPOND_CLOSE closes the connection after this response.
 */
#define SLUICE_IO_RESPOND_CLOSE 1
/* SLUICE_IO_RESPOND_DROP sends nothing and closes: for a request whose client left. */
#define SLUICE_IO_RESPOND_DROP 2
void sluice_io_respond(sluice_io_request *request, int status, const char *headers, size_t headers_len,
                       const void *body, size_t body_len, int flags);

/*
 * Streaming. These calls may come from any thread; they are queued to the request's loop
 * and carried out there in the order they were made, never re-entering the caller with a
 * callback. Each returns 0 or UV_ENOMEM (nothing queued). The handle stays valid until
 * sluice_io_response_end (or sluice_io_respond) is called.
 */

/*
 * Grants credit: the loop may hand on_body up to `credit` more bytes of a streamed body.
 * The first grant answers "Expect: 100-continue" with 100 (Continue) if no body byte has
 * arrived yet; a request whose body is never read is answered and its connection closed.
 */
int sluice_io_request_read_body(sluice_io_request *request, size_t credit);

/*
 * Starts a streamed answer: status line and the engine's fields as for sluice_io_respond,
 * then Content-Length when content_length >= 0, else chunked transfer coding (HTTP/1.1)
 * or a body delimited by closing the connection (HTTP/1.0). At most once, before writes.
 */
int sluice_io_response_start(sluice_io_request *request, int status, const char *headers, size_t headers_len,
                             int64_t content_length, int flags);

/*
 * Queues body bytes (copied). Their arrival on the socket is reported by on_response_written;
 * the caller bounds what it has queued and not yet seen written (backpressure). Bytes
 * beyond a declared Content-Length, or for a HEAD request or a bodiless status, are dropped.
 */
int sluice_io_response_write(sluice_io_request *request, const void *data, size_t len);

/*
 * Ends a streamed answer: with chunked coding, the last chunk and `trailers` ("Name: value\r\n"
 * lines, may be empty). A body shorter than its declared Content-Length, or flags
 * SLUICE_IO_RESPOND_DROP (abort: a deadline or failure mid-stream), closes the connection
 * instead, so the client sees the body is incomplete. After this call the handle is gone.
 */
int sluice_io_response_end(sluice_io_request *request, const char *trailers, size_t trailers_len, int flags);

#ifdef __cplusplus
}
#endif
#endif
