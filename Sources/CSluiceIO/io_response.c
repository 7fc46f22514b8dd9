/*
 * Response serialisation: status line, Date, Server, Content-Length and
 * Connection, then the engine's fields and the body, in one block that carries
 * its own uv_write_t. It is C so the bytes are laid out once, in the memory the
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

/*
 * The head and, unless is_head, the body. framing picks the length field: Content-Length
 * with content_length, Transfer-Encoding: chunked, or none (a bodiless status, or a body
 * delimited by the connection's close).
 */
static sluice_io_output *build(int status, int is_head, int connection, int framing, uint64_t content_length,
                               const char *headers, size_t headers_len, const void *body, size_t body_len) {
    if (status < 100 || status > 999) status = 500;
    int bodiless_status = sluice__status_is_bodiless(status);
    static const char server[] = "Server: sluice\r\n";
    static const char length_name[] = "Content-Length: ";
    static const char chunked[] = "Transfer-Encoding: chunked\r\n";
    static const char connection_close[] = "Connection: close\r\n";
    static const char connection_keep_alive[] = "Connection: keep-alive\r\n";
    size_t date_len;
    const char *date = date_field(&date_len);
    char line[64];
    size_t line_len = status_line(line, status);
    char length[48];
    size_t length_len = 0;
    if (!bodiless_status && framing == SLUICE_FRAMING_LENGTH) {
        memcpy(length, length_name, sizeof(length_name) - 1);
        length_len = sizeof(length_name) - 1;
        length_len += put_decimal(length + length_len, content_length);
        memcpy(length + length_len, "\r\n", 2);
        length_len += 2;
    } else if (!bodiless_status && framing == SLUICE_FRAMING_CHUNKED) {
        memcpy(length, chunked, sizeof(chunked) - 1);
        length_len = sizeof(chunked) - 1;
    }
    const char *connection_field = connection == SLUICE_CONNECTION_CLOSE ? connection_close : connection_keep_alive;
    size_t close_len = connection == SLUICE_CONNECTION_CLOSE        ? sizeof(connection_close) - 1
                       : connection == SLUICE_CONNECTION_KEEP_ALIVE ? sizeof(connection_keep_alive) - 1
                                                                    : 0;
    size_t send_body = (is_head || bodiless_status) ? 0 : body_len;
    size_t total = line_len + date_len + sizeof(server) - 1 + length_len + close_len + headers_len + 2 + send_body;
    sluice_io_output *out = sluice__output_alloc(total);
    if (!out) return NULL;
    put(out, line, line_len);
    put(out, date, date_len);
    put(out, server, sizeof(server) - 1);
    put(out, length, length_len);
    put(out, connection_field, close_len);
    if (headers_len) put(out, headers, headers_len);
    put(out, "\r\n", 2);
    if (send_body) put(out, body, send_body);
    return out;
}

sluice_io_output *sluice__response_build(int status, int is_head, int connection, const char *headers,
                                         size_t headers_len, const void *body, size_t body_len) {
    return build(status, is_head, connection, SLUICE_FRAMING_LENGTH, body_len, headers, headers_len, body, body_len);
}

sluice_io_output *sluice__response_head(int status, int connection, int framing, uint64_t content_length,
                                        const char *headers, size_t headers_len) {
    return build(status, 1, connection, framing, content_length, headers, headers_len, NULL, 0);
}

sluice_io_output *sluice__response_error(int status, const char *message) {
    char body[160];
    int body_len = snprintf(body, sizeof(body), "%s\n", message);
    static const char type[] = "Content-Type: text/plain; charset=utf-8\r\n";
    return sluice__response_build(status, 0, SLUICE_CONNECTION_CLOSE, type, sizeof(type) - 1, body, (size_t)body_len);
}

sluice_io_output *sluice__response_raw(const char *bytes, size_t len) {
    sluice_io_output *out = sluice__output_alloc(len);
    if (out) put(out, bytes, len);
    return out;
}
