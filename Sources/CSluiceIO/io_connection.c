/*
 * One client connection: read, frame, hand a request to the engine, write its
 * answer, keep alive or close. It is C because every step touches libuv handles,
 * which belong to the loop thread.
 *
 * Requests of a connection are handed over one at a time, so pipelined answers
 * leave in request order by construction. While a request is with the engine
 * the connection keeps reading (to notice a client that leaves) until its
 * buffer is full. It stops reading while its unsent output is above the high
 * water mark, so a client that never reads cannot grow the server's memory.
 */
#include "io_internal.h"
#include "http_chars.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { TIMER_NONE, TIMER_HEADER, TIMER_IDLE, TIMER_LINGER, TIMER_REQUEST };
enum { STEP_STOP, STEP_CONTINUE };

/* After an error answer, how long a closing connection drains the client's input. */
#define SLUICE_CONN_LINGER_MS 2000
/* The head parser re-reads the head from its start; this bounds the re-reads of a trickled head. */
#define SLUICE_CONN_RESCAN_BYTES 512

static void conn_process(sluice_io_conn *conn);
static void conn_close(sluice_io_conn *conn);

static size_t buffer_limit(const sluice_io_server *server) {
    /* Room for the largest head the limits allow, so the parser refuses before the buffer fills. */
    return server->options.max_request_line + server->options.max_header_bytes + 4096;
}

static void set_timer(sluice_io_conn *conn, int mode, uint64_t ms);

static void on_timer(uv_timer_t *timer);

static void arm_timer(sluice_io_conn *conn, int mode) {
    const sluice_io_options *o = &conn->loop->server->options;
    uint64_t ms = mode == TIMER_IDLE ? o->idle_timeout_ms : mode == TIMER_LINGER ? SLUICE_CONN_LINGER_MS : o->header_timeout_ms;
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
    if (mode == TIMER_NONE) return;
    uint64_t due = uv_now(&conn->loop->uv) + ms;
    conn->timer_due = due;
    if (conn->timer_armed_due == 0 || due < conn->timer_armed_due) {
        uv_timer_start(&conn->timer, on_timer, ms, 0);
        conn->timer_armed_due = due;
    }
}

static int write_queue_full(sluice_io_conn *conn) {
    return uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp) > conn->loop->server->options.write_high_water;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Reads while there is room and the output is below its bound; a closing connection reads to discard. */
static void update_reading(sluice_io_conn *conn) {
    if (conn->closing) return;
    int want = !conn->peer_eof && !conn->body_failed && (conn->state == CONN_CLOSING ||
                                   (!write_queue_full(conn) && conn->len < buffer_limit(conn->loop->server)));
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

/* Keeps an answered request's record for the next request, or frees it. Loop thread: every
 * answer is delivered there (or, after the loops stop, by the thread that frees the server,
 * before the spares are freed). */
static void request_recycle(sluice_io_loop *loop, sluice_io_request *request) {
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
        arm_timer(conn, TIMER_LINGER);
    }
}

static void flush_cork(sluice_io_conn *conn);

/* Stops taking requests: the answers queued so far go out, then FIN, then input is drained and dropped. */
static void begin_closing(sluice_io_conn *conn) {
    if (conn->closing || conn->state == CONN_CLOSING) return;
    flush_cork(conn);
    if (conn->closing) return;
    conn->state = CONN_CLOSING;
    conn->len = 0;
    /* Bounded even when the client never reads what is queued for it. */
    arm_timer(conn, TIMER_HEADER);
    conn->shutdown.data = conn;
    if (uv_shutdown(&conn->shutdown, (uv_stream_t *)&conn->tcp, on_shutdown) != 0) {
        conn_close(conn);
        return;
    }
    update_reading(conn);
}

/* Tells the engine that payload of the current streamed response reached the socket. */
static void notify_written(sluice_io_conn *conn, const sluice_io_output *out) {
    if (out->kind != SLUICE_MSG_WRITE || out->value == 0 || conn->closing) return;
    sluice_io_request *request = conn->current;
    if (request == NULL || request->context == NULL || out->response_seq != conn->response_seq) return;
    const sluice_io_callbacks *callbacks = &conn->loop->server->callbacks;
    if (callbacks->on_response_written) {
        callbacks->on_response_written(callbacks->context, request->context, (size_t)out->value);
    }
}

static void on_write(uv_write_t *req, int status) {
    sluice_io_output *out = (sluice_io_output *)req;
    sluice_io_conn *conn = out->conn;
    if (status == 0) notify_written(conn, out);
    free(out);
    if (conn->closing) return;
    if (status < 0) {
        conn_close(conn);
        return;
    }
    if (!write_queue_full(conn)) {
        update_reading(conn);
        conn_process(conn);
    }
}

static void write_output(sluice_io_conn *conn, sluice_io_output *out);

/*
 * uv_try_write's contract (bytes the socket took; UV_EAGAIN when it takes none or writes are
 * queued ahead; or an error) for one or two buffers, through send(2): libuv's write(2) passes
 * the kernel's file layer before the socket's (about 1% of a small request's CPU). MSG_NOSIGNAL:
 * a client gone is an error here, never a SIGPIPE.
 */
static int try_send(sluice_io_conn *conn, const uv_buf_t *bufs, unsigned int nbufs) {
    uv_stream_t *stream = (uv_stream_t *)&conn->tcp;
    if (uv_stream_get_write_queue_size(stream) != 0) return UV_EAGAIN;
    if (!uv_is_writable(stream)) return UV_EPIPE;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)stream, &fd) != 0) return UV_EBADF;
    struct iovec iov[2];
    for (unsigned int i = 0; i < nbufs; i++) iov[i] = (struct iovec){bufs[i].base, bufs[i].len};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = nbufs};
    ssize_t n;
    do {
        n = nbufs == 1 ? send(fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT | MSG_NOSIGNAL)
                       : sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return UV_EAGAIN;
    return -errno;
}

/*
 * Writes an answer given on the loop from where it lies: the head on respond's stack, the
 * body in the caller's memory. What the socket does not take at once (or at all, behind
 * queued writes) is copied into an output and queued, since that memory is gone when
 * respond returns.
 */
static void write_lent(sluice_io_conn *conn, const char *head, size_t head_len, const void *body, size_t body_len) {
    flush_cork(conn); /* gathered answers go first */
    if (conn->closing) return;
    uv_buf_t bufs[2] = {uv_buf_init((char *)head, (unsigned int)head_len),
                        uv_buf_init((char *)body, (unsigned int)body_len)};
    int n = try_send(conn, bufs, body_len ? 2 : 1);
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(conn);
        return;
    }
    size_t written = n > 0 ? (size_t)n : 0;
    size_t total = head_len + body_len;
    if (written == total) return;
    sluice_io_output *rest = sluice__output_alloc(total - written);
    if (rest == NULL) {
        conn_close(conn);
        return;
    }
    if (written < head_len) {
        memcpy(rest->data, head + written, head_len - written);
        rest->len = head_len - written;
        if (body_len) memcpy(rest->data + rest->len, body, body_len);
        rest->len += body_len;
    } else {
        size_t body_done = written - head_len;
        memcpy(rest->data, (const char *)body + body_done, body_len - body_done);
        rest->len = body_len - body_done;
    }
    write_output(conn, rest);
}

/* Tries the socket first so that small answers cost no allocation of a write request. */
static void write_output(sluice_io_conn *conn, sluice_io_output *out) {
    flush_cork(conn); /* gathered answers go first */
    if (out == NULL || conn->closing) {
        free(out);
        conn_close(conn);
        return;
    }
    out->conn = conn;
    uv_buf_t buf = uv_buf_init(out->data, (unsigned int)out->len);
    if (out->len == 0) { /* a streamed chunk that was all dropped (HEAD, past Content-Length) */
        notify_written(conn, out);
        free(out);
        return;
    }
    int n = try_send(conn, &buf, 1);
    if (n == (int)out->len) {
        notify_written(conn, out);
        free(out);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        free(out);
        conn_close(conn);
        return;
    }
    if (n > 0) {
        buf.base += n;
        buf.len -= (unsigned int)n;
    }
    if (uv_write(&out->write, (uv_stream_t *)&conn->tcp, &buf, 1, on_write) != 0) {
        free(out);
        conn_close(conn);
    }
}

/* Sends the answers gathered so far, if any. */
static void flush_cork(sluice_io_conn *conn) {
    sluice_io_output *cork = conn->cork;
    if (cork == NULL) return;
    conn->cork = NULL;
    write_output(conn, cork);
}

/*
 * Gathers an answer (head, then body) to be sent with the others when the connection's
 * processing ends, or the loop's jobs are done; 0 when it does not fit beside them (or no
 * memory): it is then written at once, after them.
 */
static int cork_answer(sluice_io_conn *conn, const char *head, size_t head_len, const void *body, size_t body_len) {
    size_t used = conn->cork ? conn->cork->len : 0;
    if (head_len > SLUICE_IO_CORK_BYTES - used || body_len > SLUICE_IO_CORK_BYTES - used - head_len) return 0;
    if (conn->cork == NULL && (conn->cork = sluice__output_alloc(SLUICE_IO_CORK_BYTES)) == NULL) return 0;
    sluice_io_loop *loop = conn->loop;
    if (loop->running_jobs && !conn->listed_corked) { /* sent when the jobs are done */
        conn->listed_corked = 1;
        conn->next_corked = loop->corked;
        loop->corked = conn;
    }
    memcpy(conn->cork->data + used, head, head_len);
    if (body_len) memcpy(conn->cork->data + used + head_len, body, body_len);
    conn->cork->len = used + head_len + body_len;
    return 1;
}

void sluice__conn_flush_corked(sluice_io_loop *loop) {
    /* Within the callback that listed them: closed connections are not yet freed. */
    while (loop->corked) {
        sluice_io_conn *conn = loop->corked;
        loop->corked = conn->next_corked;
        conn->listed_corked = 0;
        flush_cork(conn);
    }
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
static void send_error(sluice_io_conn *conn, int status, const char *message, const sluice_http_request *head) {
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
    write_output(conn, sluice__response_error(status, message, id, id_len));
    begin_closing(conn);
}

static void on_timer(uv_timer_t *timer) {
    sluice_io_conn *conn = timer->data;
    conn->timer_armed_due = 0;
    if (conn->timer_mode == TIMER_NONE) return;
    uint64_t now = uv_now(&conn->loop->uv);
    if (conn->timer_due > now) { /* armed for an earlier mode; what is set now is due later */
        uv_timer_start(&conn->timer, on_timer, conn->timer_due - now, 0);
        conn->timer_armed_due = conn->timer_due;
        return;
    }
    int mode = conn->timer_mode;
    conn->timer_mode = TIMER_NONE;
    if (mode == TIMER_REQUEST) {
        const sluice_io_callbacks *callbacks = &conn->loop->server->callbacks;
        if (conn->current) callbacks->on_request_timer(callbacks->context, conn->current->context);
        return;
    }
    if (mode == TIMER_LINGER || conn->state == CONN_CLOSING) {
        conn_close(conn);
        return;
    }
    atomic_fetch_add(&conn->loop->server->timeouts, 1);
    if (conn->state == CONN_HEAD && conn->len == 0) {
        conn_close(conn); /* idle, or never sent a byte: nothing to answer */
    } else {
        send_error(conn, 408, "request timeout", NULL);
    }
}

/* Removes n bytes at offset from the read buffer. */
static void consume(sluice_io_conn *conn, size_t offset, size_t n) {
    memmove(conn->buf + offset, conn->buf + offset + n, conn->len - offset - n);
    conn->len -= n;
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

/* Hands the parsed request to the engine; the connection then waits for its answer. */
static void dispatch(sluice_io_conn *conn) {
    sluice_io_loop *loop = conn->loop;
    if (!conn->head_parse_valid) {
        size_t len = conn->len;
        conn->len = conn->head_len; /* the head alone, as it was first parsed */
        int rc = parse_head(conn);
        conn->len = len;
        if (rc != (int)conn->head_len) {
            conn_close(conn);
            return;
        }
    }
    sluice_io_request *request = request_new(loop);
    if (request == NULL) {
        send_error(conn, 500, "out of memory", NULL);
        return;
    }
    request->loop = loop;
    request->conn = conn;
    request->is_head = conn->head.is_head;
    request->keep_alive = conn->head.keep_alive;
    request->http10 = conn->head.version_minor == 0;
    conn->current = request;
    conn->response_seq++;
    conn->state = CONN_WAITING;
    set_timer(conn, TIMER_NONE, 0);
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
    free(conn->body);
    conn->body = NULL;
    conn->body_in_buffer = 0;
    conn->body_len = 0;
    /* The engine may have answered inside on_request; if that answer closed the connection,
     * its input was discarded (begin_closing) and there is no head left to consume. */
    if (conn->closing || conn->state == CONN_CLOSING) return;
    consume(conn, 0, conn->head_len + body_in_buffer);
    /* Answered inside on_request: the wait was armed before the head was consumed. */
    if (conn->state == CONN_HEAD && conn->len == 0) arm_timer(conn, TIMER_IDLE);
    conn->head_len = 0;
    conn->head_parse_valid = 0;
    conn->scanned = 0;
}

static void write_continue(sluice_io_conn *conn) {
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    write_output(conn, sluice__response_raw(line, sizeof(line) - 1));
}

static void send_continue(sluice_io_conn *conn) {
    /* Only if the client is still waiting: none of the body has arrived yet. */
    if (conn->head.expect_continue && conn->len == conn->head_len) write_continue(conn);
}

static int start_body(sluice_io_conn *conn) {
    const sluice_io_server *server = conn->loop->server;
    conn->body_len = 0;
    if (conn->head.body_kind == SLUICE_HTTP_BODY_LENGTH) {
        conn->body_expected = conn->head.content_length;
        conn->body = malloc((size_t)conn->body_expected);
        conn->state = CONN_BODY_LENGTH;
    } else {
        conn->body_expected = 0;
        conn->body = NULL;
        sluice_http_chunked_init(&conn->chunked, conn->body_limit, server->options.max_header_bytes);
        conn->state = CONN_BODY_CHUNKED;
    }
    if (conn->head.body_kind == SLUICE_HTTP_BODY_LENGTH && conn->body == NULL) {
        send_error(conn, 500, "out of memory", NULL);
        return STEP_STOP;
    }
    arm_timer(conn, TIMER_HEADER);
    send_continue(conn);
    return STEP_CONTINUE;
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

/* Hands the request over now; its body follows through on_body as the engine grants credit. */
static void start_body_stream(sluice_io_conn *conn) {
    const sluice_io_server *server = conn->loop->server;
    conn->body_streaming = 1;
    conn->body_done = 0;
    conn->body_failed = 0;
    conn->body_credit = 0;
    conn->body_len = 0;
    conn->body_expected = conn->head.body_kind == SLUICE_HTTP_BODY_LENGTH ? conn->head.content_length : 0;
    if (conn->head.body_kind == SLUICE_HTTP_BODY_CHUNKED) {
        sluice_http_chunked_init(&conn->chunked, conn->body_limit, server->options.max_header_bytes);
    }
    /* 100 (Continue) waits for the handler's first read, and only if no body byte came first. */
    conn->continue_pending = conn->head.expect_continue && conn->len == conn->head_len;
    dispatch(conn);
}

static void deliver_body(sluice_io_conn *conn, const char *data, size_t len, int status) {
    const sluice_io_callbacks *callbacks = &conn->loop->server->callbacks;
    if (conn->current && conn->current->context && callbacks->on_body) {
        callbacks->on_body(callbacks->context, conn->current->context, (const uint8_t *)data, len, status);
    }
}

static void end_body_stream(sluice_io_conn *conn, int status) {
    conn->body_done = status == SLUICE_IO_BODY_END;
    conn->body_failed = status < 0;
    conn->continue_pending = 0;
    if (conn->body_failed) conn->len = 0; /* the framing is lost: nothing after it can be trusted */
    deliver_body(conn, NULL, 0, status);
}

static void on_body_timer(uv_timer_t *timer) {
    sluice_io_conn *conn = timer->data;
    if (conn->closing || !conn->body_streaming || conn->body_done || conn->body_failed) return;
    atomic_fetch_add(&conn->loop->server->timeouts, 1);
    end_body_stream(conn, -408);
}

/*
 * While the engine has credit left and nothing to deliver, the client owes the next bytes
 * within the header timeout (a slowloris upload); while the engine holds no credit, the
 * wait is the server's, and nothing runs.
 */
static void update_body_timer(sluice_io_conn *conn) {
    int client_owes = !conn->closing && conn->body_streaming && !conn->body_done && !conn->body_failed &&
                      conn->body_credit > 0;
    if (client_owes && conn->body_timer == NULL) {
        conn->body_timer = malloc(sizeof(*conn->body_timer));
        if (conn->body_timer == NULL) return; /* without it, the deadline still bounds the wait */
        uv_timer_init(&conn->loop->uv, conn->body_timer);
        conn->body_timer->data = conn;
    }
    if (conn->body_timer == NULL) return;
    if (client_owes) {
        uv_timer_start(conn->body_timer, on_body_timer, conn->loop->server->options.header_timeout_ms, 0);
    } else {
        uv_timer_stop(conn->body_timer);
    }
}

/* Passes body bytes from the read buffer to the engine, never more than its credit. */
static int step_body_stream(sluice_io_conn *conn) {
    while (!conn->closing && conn->body_streaming && !conn->body_done && !conn->body_failed) {
        if (conn->head.body_kind == SLUICE_HTTP_BODY_LENGTH) {
            uint64_t missing = conn->body_expected - conn->body_len;
            if (missing == 0) {
                end_body_stream(conn, SLUICE_IO_BODY_END);
                break;
            }
            size_t take = conn->len;
            if (take > missing) take = (size_t)missing;
            if (take > conn->body_credit) take = (size_t)conn->body_credit;
            if (take == 0) break;
            conn->body_len += take;
            conn->body_credit -= take;
            deliver_body(conn, conn->buf, take, SLUICE_IO_BODY_DATA);
            if (conn->closing || conn->state != CONN_WAITING || !conn->body_streaming) break;
            consume(conn, 0, take);
            continue;
        }
        /* Chunked: the decoder sees no more than the credit, so no span can exceed it; it
         * keeps its place in the framing byte by byte, so a short view still makes progress. */
        if (conn->len == 0 || conn->body_credit == 0) break;
        size_t view = conn->len < conn->body_credit ? conn->len : (size_t)conn->body_credit;
        size_t consumed = 0, offset = 0, n = 0;
        int rc = sluice_http_chunked_decode(&conn->chunked, conn->buf, view, &consumed, &offset, &n);
        if (rc < 0 && rc != SLUICE_HTTP_INCOMPLETE) {
            atomic_fetch_add(&conn->loop->server->requests_refused, 1);
            end_body_stream(conn, -sluice_http_error_status(rc));
            break;
        }
        if (rc == SLUICE_HTTP_CHUNK_DATA && n > 0) {
            conn->body_credit -= n;
            deliver_body(conn, conn->buf + offset, n, SLUICE_IO_BODY_DATA);
            if (conn->closing || conn->state != CONN_WAITING || !conn->body_streaming) break;
        }
        consume(conn, 0, consumed);
        if (rc == SLUICE_HTTP_CHUNK_END) end_body_stream(conn, SLUICE_IO_BODY_END);
        else if (rc == SLUICE_HTTP_INCOMPLETE) break;
    }
    if (!conn->closing) update_body_timer(conn);
    return STEP_STOP;
}

void sluice__conn_grant_body(sluice_io_conn *conn, uint64_t credit) {
    if (conn->closing || !conn->body_streaming) return;
    if (conn->continue_pending) {
        conn->continue_pending = 0;
        /* The head was consumed at dispatch: anything left is body the client sent unasked. */
        if (conn->len == 0) write_continue(conn);
    }
    conn->body_credit += credit;
    conn_process(conn);
}

void sluice__conn_write(sluice_io_conn *conn, sluice_io_output *out) { write_output(conn, out); }

static int step_head(sluice_io_conn *conn) {
    if (conn->len == 0 || write_queue_full(conn)) return STEP_STOP;
    /* A head arriving in small pieces is re-parsed only when a line may have ended. */
    if (conn->scanned > 0 && conn->len - conn->scanned < SLUICE_CONN_RESCAN_BYTES &&
        memchr(conn->buf + conn->scanned, '\n', conn->len - conn->scanned) == NULL) {
        return STEP_STOP;
    }
    int rc = parse_head(conn);
    if (rc == SLUICE_HTTP_INCOMPLETE) {
        conn->scanned = conn->len;
        if (conn->timer_mode != TIMER_HEADER) arm_timer(conn, TIMER_HEADER);
        return STEP_STOP;
    }
    if (rc < 0) {
        send_error(conn, sluice_http_error_status(rc), sluice_http_error_message(rc), &conn->head);
        return STEP_STOP;
    }
    atomic_fetch_add(&conn->loop->server->requests_parsed, 1);
    conn->head_len = (size_t)rc;
    conn->head_parse_valid = 1;
    conn->plan = NULL; /* a new head: nothing planned for it yet */
    if (conn->head.body_kind == SLUICE_HTTP_BODY_NONE) {
        dispatch(conn);
        return STEP_CONTINUE;
    }
    int stream = plan_body(conn);
    if (conn->head.body_kind == SLUICE_HTTP_BODY_LENGTH && conn->head.content_length > conn->body_limit) {
        send_error(conn, 413, sluice_http_error_message(SLUICE_HTTP_ERR_BODY_TOO_LARGE), &conn->head);
        return STEP_STOP;
    }
    if (!stream && conn->head.body_kind == SLUICE_HTTP_BODY_LENGTH &&
        conn->len - conn->head_len >= conn->head.content_length) {
        /* The whole body came with its head (the common case for small bodies): the engine
         * copies it straight out of the read buffer. */
        conn->body_in_buffer = 1;
        conn->body_len = conn->head.content_length;
        dispatch(conn);
        return STEP_CONTINUE;
    }
    if (!stream) return start_body(conn);
    start_body_stream(conn);
    return STEP_CONTINUE;
}

static int step_body_length(sluice_io_conn *conn) {
    size_t avail = conn->len - conn->head_len;
    uint64_t missing = conn->body_expected - conn->body_len;
    size_t take = missing < avail ? (size_t)missing : avail;
    memcpy(conn->body + conn->body_len, conn->buf + conn->head_len, take);
    conn->body_len += take;
    consume(conn, conn->head_len, take);
    if (conn->body_len < conn->body_expected) return STEP_STOP;
    dispatch(conn);
    return STEP_CONTINUE;
}

static int append_body(sluice_io_conn *conn, const char *data, size_t n) {
    size_t needed = (size_t)conn->body_len + n;
    if (needed > conn->body_expected) {
        size_t capacity = conn->body_expected ? (size_t)conn->body_expected * 2 : 4096;
        if (capacity < needed) capacity = needed;
        uint8_t *body = realloc(conn->body, capacity);
        if (body == NULL) return -1;
        conn->body = body;
        conn->body_expected = capacity; /* for chunked bodies: the capacity */
    }
    memcpy(conn->body + conn->body_len, data, n);
    conn->body_len += n;
    return 0;
}

static int step_body_chunked(sluice_io_conn *conn) {
    for (;;) {
        size_t consumed = 0, offset = 0, n = 0;
        int rc = sluice_http_chunked_decode(&conn->chunked, conn->buf + conn->head_len, conn->len - conn->head_len,
                                            &consumed, &offset, &n);
        if (rc < 0 && rc != SLUICE_HTTP_INCOMPLETE) {
            send_error(conn, sluice_http_error_status(rc), sluice_http_error_message(rc), NULL);
            return STEP_STOP;
        }
        if (rc == SLUICE_HTTP_CHUNK_DATA && append_body(conn, conn->buf + conn->head_len + offset, n) != 0) {
            send_error(conn, 500, "out of memory", NULL);
            return STEP_STOP;
        }
        consume(conn, conn->head_len, consumed);
        if (rc == SLUICE_HTTP_INCOMPLETE) return STEP_STOP;
        if (rc == SLUICE_HTTP_CHUNK_END) {
            dispatch(conn);
            return STEP_CONTINUE;
        }
    }
}

static void conn_process(sluice_io_conn *conn) {
    if (conn->processing) return;
    conn->processing = 1;
    int step = STEP_CONTINUE;
    while (step == STEP_CONTINUE && !conn->closing) {
        switch (conn->state) {
        case CONN_HEAD: step = step_head(conn); break;
        case CONN_BODY_LENGTH: step = step_body_length(conn); break;
        case CONN_BODY_CHUNKED: step = step_body_chunked(conn); break;
        case CONN_WAITING: step = conn->body_streaming ? step_body_stream(conn) : STEP_STOP; break;
        default: step = STEP_STOP; break;
        }
    }
    conn->processing = 0;
    if (!conn->loop->running_jobs) flush_cork(conn); /* else when the jobs are done */
    /* Half-closed, and no whole request of the client's is left: nothing more can come, and
     * a head or body cut short by the FIN never completes. */
    if (conn->peer_eof && !conn->closing &&
        (conn->state == CONN_HEAD || conn->state == CONN_BODY_LENGTH || conn->state == CONN_BODY_CHUNKED)) {
        begin_closing(conn);
    }
    release_buffer(conn);
    update_reading(conn);
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
        update_reading(conn);
        return;
    }
    if (nread < 0) {
        /* FIN while a request is out: tell the engine, but still answer a client that only half-closed. */
        if (nread == UV_EOF && conn->state == CONN_WAITING && conn->current) {
            conn->peer_eof = 1;
            sluice_io_loop *loop = conn->loop;
            loop->server->callbacks.on_request_aborted(loop->server->callbacks.context, conn->current->context);
            update_reading(conn);
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
    if (conn->state == CONN_HEAD && conn->timer_mode == TIMER_IDLE) arm_timer(conn, TIMER_HEADER);
    if (conn->state == CONN_BODY_LENGTH || conn->state == CONN_BODY_CHUNKED) arm_timer(conn, TIMER_HEADER);
    sluice_io_loop *loop = conn->loop;
    conn_process(conn);
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
    arm_timer(conn, TIMER_HEADER);
    update_reading(conn);
}

void sluice__conn_deliver(sluice_io_request *request) {
    sluice_io_conn *conn = request->conn;
    sluice_io_output *out = request->output;
    int close = request->close_after;
    int drop = request->drop;
    const char *lent_head = request->lent_head;
    size_t lent_head_len = request->lent_head_len;
    const void *lent_body = request->lent_body;
    size_t lent_body_len = request->lent_body_len;
    const sluice_io_callbacks *callbacks = &request->loop->server->callbacks;
    if (request->context) callbacks->release_request_context(callbacks->context, request->context);
    request_recycle(request->loop, request);
    if (conn == NULL || conn->closing) {
        free(out);
        return;
    }
    conn->current = NULL;
    if (drop) {
        free(out);
        conn_close(conn);
        return;
    }
    /* A streamed body the handler did not read to its end leaves the framing unknown. */
    int body_unread = conn->body_streaming && !conn->body_done;
    conn->body_streaming = conn->body_done = conn->body_failed = conn->continue_pending = 0;
    conn->body_credit = 0;
    conn->body_len = 0; /* counted the streamed bytes; the next request's view must not see it */
    if (conn->body_timer) uv_timer_stop(conn->body_timer);
    /* Answered while the loop processes this connection or runs its jobs, with another request
     * already read behind it (pipelining): gathered, and sent with the next ones in one write
     * (the last of them joins the others too: it leaves with them, at the same moment). */
    int gather = (conn->processing || conn->loop->running_jobs) && (conn->more_input || conn->cork != NULL) &&
                 !close && !body_unread && !conn->peer_eof && !conn->loop->draining;
    if (lent_head) {
        if (!gather || !cork_answer(conn, lent_head, lent_head_len, lent_body, lent_body_len)) {
            write_lent(conn, lent_head, lent_head_len, lent_body, lent_body_len);
        }
    } else if (gather && out != NULL && cork_answer(conn, out->data, out->len, NULL, 0)) {
        free(out);
    } else {
        write_output(conn, out);
    }
    if (conn->closing) return;
    /* After a FIN the requests the client sent before it are still answered, in order (a
     * client that pipelines and then half-closes waits for them); then the connection ends. */
    if (close || body_unread || (conn->peer_eof && conn->len == 0) || conn->loop->draining) {
        begin_closing(conn);
        return;
    }
    conn->state = CONN_HEAD;
    arm_timer(conn, conn->len > 0 ? TIMER_HEADER : TIMER_IDLE);
    conn_process(conn);
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
    set_timer(conn, ms ? TIMER_REQUEST : TIMER_NONE, ms);
    return 0;
}

void sluice_io_request_set_context(sluice_io_request *request, void *request_context) {
    request->context = request_context;
}

void sluice_io_respond(sluice_io_request *request, int status, const char *headers, size_t headers_len,
                       const void *body, size_t body_len, int flags) {
    sluice_io_loop *loop = request->loop;
    request->drop = (flags & SLUICE_IO_RESPOND_DROP) != 0;
    request->close_after = (flags & SLUICE_IO_RESPOND_CLOSE) || !request->keep_alive ||
                           atomic_load(&loop->stop_accepting_requested);
    int on_loop = sluice__current_loop == loop;
    /* Answered before its streamed body ended: the connection closes after this answer
     * (deliver), and the answer says so (RFC 9110 10.1.1). Off the loop it cannot be known
     * yet; the connection closes all the same. */
    sluice_io_conn *conn = request->conn;
    if (on_loop && conn != NULL && conn->current == request && conn->body_streaming && !conn->body_done) {
        request->close_after = 1;
    }
    /* Lives until deliver, below, has written it or copied what the socket left. */
    char head[SLUICE_IO_STACK_HEAD_BYTES];
    if (!request->drop) {
        int connection = request->close_after ? SLUICE_CONNECTION_CLOSE
                         : request->http10    ? SLUICE_CONNECTION_KEEP_ALIVE
                                              : SLUICE_CONNECTION_DEFAULT;
        size_t head_len = 0, send_body = 0;
        /* uv_try_write counts in an int: larger answers are copied whole. */
        if (on_loop && body_len <= INT_MAX - sizeof(head)) {
            head_len = sluice__response_head_into(head, sizeof(head), status, request->is_head, connection, headers,
                                                  headers_len, body_len, &send_body);
        }
        if (head_len > 0 && send_body <= sizeof(head) - head_len) {
            /* A small body joins its head: one buffer is one plain write for the kernel. */
            if (send_body) memcpy(head + head_len, body, send_body);
            request->lent_head = head;
            request->lent_head_len = head_len + send_body;
            request->lent_body = NULL;
            request->lent_body_len = 0;
        } else if (head_len > 0) {
            request->lent_head = head;
            request->lent_head_len = head_len;
            request->lent_body = body;
            request->lent_body_len = send_body;
        } else {
            request->output = sluice__response_build(status, request->is_head, connection, headers, headers_len, body,
                                                     body_len);
        }
    }
    if (on_loop) {
        /* Streaming calls queued before this answer go first: they may refer to this request. */
        sluice__stream_run_messages(loop);
        sluice__conn_deliver(request);
    } else {
        sluice__loop_post_response(loop, request);
    }
}
