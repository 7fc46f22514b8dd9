/*
 * Answers on their way to the socket: respond fills in the request's record, deliver writes
 * it and moves the connection on. An answer given on the loop is sent from where it lies
 * (the head on respond's stack, the body in the caller's memory), pipelined answers ready
 * together are gathered into one write, and what the socket does not take is queued behind a
 * uv_write. It is C because it writes to the loop's sockets.
 */
#include "io_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
        sluice__conn_abort(conn);
        return;
    }
    if (!sluice__conn_write_queue_full(conn)) {
        sluice__conn_update_reading(conn);
        sluice__conn_process(conn);
    }
}

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
    sluice__conn_flush_cork(conn); /* gathered answers go first */
    if (conn->closing) return;
    uv_buf_t bufs[2] = {uv_buf_init((char *)head, (unsigned int)head_len),
                        uv_buf_init((char *)body, (unsigned int)body_len)};
    int n = try_send(conn, bufs, body_len ? 2 : 1);
    if (n < 0 && n != UV_EAGAIN) {
        sluice__conn_abort(conn);
        return;
    }
    size_t written = n > 0 ? (size_t)n : 0;
    size_t total = head_len + body_len;
    if (written == total) return;
    sluice_io_output *rest = sluice__output_alloc(total - written);
    if (rest == NULL) {
        sluice__conn_abort(conn);
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
    sluice__conn_write(conn, rest);
}

/* Tries the socket first so that small answers cost no allocation of a write request. */
void sluice__conn_write(sluice_io_conn *conn, sluice_io_output *out) {
    sluice__conn_flush_cork(conn); /* gathered answers go first */
    if (out == NULL || conn->closing) {
        free(out);
        sluice__conn_abort(conn);
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
        sluice__conn_abort(conn);
        return;
    }
    if (n > 0) {
        buf.base += n;
        buf.len -= (unsigned int)n;
    }
    if (uv_write(&out->write, (uv_stream_t *)&conn->tcp, &buf, 1, on_write) != 0) {
        free(out);
        sluice__conn_abort(conn);
    }
}

void sluice__conn_flush_cork(sluice_io_conn *conn) {
    sluice_io_output *cork = conn->cork;
    if (cork == NULL) return;
    conn->cork = NULL;
    sluice__conn_write(conn, cork);
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
        sluice__conn_flush_cork(conn);
    }
}

/* An answer taken out of its request's record, which is recycled before the answer is written. */
typedef struct {
    sluice_io_output *out; /* a built answer; NULL when lent, dropped, or out of memory */
    const char *head;      /* a lent answer: the head on respond's stack, the body the caller's */
    size_t head_len;
    const void *body;
    size_t body_len;
} taken_answer;

/* Gives the record back to its loop, with the engine's context for it. */
static void release_record(sluice_io_request *request) {
    const sluice_io_callbacks *callbacks = &request->loop->server->callbacks;
    if (request->context) callbacks->release_request_context(callbacks->context, request->context);
    sluice__request_recycle(request->loop, request);
}

/* Ends the answered request's streamed body, if any; 1 if the handler left part of it unread,
 * which leaves the framing of what follows unknown. */
static int end_request_body(sluice_io_conn *conn) {
    int unread = conn->body_streaming && !conn->body_done;
    conn->body_streaming = conn->body_done = conn->body_failed = conn->continue_pending = 0;
    conn->body_credit = 0;
    conn->body_len = 0; /* counted the streamed bytes; the next request's view must not see it */
    if (conn->body_timer) uv_timer_stop(conn->body_timer);
    return unread;
}

/* Gathers the answer with the others when gather allows and it fits; else writes it now. */
static void send_answer(sluice_io_conn *conn, int gather, const taken_answer *answer) {
    if (answer->head) {
        if (!gather || !cork_answer(conn, answer->head, answer->head_len, answer->body, answer->body_len)) {
            write_lent(conn, answer->head, answer->head_len, answer->body, answer->body_len);
        }
    } else if (gather && answer->out != NULL && cork_answer(conn, answer->out->data, answer->out->len, NULL, 0)) {
        free(answer->out);
    } else {
        sluice__conn_write(conn, answer->out);
    }
}

void sluice__conn_deliver(sluice_io_request *request) {
    sluice_io_conn *conn = request->conn;
    taken_answer answer = {request->output, request->lent_head, request->lent_head_len, request->lent_body,
                           request->lent_body_len};
    int close = request->close_after;
    int drop = request->drop;
    release_record(request);
    if (conn == NULL || conn->closing) {
        free(answer.out);
        return;
    }
    conn->current = NULL; /* before any close: the record is recycled, the engine is done with it */
    if (drop) {
        free(answer.out);
        sluice__conn_abort(conn);
        return;
    }
    int body_unread = end_request_body(conn);
    /* Answered while the loop processes this connection or runs its jobs, with another request
     * already read behind it (pipelining): gathered, and sent with the next ones in one write
     * (the last of them joins the others too: it leaves with them, at the same moment). */
    int gather = (conn->processing || conn->loop->running_jobs) && (conn->more_input || conn->cork != NULL) &&
                 !close && !body_unread && !conn->peer_eof && !conn->loop->draining;
    send_answer(conn, gather, &answer);
    if (conn->closing) return;
    /* After a FIN the requests the client sent before it are still answered, in order (a
     * client that pipelines and then half-closes waits for them); then the connection ends. */
    if (close || body_unread || (conn->peer_eof && conn->len == 0) || conn->loop->draining) {
        sluice__conn_begin_closing(conn);
        return;
    }
    conn->state = CONN_HEAD;
    sluice__conn_arm_timer(conn, conn->len > 0 ? CONN_TIMER_HEADER : CONN_TIMER_IDLE);
    sluice__conn_process(conn);
}

/*
 * Puts the answer in the request's record. On the loop it is lent: its head written into head
 * (respond's stack, SLUICE_IO_STACK_HEAD_BYTES) with a small body joined to it, a larger body
 * left where the caller has it, both written by deliver before respond returns. Off the loop,
 * or too large for head, it is copied whole into an output.
 */
static void lend_or_build(sluice_io_request *request, char *head, int on_loop, int status, const char *headers,
                          size_t headers_len, const void *body, size_t body_len) {
    int connection = request->close_after ? SLUICE_CONNECTION_CLOSE
                     : request->http10    ? SLUICE_CONNECTION_KEEP_ALIVE
                                          : SLUICE_CONNECTION_DEFAULT;
    size_t capacity = SLUICE_IO_STACK_HEAD_BYTES, head_len = 0, send_body = 0;
    /* uv_try_write counts in an int: larger answers are copied whole. */
    if (on_loop && body_len <= INT_MAX - capacity) {
        head_len = sluice__response_head_into(head, capacity, status, request->is_head, connection, headers,
                                              headers_len, body_len, &send_body);
    }
    if (head_len > 0 && send_body <= capacity - head_len) {
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
    if (!request->drop) lend_or_build(request, head, on_loop, status, headers, headers_len, body, body_len);
    if (on_loop) {
        /* Streaming calls queued before this answer go first: they may refer to this request. */
        sluice__stream_run_messages(loop);
        sluice__conn_deliver(request);
    } else {
        sluice__loop_post_response(loop, request);
    }
}
