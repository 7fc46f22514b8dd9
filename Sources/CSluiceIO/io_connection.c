/*
 * One client connection: accept, read, frame a head, hand the request to the engine,
 * keep alive or close; its timers and buffers. Bodies are read in io_body.c, answers
 * written in io_write.c. It is C because every step touches libuv handles, which
 * belong to the loop thread.
 *
 * Requests of a connection are handed over one at a time, so pipelined answers
 * leave in request order by construction. While a request is with the engine
 * the connection keeps reading (to notice a client that leaves) until its
 * buffer is full. It stops reading while its unsent output is above the high
 * water mark, so a client that never reads cannot grow the server's memory.
 */
#include "io_internal.h"
#include "http_chars.h"

#include <stdlib.h>
#include <string.h>

/* After an error answer, how long a closing connection drains the client's input. */
#define SLUICE_CONN_LINGER_MS 2000
/* The head parser re-reads the head from its start; this bounds the re-reads of a trickled head. */
#define SLUICE_CONN_RESCAN_BYTES 512

static void conn_close(sluice_io_conn *conn);

static size_t buffer_limit(const sluice_io_server *server) {
    /* Room for the largest head the limits allow, so the parser refuses before the buffer fills. */
    return server->options.max_request_line + server->options.max_header_bytes + 4096;
}

static void set_timer(sluice_io_conn *conn, int mode, uint64_t ms);

static void on_timer(uv_timer_t *timer);

void sluice__conn_arm_timer(sluice_io_conn *conn, int mode) {
    const sluice_io_options *o = &conn->loop->server->options;
    uint64_t ms = mode == CONN_TIMER_IDLE ? o->idle_timeout_ms : mode == CONN_TIMER_LINGER ? SLUICE_CONN_LINGER_MS : o->header_timeout_ms;
    set_timer(conn, mode, ms);
}

/*
 * Lazy: a request moves its connection's timer four times (header, none, deadline, idle), and
 * each uv_timer_start/stop is a heap operation on the loop's timers. So only the due time is
 * recorded, and the libuv timer is moved only when it must fire sooner than it is armed for;
 * firing early, it re-arms itself for what is then due (on_timer).
 */
static void set_timer(sluice_io_conn *conn, int mode, uint64_t ms) {
    conn->timer_mode = mode;
    if (mode == CONN_TIMER_NONE) return;
    uint64_t due = uv_now(&conn->loop->uv) + ms;
    conn->timer_due = due;
    if (conn->timer_armed_due == 0 || due < conn->timer_armed_due) {
        uv_timer_start(&conn->timer, on_timer, ms, 0);
        conn->timer_armed_due = due;
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

void sluice__conn_update_reading(sluice_io_conn *conn) {
    if (conn->closing) return;
    int want = !conn->peer_eof && !conn->body_failed && (conn->state == CONN_CLOSING ||
                                   (!sluice__conn_write_queue_full(conn) && conn->len < buffer_limit(conn->loop->server)));
    if (want && !conn->reading) {
        conn->reading = uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) == 0;
    } else if (!want && conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
    }
}

/* Keeps a buffer of the initial size as one of its loop's spares, or frees it. */
static void give_back_buffer(sluice_io_loop *loop, char *buf, size_t cap) {
    if (buf && cap == SLUICE_IO_INITIAL_BUFFER && loop->spare_count < SLUICE_IO_SPARE_BUFFERS) {
        loop->spare_buffers[loop->spare_count++] = buf;
    } else {
        free(buf);
    }
}

/*
 * Gives the read buffer back once nothing in it is pending: no partial request, no head kept
 * for a body in progress. Most requests arrive whole in one read, so between requests a
 * keep-alive connection holds no buffer, and a loop's idle connections cost their state only.
 */
static void release_buffer(sluice_io_conn *conn) {
    if (conn->buf == NULL || conn->len != 0 || conn->head_len != 0 || conn->processing) return;
    if (conn->state != CONN_HEAD && conn->state != CONN_WAITING && conn->state != CONN_CLOSING) return;
    give_back_buffer(conn->loop, conn->buf, conn->cap);
    conn->buf = NULL;
    conn->cap = 0;
    conn->scanned = 0;
    conn->head_parse_valid = 0;
}

void sluice__conn_free_spares(sluice_io_loop *loop) {
    while (loop->spare_count > 0) free(loop->spare_buffers[--loop->spare_count]);
    while (loop->spare_requests) {
        sluice_io_request *request = loop->spare_requests;
        loop->spare_requests = request->next;
        free(request);
    }
    loop->spare_request_count = 0;
}

/* A zeroed request record: one the loop kept, or a new one; NULL without memory. */
static sluice_io_request *request_new(sluice_io_loop *loop) {
    sluice_io_request *request = loop->spare_requests;
    if (request == NULL) return calloc(1, sizeof(*request));
    loop->spare_requests = request->next;
    loop->spare_request_count--;
    memset(request, 0, sizeof(*request));
    return request;
}

/* Needs no lock: every answer is delivered on its loop's thread (or, after the loops stop, by
 * the thread that frees the server, before the spares are freed). */
void sluice__request_recycle(sluice_io_loop *loop, sluice_io_request *request) {
    if (loop->spare_request_count >= SLUICE_IO_SPARE_REQUESTS) {
        free(request);
        return;
    }
    request->next = loop->spare_requests;
    loop->spare_requests = request;
    loop->spare_request_count++;
}

/* One of the connection's handles finished closing; the last one frees the connection. */
static void handle_closed(sluice_io_conn *conn) {
    if (--conn->pending_closes > 0) return;
    give_back_buffer(conn->loop, conn->buf, conn->cap);
    free(conn);
}

static void on_closed(uv_handle_t *handle) { handle_closed(handle->data); }

static void on_body_timer_closed(uv_handle_t *handle) {
    sluice_io_conn *conn = handle->data;
    free(handle);
    handle_closed(conn);
}

static void conn_close(sluice_io_conn *conn) {
    if (conn->closing) return;
    conn->closing = 1;
    sluice_io_loop *loop = conn->loop;
    sluice_io_request *request = conn->current;
    if (request) {
        conn->current = NULL;
        request->conn = NULL;
        loop->server->callbacks.on_request_aborted(loop->server->callbacks.context, request->context);
    }
    if (conn->prev) conn->prev->next = conn->next;
    else loop->conns = conn->next;
    if (conn->next) conn->next->prev = conn->prev;
    free(conn->body);
    conn->body = NULL;
    free(conn->cork); /* answers gathered for a client that is gone */
    conn->cork = NULL;
    conn->pending_closes = conn->body_timer ? 3 : 2;
    uv_close((uv_handle_t *)&conn->timer, on_closed);
    if (conn->body_timer) uv_close((uv_handle_t *)conn->body_timer, on_body_timer_closed);
    uv_close((uv_handle_t *)&conn->tcp, on_closed);
    atomic_fetch_sub(&loop->server->connections_open, 1);
    sluice__loop_check_drained(loop);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    sluice_io_conn *conn = req->data;
    if (conn->closing) return;
    if (status < 0 || conn->peer_eof) {
        conn_close(conn);
    } else {
        sluice__conn_arm_timer(conn, CONN_TIMER_LINGER);
    }
}

void sluice__conn_begin_closing(sluice_io_conn *conn) {
    if (conn->closing || conn->state == CONN_CLOSING) return;
    sluice__conn_flush_cork(conn);
    if (conn->closing) return;
    conn->state = CONN_CLOSING;
    conn->len = 0;
    /* Bounded even when the client never reads what is queued for it. */
    sluice__conn_arm_timer(conn, CONN_TIMER_HEADER);
    conn->shutdown.data = conn;
    if (uv_shutdown(&conn->shutdown, (uv_stream_t *)&conn->tcp, on_shutdown) != 0) {
        conn_close(conn);
        return;
    }
    sluice__conn_update_reading(conn);
}


/* The value of the first X-Request-ID field among the head's, or NULL. */
static const sluice_http_field *client_request_id(const sluice_http_request *head) {
    for (size_t i = 0; i < head->num_fields; i++) {
        const sluice_http_field *f = &head->fields[i];
        if (SLUICE__IEQ(f->name, f->name_len, "x-request-id")) return f;
    }
    return NULL;
}

/*
 * Refuses the connection's request and closes it after the answer. head: the request's head
 * fields as far as they were read into the connection's current buffer (a parse that failed
 * partway leaves the fields before the failure), so that the engine can echo the client's
 * X-Request-ID; NULL when none are at hand.
 */
void sluice__conn_send_error(sluice_io_conn *conn, int status, const char *message, const sluice_http_request *head) {
    const sluice_io_callbacks *callbacks = &conn->loop->server->callbacks;
    char id[SLUICE_IO_REFUSAL_ID_MAX];
    size_t id_len = 0;
    if (callbacks->refusal_id) {
        const sluice_http_field *client = head ? client_request_id(head) : NULL;
        id_len = callbacks->refusal_id(callbacks->context, client ? client->value : NULL, client ? client->value_len : 0,
                                       id, sizeof(id));
        if (id_len > sizeof(id)) id_len = 0;
        for (size_t i = 0; i < id_len; i++) {
            if (id[i] <= 0x20 || id[i] >= 0x7F) { /* never a byte that could break the head */
                id_len = 0;
                break;
            }
        }
    }
    atomic_fetch_add(&conn->loop->server->requests_refused, 1);
    sluice__conn_write(conn, sluice__response_error(status, message, id, id_len));
    sluice__conn_begin_closing(conn);
}

static void on_timer(uv_timer_t *timer) {
    sluice_io_conn *conn = timer->data;
    conn->timer_armed_due = 0;
    if (conn->timer_mode == CONN_TIMER_NONE) return;
    uint64_t now = uv_now(&conn->loop->uv);
    if (conn->timer_due > now) { /* armed for an earlier mode; what is set now is due later */
        uv_timer_start(&conn->timer, on_timer, conn->timer_due - now, 0);
        conn->timer_armed_due = conn->timer_due;
        return;
    }
    int mode = conn->timer_mode;
    conn->timer_mode = CONN_TIMER_NONE;
    if (mode == CONN_TIMER_REQUEST) {
        const sluice_io_callbacks *callbacks = &conn->loop->server->callbacks;
        if (conn->current) callbacks->on_request_timer(callbacks->context, conn->current->context);
        return;
    }
    if (mode == CONN_TIMER_LINGER || conn->state == CONN_CLOSING) {
        conn_close(conn);
        return;
    }
    atomic_fetch_add(&conn->loop->server->timeouts, 1);
    if (conn->state == CONN_HEAD && conn->len == 0) {
        conn_close(conn); /* idle, or never sent a byte: nothing to answer */
    } else {
        sluice__conn_send_error(conn, 408, "request timeout", NULL);
    }
}

static void fill_view(sluice_io_conn *conn, sluice_io_request_view *view) {
    const sluice_http_request *h = &conn->head;
    sluice_io_field *fields = conn->loop->scratch_fields;
    for (size_t i = 0; i < h->num_fields; i++) {
        fields[i].name = h->fields[i].name;
        fields[i].name_len = h->fields[i].name_len;
        fields[i].value = h->fields[i].value;
        fields[i].value_len = h->fields[i].value_len;
    }
    view->method = h->method;
    view->method_len = h->method_len;
    view->target = h->target;
    view->target_len = h->target_len;
    view->path = h->path;
    view->path_len = h->path_len;
    view->query = h->query;
    view->query_len = h->query_len;
    view->version_minor = h->version_minor;
    view->fields = fields;
    view->num_fields = h->num_fields;
    view->body = conn->body_in_buffer ? (const uint8_t *)conn->buf + conn->head_len : conn->body;
    view->body_len = (size_t)conn->body_len;
    view->keep_alive = h->keep_alive;
    view->body_streamed = 0;
    view->awaits_continue = 0;
    view->plan = NULL;
}

static int parse_head(sluice_io_conn *conn) {
    conn->head.fields = conn->loop->parse_fields;
    conn->head.fields_capacity = conn->loop->server->options.max_header_fields;
    return sluice_http_parse_request(conn->buf, conn->len, &conn->loop->server->limits, &conn->head);
}

/* Makes loop->parse_fields describe the current head again (another connection's parse may
 * have used them since); 0, or -1 if the head no longer parses as it did. */
static int restore_head_fields(sluice_io_conn *conn) {
    if (conn->head_parse_valid) return 0;
    size_t len = conn->len;
    conn->len = conn->head_len; /* the head alone, as it was first parsed */
    int rc = parse_head(conn);
    conn->len = len;
    return rc == (int)conn->head_len ? 0 : -1;
}

/* A record for the request the connection hands over now, which becomes its current one; NULL without memory. */
static sluice_io_request *start_request(sluice_io_conn *conn) {
    sluice_io_request *request = request_new(conn->loop);
    if (request == NULL) return NULL;
    request->loop = conn->loop;
    request->conn = conn;
    request->is_head = conn->head.is_head;
    request->keep_alive = conn->head.keep_alive;
    request->http10 = conn->head.version_minor == 0;
    conn->current = request;
    conn->response_seq++;
    conn->state = CONN_WAITING;
    set_timer(conn, CONN_TIMER_NONE, 0);
    return request;
}

/* Drops what was handed over (the head, and a body that followed it in the buffer) from the
 * read buffer, unless an answer given meanwhile closed the connection. */
static void forget_handed_over(sluice_io_conn *conn, size_t body_in_buffer) {
    free(conn->body);
    conn->body = NULL;
    conn->body_in_buffer = 0;
    conn->body_len = 0;
    /* The engine may have answered inside on_request; if that answer closed the connection,
     * its input was discarded (begin_closing) and there is no head left to consume. */
    if (conn->closing || conn->state == CONN_CLOSING) return;
    sluice__conn_consume(conn, 0, conn->head_len + body_in_buffer);
    /* Answered inside on_request: the wait was armed before the head was consumed. */
    if (conn->state == CONN_HEAD && conn->len == 0) sluice__conn_arm_timer(conn, CONN_TIMER_IDLE);
    conn->head_len = 0;
    conn->head_parse_valid = 0;
    conn->scanned = 0;
}

void sluice__conn_dispatch(sluice_io_conn *conn) {
    sluice_io_loop *loop = conn->loop;
    if (restore_head_fields(conn) != 0) {
        conn_close(conn);
        return;
    }
    sluice_io_request *request = start_request(conn);
    if (request == NULL) {
        sluice__conn_send_error(conn, 500, "out of memory", NULL);
        return;
    }
    sluice_io_request_view view;
    fill_view(conn, &view);
    view.body_streamed = conn->body_streaming;
    view.plan = conn->plan;
    conn->plan = NULL; /* this request's alone: the next head is planned afresh, or not at all */
    /* Taken before on_request: an answer given inside it (no route, no such method, the
     * server's OPTIONS, shutting down) resets body_len, and the body must still be skipped,
     * never read as the next request. */
    size_t body_in_buffer = conn->body_in_buffer ? (size_t)conn->body_len : 0;
    conn->more_input = conn->len > conn->head_len + body_in_buffer;
    loop->dispatched_unrun++;
    loop->server->callbacks.on_request(loop->server->callbacks.context, loop->index, request, &view);
    forget_handed_over(conn, body_in_buffer);
}


/* Asks the engine for this request's body limit and whether it takes the body in pieces. */
static int plan_body(sluice_io_conn *conn) {
    const sluice_io_server *server = conn->loop->server;
    int stream = 0;
    conn->body_limit = server->options.max_body_bytes;
    if (server->callbacks.plan_body) {
        sluice_io_request_view view;
        fill_view(conn, &view);
        view.awaits_continue = conn->head.expect_continue && conn->len == conn->head_len;
        conn->body_limit = server->callbacks.plan_body(server->callbacks.context, conn->loop->index, &view, &stream,
                                                       &conn->plan);
    }
    return stream;
}


static int step_head(sluice_io_conn *conn) {
    if (conn->len == 0 || sluice__conn_write_queue_full(conn)) return CONN_STEP_STOP;
    /* A head arriving in small pieces is re-parsed only when a line may have ended. */
    if (conn->scanned > 0 && conn->len - conn->scanned < SLUICE_CONN_RESCAN_BYTES &&
        memchr(conn->buf + conn->scanned, '\n', conn->len - conn->scanned) == NULL) {
        return CONN_STEP_STOP;
    }
    int rc = parse_head(conn);
    if (rc == SLUICE_HTTP_INCOMPLETE) {
        conn->scanned = conn->len;
        if (conn->timer_mode != CONN_TIMER_HEADER) sluice__conn_arm_timer(conn, CONN_TIMER_HEADER);
        return CONN_STEP_STOP;
    }
    if (rc < 0) {
        sluice__conn_send_error(conn, sluice_http_error_status(rc), sluice_http_error_message(rc), &conn->head);
        return CONN_STEP_STOP;
    }
    atomic_fetch_add(&conn->loop->server->requests_parsed, 1);
    conn->head_len = (size_t)rc;
    conn->head_parse_valid = 1;
    conn->plan = NULL; /* a new head: nothing planned for it yet */
    if (conn->head.body_kind == SLUICE_HTTP_BODY_NONE) {
        sluice__conn_dispatch(conn);
        return CONN_STEP_CONTINUE;
    }
    int stream = plan_body(conn);
    if (conn->head.body_kind == SLUICE_HTTP_BODY_LENGTH && conn->head.content_length > conn->body_limit) {
        sluice__conn_send_error(conn, 413, sluice_http_error_message(SLUICE_HTTP_ERR_BODY_TOO_LARGE), &conn->head);
        return CONN_STEP_STOP;
    }
    if (!stream && conn->head.body_kind == SLUICE_HTTP_BODY_LENGTH &&
        conn->len - conn->head_len >= conn->head.content_length) {
        /* The whole body came with its head (the common case for small bodies): the engine
         * copies it straight out of the read buffer. */
        conn->body_in_buffer = 1;
        conn->body_len = conn->head.content_length;
        sluice__conn_dispatch(conn);
        return CONN_STEP_CONTINUE;
    }
    if (!stream) return sluice__conn_start_body(conn);
    sluice__conn_start_body_stream(conn);
    return CONN_STEP_CONTINUE;
}


void sluice__conn_process(sluice_io_conn *conn) {
    if (conn->processing) return;
    conn->processing = 1;
    int step = CONN_STEP_CONTINUE;
    while (step == CONN_STEP_CONTINUE && !conn->closing) {
        switch (conn->state) {
        case CONN_HEAD: step = step_head(conn); break;
        case CONN_BODY_LENGTH: step = sluice__conn_step_body_length(conn); break;
        case CONN_BODY_CHUNKED: step = sluice__conn_step_body_chunked(conn); break;
        case CONN_WAITING: step = conn->body_streaming ? sluice__conn_step_body_stream(conn) : CONN_STEP_STOP; break;
        default: step = CONN_STEP_STOP; break;
        }
    }
    conn->processing = 0;
    if (!conn->loop->running_jobs) sluice__conn_flush_cork(conn); /* else when the jobs are done */
    /* Half-closed, and no whole request of the client's is left: nothing more can come, and
     * a head or body cut short by the FIN never completes. */
    if (conn->peer_eof && !conn->closing &&
        (conn->state == CONN_HEAD || conn->state == CONN_BODY_LENGTH || conn->state == CONN_BODY_CHUNKED)) {
        sluice__conn_begin_closing(conn);
    }
    release_buffer(conn);
    sluice__conn_update_reading(conn);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out) {
    (void)suggested;
    sluice_io_conn *conn = handle->data;
    sluice_io_loop *loop = conn->loop;
    size_t limit = buffer_limit(loop->server);
    if (conn->state == CONN_CLOSING) {
        *out = uv_buf_init(loop->read_buffer, SLUICE_IO_LOOP_READ_BYTES); /* discarded */
        return;
    }
    if (conn->buf == NULL && loop->spare_count > 0) {
        conn->buf = loop->spare_buffers[--loop->spare_count];
        conn->cap = SLUICE_IO_INITIAL_BUFFER;
    }
    if (conn->buf == NULL) {
        /* No spare: the bytes (or the EOF) go to the loop's buffer, and on_read copies them into
         * one of the connection's own only if there are any. */
        size_t room = limit < SLUICE_IO_LOOP_READ_BYTES ? limit : SLUICE_IO_LOOP_READ_BYTES;
        *out = uv_buf_init(loop->read_buffer, (unsigned int)room);
        return;
    }
    if (conn->cap - conn->len < 1024 && conn->cap < limit) {
        size_t cap = conn->cap * 2;
        if (cap > limit) cap = limit;
        char *buf = realloc(conn->buf, cap);
        if (buf) {
            conn->buf = buf;
            conn->cap = cap;
            conn->head_parse_valid = 0;
        }
    }
    *out = uv_buf_init(conn->buf + conn->len, (unsigned int)(conn->cap - conn->len));
}

/* Gives a connection that held no buffer one of its own for the bytes read into its loop's.
 * Its length, scan and parse state are already those of an empty buffer (release_buffer). */
static int adopt_loop_read(sluice_io_conn *conn, size_t nread) {
    sluice_io_loop *loop = conn->loop;
    size_t cap = SLUICE_IO_INITIAL_BUFFER;
    while (cap < nread) cap *= 2;
    size_t limit = buffer_limit(loop->server); /* on_alloc offered no more than this */
    if (cap > limit) cap = limit;
    char *buf = malloc(cap); /* on_alloc found no spare */
    if (buf == NULL) return UV_ENOMEM;
    memcpy(buf, loop->read_buffer, nread);
    conn->buf = buf;
    conn->cap = cap;
    return 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    sluice_io_conn *conn = stream->data;
    if (nread == 0) return;
    if (nread == UV_ENOBUFS) {
        sluice__conn_update_reading(conn);
        return;
    }
    if (nread < 0) {
        /* FIN while a request is out: tell the engine, but still answer a client that only half-closed. */
        if (nread == UV_EOF && conn->state == CONN_WAITING && conn->current) {
            conn->peer_eof = 1;
            sluice_io_loop *loop = conn->loop;
            loop->server->callbacks.on_request_aborted(loop->server->callbacks.context, conn->current->context);
            sluice__conn_update_reading(conn);
        } else {
            conn_close(conn);
        }
        return;
    }
    if (conn->state == CONN_CLOSING) return;
    if (buf->base == conn->loop->read_buffer && adopt_loop_read(conn, (size_t)nread) != 0) {
        conn_close(conn);
        return;
    }
    conn->len += (size_t)nread;
    if (conn->state == CONN_HEAD && conn->timer_mode == CONN_TIMER_IDLE) sluice__conn_arm_timer(conn, CONN_TIMER_HEADER);
    if (conn->state == CONN_BODY_LENGTH || conn->state == CONN_BODY_CHUNKED) sluice__conn_arm_timer(conn, CONN_TIMER_HEADER);
    sluice_io_loop *loop = conn->loop;
    sluice__conn_process(conn);
    sluice__loop_run_jobs_if_many(loop);
}

void sluice__conn_accept(sluice_io_loop *loop, uv_stream_t *listener) {
    sluice_io_server *server = loop->server;
    sluice_io_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) return;
    conn->loop = loop;
    uv_tcp_init(&loop->uv, &conn->tcp);
    uv_timer_init(&loop->uv, &conn->timer);
    conn->tcp.data = conn->timer.data = conn;
    conn->next = loop->conns;
    if (loop->conns) loop->conns->prev = conn;
    loop->conns = conn;
    uint64_t open = atomic_fetch_add(&server->connections_open, 1);
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp) != 0) {
        conn_close(conn);
        return;
    }
    if (loop->draining || open >= (uint64_t)server->options.max_connections) {
        atomic_fetch_add(&server->connections_rejected, 1);
        conn_close(conn);
        return;
    }
    atomic_fetch_add(&server->connections_accepted, 1);
    uv_tcp_nodelay(&conn->tcp, 1);
    conn->state = CONN_HEAD;
    sluice__conn_arm_timer(conn, CONN_TIMER_HEADER);
    sluice__conn_update_reading(conn);
}


void sluice__conn_close_idle(sluice_io_conn *conn) {
    if (conn->state == CONN_HEAD && conn->len == 0) conn_close(conn);
}

void sluice__conn_abort(sluice_io_conn *conn) { conn_close(conn); }

int sluice_io_request_set_timer(sluice_io_request *request, uint64_t ms) {
    if (sluice__current_loop != request->loop) return UV_EINVAL;
    sluice_io_conn *conn = request->conn;
    if (conn == NULL || conn->closing || conn->current != request) return UV_ECANCELED;
    /* The loop's time is cached at the start of its iteration; a handler that blocked the
     * loop before its deadline was armed (only once it must wait) would get it that much short. */
    if (ms) uv_update_time(&request->loop->uv);
    set_timer(conn, ms ? CONN_TIMER_REQUEST : CONN_TIMER_NONE, ms);
    return 0;
}

void sluice_io_request_set_context(sluice_io_request *request, void *request_context) {
    request->context = request_context;
}

