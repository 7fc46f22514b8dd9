/*
 * A request's body. Read whole into the connection before the request is handed over
 * (Content-Length or chunked), or, for a route that streams it, passed to the engine after
 * dispatch, never more than the credit it granted, so a slow handler holds the client back
 * instead of the server's memory. It is C because the bytes come from the connection's read
 * buffer and the waits are libuv timers on the loop thread.
 */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

static void write_continue(sluice_io_conn *conn) {
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    sluice__conn_write(conn, sluice__response_raw(line, sizeof(line) - 1));
}

static void send_continue(sluice_io_conn *conn) {
    /* Only if the client is still waiting: none of the body has arrived yet. */
    if (conn->head.expect_continue && conn->len == conn->head_len) write_continue(conn);
}

int sluice__conn_start_body(sluice_io_conn *conn) {
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
        sluice__conn_send_error(conn, 500, "out of memory", NULL);
        return CONN_STEP_STOP;
    }
    sluice__conn_arm_timer(conn, CONN_TIMER_HEADER);
    send_continue(conn);
    return CONN_STEP_CONTINUE;
}

void sluice__conn_start_body_stream(sluice_io_conn *conn) {
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
    sluice__conn_dispatch(conn);
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
int sluice__conn_step_body_stream(sluice_io_conn *conn) {
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
            sluice__conn_consume(conn, 0, take);
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
        sluice__conn_consume(conn, 0, consumed);
        if (rc == SLUICE_HTTP_CHUNK_END) end_body_stream(conn, SLUICE_IO_BODY_END);
        else if (rc == SLUICE_HTTP_INCOMPLETE) break;
    }
    if (!conn->closing) update_body_timer(conn);
    return CONN_STEP_STOP;
}

void sluice__conn_grant_body(sluice_io_conn *conn, uint64_t credit) {
    if (conn->closing || !conn->body_streaming) return;
    if (conn->continue_pending) {
        conn->continue_pending = 0;
        /* The head was consumed at dispatch: anything left is body the client sent unasked. */
        if (conn->len == 0) write_continue(conn);
    }
    conn->body_credit += credit;
    sluice__conn_process(conn);
}

int sluice__conn_step_body_length(sluice_io_conn *conn) {
    size_t avail = conn->len - conn->head_len;
    uint64_t missing = conn->body_expected - conn->body_len;
    size_t take = missing < avail ? (size_t)missing : avail;
    memcpy(conn->body + conn->body_len, conn->buf + conn->head_len, take);
    conn->body_len += take;
    sluice__conn_consume(conn, conn->head_len, take);
    if (conn->body_len < conn->body_expected) return CONN_STEP_STOP;
    sluice__conn_dispatch(conn);
    return CONN_STEP_CONTINUE;
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

int sluice__conn_step_body_chunked(sluice_io_conn *conn) {
    for (;;) {
        size_t consumed = 0, offset = 0, n = 0;
        int rc = sluice_http_chunked_decode(&conn->chunked, conn->buf + conn->head_len, conn->len - conn->head_len,
                                            &consumed, &offset, &n);
        if (rc < 0 && rc != SLUICE_HTTP_INCOMPLETE) {
            sluice__conn_send_error(conn, sluice_http_error_status(rc), sluice_http_error_message(rc), NULL);
            return CONN_STEP_STOP;
        }
        if (rc == SLUICE_HTTP_CHUNK_DATA && append_body(conn, conn->buf + conn->head_len + offset, n) != 0) {
            sluice__conn_send_error(conn, 500, "out of memory", NULL);
            return CONN_STEP_STOP;
        }
        sluice__conn_consume(conn, conn->head_len, consumed);
        if (rc == SLUICE_HTTP_INCOMPLETE) return CONN_STEP_STOP;
        if (rc == SLUICE_HTTP_CHUNK_END) {
            sluice__conn_dispatch(conn);
            return CONN_STEP_CONTINUE;
        }
    }
}
