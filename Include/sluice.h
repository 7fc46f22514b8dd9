/*
 * Sluice: an embeddable HTTP/1.1 server core, from C and any language with a C FFI.
 *
 * A server has routes (method + pattern with :parameters), each with a handler function
 * and its user_data. Requests pass a global gate (max_concurrency, fixed or adaptive, a
 * bounded queue served by priority, then 503 or 429 with a computed Retry-After) and
 * optionally a route gate; handlers have deadlines (504); a client that
 * leaves cancels its request; shared state (counters, a keyed store) is exact under any
 * concurrency. The semantics are those of the Swift API.
 *
 * Conventions: fallible calls return 0 or a negative SLUICE_E* code (see sluice_strerror);
 * out-parameters come first; a callback is followed by its user_data; if a call fails, its
 * callback never runs. Calls are not thread-safe unless marked "Any thread".
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(SLUICE_BUILDING)
#    define SLUICE_EXPORT __declspec(dllexport)
#  else
#    define SLUICE_EXPORT __declspec(dllimport)
#  endif
#else
#  define SLUICE_EXPORT __attribute__((visibility("default")))
#endif

#define SLUICE_VERSION_MAJOR 0
#define SLUICE_VERSION_MINOR 1
#define SLUICE_VERSION_PATCH 0

/* The library's version, "MAJOR.MINOR.PATCH"; a static string. Any thread. */
SLUICE_EXPORT const char *sluice_version(void);

/* Error codes. */
#define SLUICE_OK 0
#define SLUICE_EINVAL (-1)      /* a NULL or out-of-range argument */
#define SLUICE_ENOMEM (-2)      /* out of memory */
#define SLUICE_ESTATE (-3)      /* not allowed in this state (running, answered twice, ...) */
#define SLUICE_ELISTEN (-4)     /* cannot bind or listen (address in use, permission) */
#define SLUICE_EPATTERN (-5)    /* invalid route pattern */
#define SLUICE_ECANCELED (-6)   /* the request was cancelled: deadline, client gone, shutdown */
#define SLUICE_ENOTFOUND (-7)   /* no such header, parameter, key or gate */
#define SLUICE_ERANGE (-8)      /* a caller's buffer is too small; the needed size is reported */
#define SLUICE_EIO (-9)         /* another I/O failure */
#define SLUICE_EBODY (-10)      /* the request body broke off: over the route's limit (the request
                                   was answered 413), malformed chunked coding (400), or no byte
                                   within the header timeout while the handler waited (408) */

/* A readable message for an error code; a static string. Any thread. */
SLUICE_EXPORT const char *sluice_strerror(int error);

typedef struct sluice_server sluice_server;
typedef struct sluice_request sluice_request;
typedef struct sluice_value sluice_value;

/* ---- Server ------------------------------------------------------------------------- */

/* Request priorities: higher classes are admitted first; under pressure lower classes are
 * shed first; CRITICAL requests are never shed (no queue bound, timeout or latency budget
 * refuses them). DEFAULT, in route options or from a classifier, means "no opinion". */
#define SLUICE_PRIORITY_DEFAULT (-1)
#define SLUICE_PRIORITY_LOW 0
#define SLUICE_PRIORITY_NORMAL 1
#define SLUICE_PRIORITY_HIGH 2
#define SLUICE_PRIORITY_CRITICAL 3

/* Log levels of the server's own log (option log_level). Lines go to stderr, one per event
 * ("warning sluice: handler deadline passed request_id=..."); a line that stderr cannot take
 * at once (a pipe nobody reads) is dropped, so logging never stalls a server thread. */
#define SLUICE_LOG_TRACE 0
#define SLUICE_LOG_DEBUG 1
#define SLUICE_LOG_INFO 2
#define SLUICE_LOG_NOTICE 3
#define SLUICE_LOG_WARNING 4
#define SLUICE_LOG_ERROR 5
#define SLUICE_LOG_CRITICAL 6
#define SLUICE_LOG_OFF 7

/* Writes one line "LEVEL LABEL: MESSAGE" (as "info app: started", LEVEL one of trace, debug,
 * info, notice, warning, error, critical) to stderr through the writer the servers' own log
 * uses: lines from any threads never interleave, and a line that stderr cannot take at once
 * (a pipe nobody reads, a closed descriptor) is dropped instead of blocking the caller. The
 * line is cut to at most PIPE_BUF - 1 bytes, never inside a UTF-8 character, and ends in a
 * newline; a CR or LF inside the label or message becomes a space, so one call is always one
 * line. The level is written, not filtered: compare it with your own threshold first. label
 * and message are read during the call only; invalid UTF-8 is replaced. Any thread, with or
 * without a server.
 * Returns 0 when the line was written, 1 when it was dropped, SLUICE_EINVAL for a NULL label
 * or message or a level outside SLUICE_LOG_TRACE..SLUICE_LOG_CRITICAL. */
SLUICE_EXPORT int sluice_log(int level, const char *label, const char *message);

typedef struct sluice_server_options {
    size_t size;                 /* sizeof(sluice_server_options) */
    const char *host;            /* IPv4 or IPv6 address; copied */
    int port;                    /* 0 picks a free port */
    int io_threads;              /* event loops, each its own thread, named sluice-io-0, -1, ... */
    int max_connections;
    size_t max_request_line;     /* beyond: 414 */
    size_t max_header_bytes;     /* beyond: 431 */
    size_t max_header_count;     /* beyond: 431 */
    uint64_t max_body_bytes;     /* beyond: 413 */
    uint64_t header_timeout_ms;
    uint64_t idle_timeout_ms;
    int max_concurrency;         /* handlers at once */
    int max_queue;               /* waiting beyond that; then 503 */
    uint64_t queue_timeout_ms;   /* then 503 */
    uint64_t handler_timeout_ms; /* then 504, and the request is cancelled */
    uint64_t drain_timeout_ms;   /* graceful stop: how long requests may finish */
    int blocking_pool_size;      /* most threads for routes marked blocking (and streaming); each
                                    starts when a handler finds none idle, then stays */
    int adaptive;                /* nonzero: the global limit adapts from handler latency, between
                                    adaptive_min_limit and max_concurrency */
    int adaptive_min_limit;
    uint64_t adaptive_target_ms; /* latency admitted requests should stay under (wait included) */
    int overload_status;         /* 503 or 429: the status of a request shed for capacity */
    int retry_after_seconds;     /* Retry-After before any service time was measured, and while
                                    stopping; otherwise it is the queue's measured drain time */
    int log_level;               /* SLUICE_LOG_*: the least severe level written to stderr; a
                                    size that ends before this field (a program built against an
                                    earlier header) means SLUICE_LOG_INFO */
} sluice_server_options;

#define SLUICE_SERVER_OPTIONS_INIT \
    { sizeof(sluice_server_options), "127.0.0.1", 8080, 1, 10000, 8192, 16384, 100, 1048576, \
      10000, 5000, 256, 1024, 5000, 30000, 10000, 4, 0, 1, 500, 503, 1, SLUICE_LOG_INFO }

/*
 * Creates a server (not yet listening). *out receives ownership: free it with
 * sluice_server_destroy. options may be NULL for the defaults (SLUICE_SERVER_OPTIONS_INIT);
 * options->size may be that of an earlier version of the struct, whose later fields then
 * take their defaults.
 * Returns 0, SLUICE_EINVAL for an out-of-range option or a size smaller than any version's,
 * or SLUICE_ENOMEM.
 */
SLUICE_EXPORT int sluice_server_create(sluice_server **out, const sluice_server_options *options);

/*
 * Stops the server if it runs (gracefully, waiting for the drain), then frees it and every
 * route. The handle is invalid afterwards. Call from the thread that created it, never
 * from a handler. NULL is ignored.
 */
SLUICE_EXPORT void sluice_server_destroy(sluice_server *server);

/* A handler. It runs on an engine thread (or a blocking-pool thread, for blocking routes)
 * and answers its request exactly once, now or later, from any thread. */
typedef void (*sluice_handler_fn)(sluice_request *request, void *user_data);

typedef struct sluice_route_options {
    size_t size;             /* sizeof(sluice_route_options) */
    int gate_limit;          /* > 0: the route's own gate, passed before the global one */
    const char *gate_name;   /* its name in the stats; NULL: the pattern; copied */
    int weight;              /* permits each request takes, of the route gate and the global budget */
    uint64_t timeout_ms;     /* > 0: this route's deadline instead of the server's */
    int blocking;            /* run the handler on the blocking pool, never on a loop thread */
    int monitoring;          /* bypass every gate and the accounting (stats, health) */
    int priority;            /* SLUICE_PRIORITY_*: its requests' class unless the classifier picks one */
    int share_percent;       /* > 0: percent of the global budget guaranteed to this route, which
                                others cannot take while it is unused; all shares add up to <= 100 */
    const char *share_name;  /* routes naming the same share use it together; NULL: the pattern; copied */
    int stream_body;         /* nonzero: the handler reads the body as it arrives, with
                                sluice_request_body_read, and runs on the blocking pool */
    uint64_t max_body_bytes; /* > 0: this route's body limit instead of the server's; beyond: 413 */
} sluice_route_options;

#define SLUICE_ROUTE_OPTIONS_INIT \
    { sizeof(sluice_route_options), 0, NULL, 1, 0, 0, 0, SLUICE_PRIORITY_DEFAULT, 0, NULL, 0, 0 }

/*
 * Adds a route: method (e.g. "GET"), pattern ("/users/:id", "*" for one segment, a final
 * "**" for the rest). options may be NULL. Before the server starts.
 * Returns 0, SLUICE_EINVAL (also for a priority out of range, or a share that differs from
 * the same name's earlier percent or takes the total past 100), SLUICE_EPATTERN for an
 * invalid pattern, or SLUICE_ESTATE once started. user_data is borrowed for the server's lifetime.
 */
SLUICE_EXPORT int sluice_server_add_route(sluice_server *server, const char *method, const char *pattern,
                                          sluice_handler_fn handler, void *user_data,
                                          const sluice_route_options *options);

/*
 * A classifier: returns the request's SLUICE_PRIORITY_* class, or SLUICE_PRIORITY_DEFAULT to
 * leave the route's. It runs on an event-loop thread before the request is admitted, for
 * every request that matched a route (monitoring routes aside): keep it short and never block.
 * It may read the request with the sluice_request_* accessors (path parameters are not known
 * yet: NULL) but must not keep the handle after returning; calls that would answer or stream
 * it return SLUICE_ESTATE, and it is never cancelled.
 */
typedef int (*sluice_classifier_fn)(const sluice_request *request, void *user_data);

/*
 * Sets the server's classifier (NULL removes it). Before the server starts. user_data is
 * borrowed for the server's lifetime. Returns 0, SLUICE_EINVAL, or SLUICE_ESTATE once started.
 */
SLUICE_EXPORT int sluice_server_set_classifier(sluice_server *server, sluice_classifier_fn classify, void *user_data);

/*
 * A hook before each handler, on the thread the handler would run on. Return 0 to run the
 * handler; nonzero when the hook answered the request itself (short-circuit: authentication,
 * rate limits). A nonzero return without an answer answers 500. It must not block unless the
 * route is blocking.
 */
typedef int (*sluice_before_fn)(sluice_request *request, void *user_data);

/*
 * A hook after each handled request was answered (for access logs, metrics): the status, the
 * body's bytes and the time from the handler's start to its answer. It runs on an engine
 * thread; keep it short and never block. request is valid for the call only (read-only).
 * A request whose client left or whose deadline passed reports status 0.
 */
typedef void (*sluice_after_fn)(const sluice_request *request, int status, size_t body_bytes, uint64_t duration_us,
                                void *user_data);

/*
 * Sets the server's before and after hooks (either may be NULL). They wrap every route but
 * monitoring ones; requests the engine refuses itself (404, 405, 503) never reach them.
 * Before the server starts. user_data is borrowed for the server's lifetime.
 * Returns 0, SLUICE_EINVAL, or SLUICE_ESTATE once started.
 */
SLUICE_EXPORT int sluice_server_set_hooks(sluice_server *server, sluice_before_fn before, sluice_after_fn after,
                                          void *user_data);

/*
 * Binds and starts serving on the engine's threads; returns at once. *out_port (may be
 * NULL) receives the bound port. Returns 0, SLUICE_ELISTEN, SLUICE_EINVAL, or
 * SLUICE_ESTATE if already started. SLUICE_ELISTEN too when another process listens on the
 * port, with any number of I/O threads: their SO_REUSEPORT listeners never join another
 * server's.
 */
SLUICE_EXPORT int sluice_server_start(sluice_server *server, int *out_port);

/*
 * Blocks until the server has stopped (after sluice_server_stop and the drain). Starts it
 * first if needed. Returns 0, or the error of that start.
 */
SLUICE_EXPORT int sluice_server_run(sluice_server *server);

/*
 * Asks the server to stop gracefully: stop accepting, let requests finish within the drain
 * timeout, then cancel the rest. Returns at once. Any thread; calling it again, or before
 * start, is harmless (0). Not async-signal-safe: call it from a thread, e.g. after sigwait.
 */
SLUICE_EXPORT int sluice_server_stop(sluice_server *server);

typedef struct sluice_stats {
    size_t size;             /* sizeof(sluice_stats), set by the caller */
    uint64_t in_flight;
    uint64_t max_in_flight;
    uint64_t queued;
    uint64_t completed;
    uint64_t rejected;
    uint64_t timed_out;
    uint64_t cancelled;
    uint64_t errors;
    uint64_t limit;               /* the global limit now (it moves when adaptive) */
    uint64_t baseline_latency_us; /* adaptive: the learned no-load handler latency; else 0 */
    uint64_t latency_us;          /* adaptive: the last window's 90th-percentile handler latency */
    uint64_t limit_increases;     /* adaptive: times the limit grew */
    uint64_t limit_decreases;     /* adaptive: times it shrank */
    uint64_t shed[4];             /* requests shed at the global gate, by SLUICE_PRIORITY_* */
} sluice_stats;

typedef struct sluice_gate_stats {
    size_t size;             /* sizeof(sluice_gate_stats), set by the caller */
    uint64_t limit;
    uint64_t in_flight;
    uint64_t max_in_flight;
    uint64_t queued;
} sluice_gate_stats;

/* A snapshot of the request accounting into *out. Any thread. Returns 0 or SLUICE_EINVAL. */
SLUICE_EXPORT int sluice_server_stats(sluice_stats *out, const sluice_server *server);

/* A snapshot of the route gate called name. Any thread. Returns 0, SLUICE_EINVAL or SLUICE_ENOTFOUND. */
SLUICE_EXPORT int sluice_server_gate_stats(sluice_gate_stats *out, const sluice_server *server, const char *name);

/* ---- Requests ----------------------------------------------------------------------
 * A request handle and every pointer read from it stay valid until the handler has
 * returned and the request has been answered. Reading is safe from any thread.
 */

/* The method, path (percent-encoding kept), query (NULL when none) and X-Request-ID. */
SLUICE_EXPORT const char *sluice_request_method(const sluice_request *request);
SLUICE_EXPORT const char *sluice_request_path(const sluice_request *request);
SLUICE_EXPORT const char *sluice_request_query(const sluice_request *request);
SLUICE_EXPORT const char *sluice_request_id(const sluice_request *request);

/* The first header called name (case-insensitive), or NULL. */
SLUICE_EXPORT const char *sluice_request_header(const sluice_request *request, const char *name);

/* The path parameter name (percent-decoded), or NULL. */
SLUICE_EXPORT const char *sluice_request_param(const sluice_request *request, const char *name);

/* The query parameter name (percent-decoded), or NULL. */
SLUICE_EXPORT const char *sluice_request_query_param(const sluice_request *request, const char *name);

/* The body; *out_len (may be NULL) receives its length. Never NULL (an empty body is ""). */
SLUICE_EXPORT const void *sluice_request_body(const sluice_request *request, size_t *out_len);

/* Permits of the route gate in use when this request entered it (its own included); 0 without one. */
SLUICE_EXPORT int sluice_request_gate_occupancy(const sluice_request *request);

/* The server the request belongs to (for its shared state). */
SLUICE_EXPORT sluice_server *sluice_request_server(const sluice_request *request);

/* 1 once the request is cancelled (deadline, client gone, shutdown), else 0. Any thread. */
SLUICE_EXPORT int sluice_request_is_cancelled(const sluice_request *request);

/*
 * Registers a callback that runs once, on an engine thread, when the request is cancelled.
 * Any thread. Returns 0, SLUICE_ECANCELED if it already is (the callback does not run),
 * SLUICE_ESTATE if answered or one is registered already.
 */
SLUICE_EXPORT int sluice_request_on_cancel(sluice_request *request,
                                           void (*callback)(sluice_request *request, void *user_data),
                                           void *user_data);

/* ---- Answers: exactly once per request, from any thread, now or later ---------------- */

typedef struct sluice_header {
    const char *name;
    const char *value;
} sluice_header;

/*
 * Answers with status, headers and body (all copied). Date, Server, Content-Length,
 * Connection and X-Request-ID are the engine's. Returns 0; SLUICE_ESTATE if already
 * answered; SLUICE_ECANCELED if the request was cancelled (nothing is sent, the request
 * is released); SLUICE_EINVAL for a status outside 200...999 (a 1xx is interim, never an
 * answer), a header name that is not a token, or a header value with CR or LF (nothing is
 * sent; the request stays unanswered).
 */
SLUICE_EXPORT int sluice_respond(sluice_request *request, int status, const sluice_header *headers,
                                 size_t header_count, const void *body, size_t body_len);

/*
 * Like sluice_respond, but the body is handed over: on success the engine calls
 * free_body(body) once it is done with it. On failure the body stays the caller's.
 */
SLUICE_EXPORT int sluice_respond_owned(sluice_request *request, int status, const sluice_header *headers,
                                       size_t header_count, void *body, size_t body_len,
                                       void (*free_body)(void *body));

/*
 * Answers with {"error": message, "request_id": ...} and status, counted as a handler
 * error (like a Swift handler that throws). Returns as sluice_respond does.
 */
SLUICE_EXPORT int sluice_respond_error(sluice_request *request, int status, const char *message);

/* ---- Streaming: bodies that are never held whole -------------------------------------
 * These calls block, so they may not be made on an event-loop thread (a handler of a route
 * that is neither blocking nor stream_body runs on one): there they return SLUICE_ESTATE.
 */

/*
 * Reads up to capacity bytes of the body of a stream_body route's request into buffer,
 * blocking until some arrive. The first call answers "Expect: 100-continue". Reading
 * is what lets the client send more: the server holds at most its body window unread.
 * Returns the bytes read (> 0); 0 at the end of the body (and for a request without one);
 * SLUICE_ECANCELED when the client left, the deadline passed or the server stops;
 * SLUICE_EBODY when the body broke off (over the limit: already answered 413; bad
 * chunked coding: 400; stalled past the header timeout: 408); SLUICE_EINVAL for a NULL buffer or a route that does not stream;
 * SLUICE_ESTATE on a loop thread. One thread at a time per request.
 */
SLUICE_EXPORT int64_t sluice_request_body_read(sluice_request *request, void *buffer, size_t capacity);

/*
 * Answers with a body written as it goes: sends status and headers (checked as by
 * sluice_respond), then Content-Length when content_length >= 0, else chunked coding.
 * This is the request's answer: sluice_respond is refused after it. On success the
 * handler must end the stream with sluice_response_finish or sluice_response_abort,
 * exactly once, even after a failed write; until then the handle stays valid.
 * Returns 0, or what sluice_respond returns (the stream is then not started). Any thread.
 */
SLUICE_EXPORT int sluice_response_start(sluice_request *request, int status, const sluice_header *headers,
                                        size_t header_count, int64_t content_length);

/*
 * Writes body bytes (copied) of a started stream. Blocks while the connection's unsent
 * output is above its bound: a client that stops reading stops the writer. Returns 0;
 * SLUICE_ECANCELED once the client left, the deadline passed or the server stops (end
 * the stream all the same); SLUICE_ESTATE before sluice_response_start, after the end, or
 * on a loop thread; SLUICE_EINVAL for NULL data with len > 0. One thread at a time per request.
 */
SLUICE_EXPORT int sluice_response_write(sluice_request *request, const void *data, size_t len);

/*
 * Ends a started stream; with chunked coding, trailers (may be NULL, copied) follow the
 * last chunk. A body shorter than its declared Content-Length closes the connection.
 * Returns 0, SLUICE_ESTATE if no stream is open, SLUICE_EINVAL for an invalid trailer
 * (the stream stays open). Any thread; the handle is released after it.
 */
SLUICE_EXPORT int sluice_response_finish(sluice_request *request, const sluice_header *trailers,
                                         size_t trailer_count);

/*
 * Ends a started stream as failed: the connection closes, so the client sees the body is
 * incomplete. Returns 0 or SLUICE_ESTATE if no stream is open. Any thread; the handle is
 * released after it.
 */
SLUICE_EXPORT int sluice_response_abort(sluice_request *request);

/* ---- Shared state: exact under any concurrency. Any thread. --------------------------- */

/* Adds delta to the counter called name (created at 0); *out_value (may be NULL) receives the new value. */
SLUICE_EXPORT int sluice_counter_add(int64_t *out_value, sluice_server *server, const char *name, int64_t delta);

/* Reads the counter called name (0 if never used). */
SLUICE_EXPORT int sluice_counter_get(int64_t *out_value, sluice_server *server, const char *name);

/*
 * Copies the value under key into buffer. *out_len receives its length. Returns 0,
 * SLUICE_ENOTFOUND, or SLUICE_ERANGE when capacity is too small (nothing copied).
 */
SLUICE_EXPORT int sluice_store_get(size_t *out_len, sluice_server *server, const char *key, void *buffer,
                                   size_t capacity);

/* Stores a copy of value under key. */
SLUICE_EXPORT int sluice_store_set(sluice_server *server, const char *key, const void *value, size_t len);

/* Removes key. Returns 0 or SLUICE_ENOTFOUND. */
SLUICE_EXPORT int sluice_store_delete(sluice_server *server, const char *key);

/*
 * Atomic read-modify-write of key: update runs once, under the key's lock, with the current
 * value (exists is 0 when absent) and decides the next one through next (unchanged unless it
 * calls sluice_value_set or sluice_value_remove). update must not call the store itself.
 */
typedef void (*sluice_store_update_fn)(const void *current, size_t current_len, int exists, sluice_value *next,
                                       void *user_data);
SLUICE_EXPORT int sluice_store_update(sluice_server *server, const char *key, sluice_store_update_fn update,
                                      void *user_data);

/* Inside an update callback: the next value is a copy of bytes, or the key is removed. */
SLUICE_EXPORT int sluice_value_set(sluice_value *next, const void *bytes, size_t len);
SLUICE_EXPORT int sluice_value_remove(sluice_value *next);

#ifdef __cplusplus
}
#endif
#endif
