/*
 * Streaming calls: credit for a streamed request body, and a response written as it
 * goes (head, chunks, end). Any thread may call them; each becomes a message on the
 * request's loop, carried out there in call order. The calling thread frames the bytes
 * (chunk size line, CRLF) into the very block the loop then writes, so a chunk costs one
 * allocation and one copy.
 *
 * Messages are taken one at a time from the loop's list, never as a batch: a message
 * may lead to an answer on the loop (a 413 mid-body), and the answer first runs the
 * messages queued before it; those must still be in the list.
 */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

static sluice_io_output *take_message(sluice_io_loop *loop) {
    uv_mutex_lock(&loop->remote_lock);
    sluice_io_output *msg = loop->messages_head;
    if (msg) {
        loop->messages_head = msg->next;
        if (loop->messages_head == NULL) {
            loop->messages_tail = NULL;
            atomic_store(&loop->messages_pending, 0);
        }
    }
    uv_mutex_unlock(&loop->remote_lock);
    return msg;
}

static void run_message(sluice_io_output *msg) {
    sluice_io_request *request = msg->request;
    sluice_io_conn *conn = request->conn;
    int live = conn != NULL && !conn->closing && conn->current == request;
    switch (msg->kind) {
    case SLUICE_MSG_READ_BODY:
        if (live) sluice__conn_grant_body(conn, msg->value);
        free(msg);
        break;
    case SLUICE_MSG_START:
    case SLUICE_MSG_WRITE:
        if (live) {
            msg->response_seq = conn->response_seq;
            sluice__conn_write(conn, msg);
        } else {
            free(msg);
        }
        break;
    case SLUICE_MSG_END:
        request->drop = (msg->flags & SLUICE_IO_RESPOND_DROP) != 0;
        request->output = msg;
        sluice__conn_deliver(request);
        break;
    default:
        free(msg);
        break;
    }
}

void sluice__stream_run_messages(sluice_io_loop *loop) {
    if (!atomic_load(&loop->messages_pending)) return;
    sluice_io_output *msg;
    while ((msg = take_message(loop)) != NULL) run_message(msg);
}

static int post(sluice_io_request *request, sluice_io_output *msg, int kind) {
    if (msg == NULL) return UV_ENOMEM;
    sluice_io_loop *loop = request->loop;
    msg->kind = kind;
    msg->request = request;
    msg->next = NULL;
    uv_mutex_lock(&loop->remote_lock);
    if (loop->messages_tail) loop->messages_tail->next = msg;
    else loop->messages_head = msg;
    loop->messages_tail = msg;
    atomic_store(&loop->messages_pending, 1);
    uv_mutex_unlock(&loop->remote_lock);
    sluice__loop_kick(loop);
    return 0;
}

int sluice_io_request_read_body(sluice_io_request *request, size_t credit) {
    sluice_io_output *msg = sluice__output_alloc(0);
    if (msg) msg->value = credit;
    return post(request, msg, SLUICE_MSG_READ_BODY);
}

int sluice_io_response_start(sluice_io_request *request, int status, const char *headers, size_t headers_len,
                             int64_t content_length, int flags) {
    int bodiless = sluice__status_is_bodiless(status);
    int framing = content_length >= 0 ? SLUICE_FRAMING_LENGTH
                  : request->http10   ? SLUICE_FRAMING_CLOSE
                                      : SLUICE_FRAMING_CHUNKED;
    int close = (flags & SLUICE_IO_RESPOND_CLOSE) || !request->keep_alive || framing == SLUICE_FRAMING_CLOSE ||
                atomic_load(&request->loop->stop_accepting_requested);
    int connection = close ? SLUICE_CONNECTION_CLOSE : request->http10 ? SLUICE_CONNECTION_KEEP_ALIVE
                                                                        : SLUICE_CONNECTION_DEFAULT;
    sluice_io_output *head = sluice__response_head(status, connection, framing,
                                                   content_length >= 0 ? (uint64_t)content_length : 0, headers,
                                                   headers_len);
    if (head == NULL) return UV_ENOMEM;
    request->close_after = close;
    /* A HEAD answer or a bodiless status says what a body would be, and sends none. */
    request->framing = (request->is_head || bodiless) ? SLUICE_FRAMING_NONE : framing;
    request->body_left = content_length >= 0 ? (uint64_t)content_length : 0;
    return post(request, head, SLUICE_MSG_START);
}

/* Writes "<hex>\r\n" at out; returns its length. */
static size_t chunk_size_line(char *out, size_t n) {
    static const char digits[] = "0123456789abcdef";
    char reversed[16];
    size_t count = 0;
    do {
        reversed[count++] = digits[n & 0xf];
        n >>= 4;
    } while (n > 0);
    for (size_t i = 0; i < count; i++) out[i] = reversed[count - 1 - i];
    out[count] = '\r';
    out[count + 1] = '\n';
    return count + 2;
}

int sluice_io_response_write(sluice_io_request *request, const void *data, size_t len) {
    if (len == 0) return 0;
    size_t payload = len;
    if (request->framing == SLUICE_FRAMING_NONE) payload = 0;
    if (request->framing == SLUICE_FRAMING_LENGTH && payload > request->body_left) payload = (size_t)request->body_left;
    int chunked = request->framing == SLUICE_FRAMING_CHUNKED;
    sluice_io_output *msg = sluice__output_alloc(payload + (chunked ? 20 : 0));
    if (msg == NULL) return UV_ENOMEM;
    if (chunked) msg->len = chunk_size_line(msg->data, payload);
    memcpy(msg->data + msg->len, data, payload);
    msg->len += payload;
    if (chunked) {
        memcpy(msg->data + msg->len, "\r\n", 2);
        msg->len += 2;
    }
    if (request->framing == SLUICE_FRAMING_LENGTH) request->body_left -= payload;
    /* Dropped bytes are reported as written too, so the caller's accounting stays whole. */
    msg->value = len;
    return post(request, msg, SLUICE_MSG_WRITE);
}

int sluice_io_response_end(sluice_io_request *request, const char *trailers, size_t trailers_len, int flags) {
    int chunked = request->framing == SLUICE_FRAMING_CHUNKED && !(flags & SLUICE_IO_RESPOND_DROP);
    sluice_io_output *msg = sluice__output_alloc(chunked ? 5 + trailers_len : 0);
    if (msg == NULL) return UV_ENOMEM;
    if (chunked) {
        memcpy(msg->data, "0\r\n", 3);
        msg->len = 3;
        if (trailers_len) memcpy(msg->data + msg->len, trailers, trailers_len);
        msg->len += trailers_len;
        memcpy(msg->data + msg->len, "\r\n", 2);
        msg->len += 2;
    }
    msg->flags = flags;
    /* A body shorter than its Content-Length can only be told by closing. */
    if ((flags & SLUICE_IO_RESPOND_CLOSE) ||
        (request->framing == SLUICE_FRAMING_LENGTH && request->body_left > 0)) {
        request->close_after = 1;
    }
    return post(request, msg, SLUICE_MSG_END);
}
