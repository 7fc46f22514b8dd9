/*
 * Response serialisation: status line, Date, Server, Content-Length and
 * Connection, then the engine's fields and the body, in one block that carries
 * its own uv_write_t, or (an answer given on its loop) the head alone in the
 * caller's buffer. It is C so the bytes are laid out once, in the memory the
 * write uses. The Date value is cached per thread and refreshed once a second,
 * so answers built on any thread never share mutable state.
 */
#include "io_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local time_t date_second = 0;
static _Thread_local char date_line[64];
static _Thread_local size_t date_line_len = 0;

static const char *date_field(size_t *len) {
    time_t now = time(NULL);
    if (now != date_second) {
        struct tm tm;
        gmtime_r(&now, &tm);
        date_line_len = strftime(date_line, sizeof(date_line), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        date_second = now;
    }
    *len = date_line_len;
    return date_line;
}

static const char *reason_phrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return ""; /* RFC 9112 4: the reason-phrase may be empty */
    }
}

sluice_io_output *sluice__output_alloc(size_t len) {
    sluice_io_output *out = malloc(sizeof(*out) + len);
    if (out) memset(out, 0, sizeof(*out));
    return out;
}

static void put(sluice_io_output *out, const void *bytes, size_t len) {
    memcpy(out->data + out->len, bytes, len);
    out->len += len;
}

/* Writes n in decimal at out; returns the digits written. Hot path: no snprintf. */
static size_t put_decimal(char *out, size_t n) {
    char digits[24];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    for (size_t i = 0; i < count; i++) out[i] = digits[count - 1 - i];
    return count;
}

/* "HTTP/1.1 NNN Reason\r\n" into line; returns its length. */
static size_t status_line(char *line, int status) {
    const char *reason = reason_phrase(status);
    size_t reason_len = strlen(reason);
    memcpy(line, "HTTP/1.1 ", 9);
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    line[12] = ' ';
    memcpy(line + 13, reason, reason_len);
    memcpy(line + 13 + reason_len, "\r\n", 2);
    return 15 + reason_len;
}

/* A head's pieces, worked out once, then copied wherever the head goes. */
typedef struct {
    int status;                 /* the one sent: 500 for one out of range */
    char line[64];
    size_t line_len;
    const char *date;
    size_t date_len;
    char length[48];            /* Content-Length or Transfer-Encoding, or nothing */
    size_t length_len;
    const char *connection;
    size_t connection_len;
    const char *fields;         /* the engine's own fields, each ending in CRLF */
    size_t fields_len;
    size_t total;               /* the whole head, its blank line included */
} head_plan;

static const char server_field[] = "Server: sluice\r\n";

/*
 * framing picks the length field: Content-Length with content_length, Transfer-Encoding:
 * chunked, or none (a bodiless status, or a body delimited by the connection's close).
 */
static void plan_head(head_plan *plan, int status, int connection, int framing, uint64_t content_length,
                      const char *headers, size_t headers_len) {
    static const char length_name[] = "Content-Length: ";
    static const char chunked[] = "Transfer-Encoding: chunked\r\n";
    static const char connection_close[] = "Connection: close\r\n";
    static const char connection_keep_alive[] = "Connection: keep-alive\r\n";
    if (status < 100 || status > 999) status = 500;
    int bodiless_status = sluice__status_is_bodiless(status);
    plan->status = status;
    plan->date = date_field(&plan->date_len);
    plan->line_len = status_line(plan->line, status);
    plan->length_len = 0;
    if (!bodiless_status && framing == SLUICE_FRAMING_LENGTH) {
        memcpy(plan->length, length_name, sizeof(length_name) - 1);
        plan->length_len = sizeof(length_name) - 1;
        plan->length_len += put_decimal(plan->length + plan->length_len, content_length);
        memcpy(plan->length + plan->length_len, "\r\n", 2);
        plan->length_len += 2;
    } else if (!bodiless_status && framing == SLUICE_FRAMING_CHUNKED) {
        memcpy(plan->length, chunked, sizeof(chunked) - 1);
        plan->length_len = sizeof(chunked) - 1;
    }
    plan->connection = connection == SLUICE_CONNECTION_CLOSE ? connection_close : connection_keep_alive;
    plan->connection_len = connection == SLUICE_CONNECTION_CLOSE        ? sizeof(connection_close) - 1
                           : connection == SLUICE_CONNECTION_KEEP_ALIVE ? sizeof(connection_keep_alive) - 1
                                                                        : 0;
    plan->fields = headers;
    plan->fields_len = headers_len;
    plan->total = plan->line_len + plan->date_len + sizeof(server_field) - 1 + plan->length_len +
                  plan->connection_len + headers_len + 2;
}

/* Writes the planned head at dst (plan->total bytes of room). */
static void copy_head(char *dst, const head_plan *plan) {
    char *at = dst;
    memcpy(at, plan->line, plan->line_len);
    at += plan->line_len;
    memcpy(at, plan->date, plan->date_len);
    at += plan->date_len;
    memcpy(at, server_field, sizeof(server_field) - 1);
    at += sizeof(server_field) - 1;
    memcpy(at, plan->length, plan->length_len);
    at += plan->length_len;
    memcpy(at, plan->connection, plan->connection_len);
    at += plan->connection_len;
    if (plan->fields_len) memcpy(at, plan->fields, plan->fields_len);
    at += plan->fields_len;
    memcpy(at, "\r\n", 2);
}

/* Bytes of a body of body_len that go out: none for HEAD or a bodiless status. */
static size_t body_to_send(const head_plan *plan, int is_head, size_t body_len) {
    return (is_head || sluice__status_is_bodiless(plan->status)) ? 0 : body_len;
}

/* The head and, unless is_head, the body, in one output. */
static sluice_io_output *build(int status, int is_head, int connection, int framing, uint64_t content_length,
                               const char *headers, size_t headers_len, const void *body, size_t body_len) {
    head_plan plan;
    plan_head(&plan, status, connection, framing, content_length, headers, headers_len);
    size_t send_body = body_to_send(&plan, is_head, body_len);
    sluice_io_output *out = sluice__output_alloc(plan.total + send_body);
    if (!out) return NULL;
    copy_head(out->data, &plan);
    out->len = plan.total;
    if (send_body) put(out, body, send_body);
    return out;
}

sluice_io_output *sluice__response_build(int status, int is_head, int connection, const char *headers,
                                         size_t headers_len, const void *body, size_t body_len) {
    return build(status, is_head, connection, SLUICE_FRAMING_LENGTH, body_len, headers, headers_len, body, body_len);
}

size_t sluice__response_head_into(char *dst, size_t capacity, int status, int is_head, int connection,
                                  const char *headers, size_t headers_len, size_t body_len, size_t *send_body) {
    head_plan plan;
    plan_head(&plan, status, connection, SLUICE_FRAMING_LENGTH, body_len, headers, headers_len);
    if (plan.total > capacity) return 0;
    copy_head(dst, &plan);
    *send_body = body_to_send(&plan, is_head, body_len);
    return plan.total;
}

sluice_io_output *sluice__response_head(int status, int connection, int framing, uint64_t content_length,
                                        const char *headers, size_t headers_len) {
    return build(status, 1, connection, framing, content_length, headers, headers_len, NULL, 0);
}

/* Appends text as the inside of a JSON string at out[*len] (capacity cap), escaped; stops short
 * rather than overrun or cut an escape in half. */
static void put_json_text(char *out, size_t *len, size_t cap, const char *text, size_t text_len) {
    for (size_t i = 0; i < text_len; i++) {
        unsigned char c = (unsigned char)text[i];
        char escaped[7];
        size_t n;
        if (c == '"' || c == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)c;
            n = 2;
        } else if (c < 0x20 || c == 0x7F) {
            n = (size_t)snprintf(escaped, sizeof(escaped), "\\u%04x", c);
        } else {
            escaped[0] = (char)c;
            n = 1;
        }
        if (cap - *len < n) return;
        memcpy(out + *len, escaped, n);
        *len += n;
    }
}

/* The engine's error body, {"error":"...","request_id":"..."}, so that a client reads every
 * refusal alike, whether the shim or a handler's route gave it. */
sluice_io_output *sluice__response_error(int status, const char *message, const char *id, size_t id_len) {
    if (id_len > SLUICE_IO_REFUSAL_ID_MAX) id_len = 0;
    /* Room for the message (up to 160 bytes of it), each id byte escaped (6 bytes at most),
     * and the punctuation. */
    char body[160 + 6 * SLUICE_IO_REFUSAL_ID_MAX + 32];
    static const char open_error[] = "{\"error\":\"", then_id[] = "\",\"request_id\":\"", close[] = "\"}";
    memcpy(body, open_error, sizeof(open_error) - 1);
    size_t body_len = sizeof(open_error) - 1;
    put_json_text(body, &body_len, body_len + 160, message, strlen(message));
    if (id_len > 0) {
        memcpy(body + body_len, then_id, sizeof(then_id) - 1);
        body_len += sizeof(then_id) - 1;
        put_json_text(body, &body_len, sizeof(body) - (sizeof(close) - 1), id, id_len);
    }
    memcpy(body + body_len, close, sizeof(close) - 1);
    body_len += sizeof(close) - 1;
    char fields[SLUICE_IO_REFUSAL_ID_MAX + 64];
    int fields_len = id_len > 0 ? snprintf(fields, sizeof(fields), "X-Request-ID: %.*s\r\n", (int)id_len, id) : 0;
    fields_len += snprintf(fields + fields_len, sizeof(fields) - (size_t)fields_len,
                           "Content-Type: application/json\r\n");
    return sluice__response_build(status, 0, SLUICE_CONNECTION_CLOSE, fields, (size_t)fields_len, body, body_len);
}

sluice_io_output *sluice__response_raw(const char *bytes, size_t len) {
    sluice_io_output *out = sluice__output_alloc(len);
    if (out) put(out, bytes, len);
    return out;
}
