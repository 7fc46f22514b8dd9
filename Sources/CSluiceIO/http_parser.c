/*
 * Request-head parser (RFC 9112 sections 2-3 and 5). It is C because it runs on
 * the event loop for every request and must be fuzzable on its own; it touches
 * neither libuv nor the heap.
 *
 * Strictness: CRLF is required everywhere (a bare CR or LF is refused, since a
 * peer that disagrees on line ends is a smuggling vector); exactly one SP
 * separates the request-line's parts; obs-fold and whitespace before a colon
 * are refused (RFC 9112 5.1-5.2).
 */
#include "sluice_http_parser.h"
#include "http_chars.h"
#include "http_framing.h"

#include <string.h>

/* Empty lines tolerated before a request-line: enough for a stray CRLF after a body. */
#define SLUICE_HTTP_MAX_LEADING_EMPTY_BYTES 16

typedef struct cursor {
    const char *buf;
    size_t len;
    size_t pos;
    size_t line_start;
    size_t fields_start;
    const sluice_http_limits *limits;
} cursor;

/* What to answer when the bytes run out: incomplete, unless a limit is already exceeded. */
static int out_of_bytes(const cursor *c, int in_request_line) {
    if (in_request_line) {
        return c->pos - c->line_start > c->limits->max_request_line ? SLUICE_HTTP_ERR_URI_TOO_LONG
                                                                     : SLUICE_HTTP_INCOMPLETE;
    }
    return c->pos - c->fields_start > c->limits->max_header_bytes ? SLUICE_HTTP_ERR_HEADERS_TOO_LARGE
                                                                   : SLUICE_HTTP_INCOMPLETE;
}

/* Expects CRLF at the cursor. */
static int expect_crlf(cursor *c, int in_request_line) {
    if (c->pos >= c->len) return out_of_bytes(c, in_request_line);
    if (c->buf[c->pos] == '\n') return SLUICE_HTTP_ERR_BARE_LF;
    if (c->buf[c->pos] != '\r') return 0; /* caller decides what the byte means */
    if (c->pos + 1 >= c->len) return out_of_bytes(c, in_request_line);
    if (c->buf[c->pos + 1] != '\n') return SLUICE_HTTP_ERR_BARE_CR;
    c->pos += 2;
    return 1;
}

/*
 * A method that alone overruns the request line's limit is none this server implements: RFC
 * 9112 3 asks for 501 there, where the limit would otherwise say 414 (a target too long).
 */
static int method_overrun(const cursor *c, size_t start) {
    return c->pos - start > c->limits->max_request_line;
}

static int parse_method(cursor *c, sluice_http_request *req) {
    size_t start = c->pos;
    while (c->pos < c->len && sluice__is((unsigned char)c->buf[c->pos], SLUICE_CH_TCHAR)) c->pos++;
    if (method_overrun(c, start)) return SLUICE_HTTP_ERR_METHOD_TOO_LONG;
    if (c->pos >= c->len) return out_of_bytes(c, 1);
    if (c->pos == start || c->buf[c->pos] != ' ') {
        unsigned char b = (unsigned char)c->buf[c->pos];
        if (b == '\r' || b == '\n' || b == ' ' || c->pos == start) return SLUICE_HTTP_ERR_BAD_REQUEST_LINE;
        return SLUICE_HTTP_ERR_BAD_METHOD;
    }
    req->method = c->buf + start;
    req->method_len = c->pos - start;
    req->is_head = c->pos - start == 4 && memcmp(req->method, "HEAD", 4) == 0;
    c->pos++;
    return 0;
}

static int classify_target(sluice_http_request *req) {
    const char *t = req->target;
    size_t n = req->target_len;
    size_t path_start = 0;
    if (!sluice__valid_percent_encoding(t, n)) return SLUICE_HTTP_ERR_BAD_TARGET;
    /* RFC 9112 3.2.3: CONNECT takes the authority-form (host:port) and only that. */
    if (req->method_len == 7 && memcmp(req->method, "CONNECT", 7) == 0) {
        if (memchr(t, '/', n) != NULL || memchr(t, ':', n) == NULL) return SLUICE_HTTP_ERR_BAD_TARGET;
        req->target_form = SLUICE_HTTP_TARGET_AUTHORITY;
        req->path = t;
        req->path_len = n;
        return 0;
    }
    if (t[0] == '/') {
        req->target_form = SLUICE_HTTP_TARGET_ORIGIN;
    } else if (n == 1 && t[0] == '*') {
        if (!(req->method_len == 7 && memcmp(req->method, "OPTIONS", 7) == 0)) return SLUICE_HTTP_ERR_BAD_TARGET;
        req->target_form = SLUICE_HTTP_TARGET_ASTERISK;
        req->path = t;
        req->path_len = 1;
        return 0;
    } else {
        /* absolute-form: scheme "://" authority [path]; the scheme starts with a letter. */
        size_t i = 0;
        while (i < n && ((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z')) i++;
        if (i == 0 || i + 3 > n || memcmp(t + i, "://", 3) != 0) return SLUICE_HTTP_ERR_BAD_TARGET;
        /* The authority ends at the path or, with no path, at the query (RFC 3986 3.2). */
        size_t end = i + 3;
        while (end < n && t[end] != '/' && t[end] != '?') end++;
        /* An empty host is invalid, and userinfo an error, in an http(s) URI (RFC 9110
         * 4.2.1, 4.2.4); the Host field refuses userinfo too. */
        if (end == i + 3 || memchr(t + i + 3, '@', end - i - 3) != NULL) return SLUICE_HTTP_ERR_BAD_TARGET;
        req->target_form = SLUICE_HTTP_TARGET_ABSOLUTE;
        path_start = end;
    }
    const char *q = memchr(t + path_start, '?', n - path_start);
    size_t path_end = q ? (size_t)(q - t) : n;
    /* An absolute-form target with an empty path asks for "/" (RFC 9110 4.2.3). */
    req->path = path_start < path_end ? t + path_start : "/";
    req->path_len = path_start < path_end ? path_end - path_start : 1;
    if (q) {
        req->query = q + 1;
        req->query_len = n - path_end - 1;
    }
    return 0;
}

static int parse_target(cursor *c, sluice_http_request *req) {
    size_t start = c->pos;
    while (c->pos < c->len && sluice__is((unsigned char)c->buf[c->pos], SLUICE_CH_TARGET)) c->pos++;
    if (c->pos >= c->len) return out_of_bytes(c, 1);
    if (c->buf[c->pos] != ' ' || c->pos == start) return SLUICE_HTTP_ERR_BAD_TARGET;
    req->target = c->buf + start;
    req->target_len = c->pos - start;
    c->pos++;
    return 0;
}

static int parse_version(cursor *c, sluice_http_request *req) {
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF: exactly 10 bytes. */
    size_t need = c->pos + 8;
    if (need > c->len) {
        /* Refuse as soon as the available prefix cannot become a version. */
        static const char shape[] = "HTTP/0.0";
        for (size_t i = c->pos; i < c->len; i++) {
            char b = c->buf[i], want = shape[i - c->pos];
            int ok = want == '0' ? (b >= '0' && b <= '9') : b == want;
            if (!ok) return SLUICE_HTTP_ERR_BAD_VERSION;
        }
        return out_of_bytes(c, 1);
    }
    const char *v = c->buf + c->pos;
    if (memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9') {
        return SLUICE_HTTP_ERR_BAD_VERSION;
    }
    c->pos += 8;
    int crlf = expect_crlf(c, 1);
    if (crlf < 0) return crlf;
    if (crlf == 0) return SLUICE_HTTP_ERR_BAD_VERSION;
    if (c->pos - 2 - c->line_start > c->limits->max_request_line) return SLUICE_HTTP_ERR_URI_TOO_LONG;
    if (v[5] != '1') return SLUICE_HTTP_ERR_VERSION_NOT_SUPPORTED;
    req->version_minor = v[7] == '0' ? 0 : 1;
    return 0;
}

static int parse_field_line(cursor *c, sluice_http_request *req) {
    size_t name_start = c->pos;
    unsigned char first = (unsigned char)c->buf[c->pos];
    if (first == ' ' || first == '\t') return SLUICE_HTTP_ERR_OBS_FOLD;
    while (c->pos < c->len && sluice__is((unsigned char)c->buf[c->pos], SLUICE_CH_TCHAR)) c->pos++;
    if (c->pos >= c->len) return out_of_bytes(c, 0);
    char at = c->buf[c->pos];
    if (at != ':') {
        if (c->pos > name_start && (at == ' ' || at == '\t')) return SLUICE_HTTP_ERR_SPACE_BEFORE_COLON;
        return SLUICE_HTTP_ERR_BAD_FIELD_NAME;
    }
    if (c->pos == name_start) return SLUICE_HTTP_ERR_BAD_FIELD_NAME;
    size_t name_end = c->pos++;
    while (c->pos < c->len && (c->buf[c->pos] == ' ' || c->buf[c->pos] == '\t')) c->pos++;
    size_t value_start = c->pos;
    while (c->pos < c->len && sluice__is((unsigned char)c->buf[c->pos], SLUICE_CH_FVALUE)) c->pos++;
    size_t value_end = c->pos;
    int crlf = expect_crlf(c, 0);
    if (crlf < 0) return crlf;
    if (crlf == 0) return SLUICE_HTTP_ERR_BAD_FIELD_VALUE;
    while (value_end > value_start && (c->buf[value_end - 1] == ' ' || c->buf[value_end - 1] == '\t')) value_end--;
    size_t max = req->fields_capacity < c->limits->max_fields ? req->fields_capacity : c->limits->max_fields;
    if (req->num_fields >= max) return SLUICE_HTTP_ERR_TOO_MANY_FIELDS;
    sluice_http_field *f = &req->fields[req->num_fields++];
    f->name = c->buf + name_start;
    f->name_len = name_end - name_start;
    f->value = c->buf + value_start;
    f->value_len = value_end - value_start;
    return 0;
}

static int parse_fields(cursor *c, sluice_http_request *req) {
    c->fields_start = c->pos;
    for (;;) {
        if (c->pos >= c->len) return out_of_bytes(c, 0);
        int end = expect_crlf(c, 0);
        if (end < 0) return end;
        if (end == 1) break;
        int rc = parse_field_line(c, req);
        if (rc != 0) return rc;
        if (c->pos - c->fields_start > c->limits->max_header_bytes) return SLUICE_HTTP_ERR_HEADERS_TOO_LARGE;
    }
    if (c->pos - c->fields_start > c->limits->max_header_bytes) return SLUICE_HTTP_ERR_HEADERS_TOO_LARGE;
    return 0;
}

int sluice_http_parse_request(const char *buf, size_t len, const sluice_http_limits *limits,
                              sluice_http_request *req) {
    cursor c = {buf, len, 0, 0, 0, limits};
    sluice_http_field *fields = req->fields;
    size_t capacity = req->fields_capacity;
    memset(req, 0, sizeof(*req));
    req->fields = fields;
    req->fields_capacity = capacity;

    /* RFC 9112 2.2: ignore empty lines before the request-line; a few, not a stream of them. */
    for (;;) {
        int crlf = expect_crlf(&c, 1);
        if (crlf < 0) return crlf;
        if (crlf == 0) break;
        c.line_start = c.pos;
        if (c.pos > SLUICE_HTTP_MAX_LEADING_EMPTY_BYTES) return SLUICE_HTTP_ERR_BAD_REQUEST_LINE;
    }
    int rc;
    if ((rc = parse_method(&c, req)) != 0) return rc;
    if ((rc = parse_target(&c, req)) != 0) return rc;
    if ((rc = parse_version(&c, req)) != 0) return rc;
    /* The target's form is judged once the version is known: a request of another major
     * version (an HTTP/2 preface, "PRI * HTTP/2.0") is a 505, not a 400 for its target. */
    if ((rc = classify_target(req)) != 0) return rc;
    if ((rc = parse_fields(&c, req)) != 0) return rc;
    if ((rc = sluice__http_apply_framing(req, limits)) != 0) return rc;
    return (int)c.pos;
}
