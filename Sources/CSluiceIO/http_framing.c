/*
 * Framing decisions. Everything ambiguous is refused rather than guessed, since
 * a guess that differs from a proxy's guess is how requests get smuggled.
 */
#include "http_framing.h"
#include "http_chars.h"

#include <string.h>

typedef struct framing {
    int content_length_seen;
    uint64_t content_length;
    int te_seen;
    int te_elements;
    int te_chunked_count;
    int te_last_is_chunked;
    int te_other_coding;
    int host_count;
    const sluice_http_field *host;
    int connection_close;
    int connection_keep_alive;
    int expect_continue;
} framing;

/*
 * Content-Length = 1*DIGIT; no sign, no spaces inside, no list, no overflow. Leading zeros
 * are digits like any other (007 is 7), so only the significant ones count toward the 19
 * that always fit in 64 bits.
 */
static int parse_content_length(const sluice_http_field *f, uint64_t *out) {
    if (f->value_len == 0) return SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH;
    uint64_t v = 0;
    size_t significant = 0;
    for (size_t i = 0; i < f->value_len; i++) {
        char c = f->value[i];
        if (c < '0' || c > '9') return SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH;
        if (v == 0 && c == '0') continue;
        if (++significant > 19) return SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH;
        v = v * 10 + (uint64_t)(c - '0');
    }
    *out = v;
    return 0;
}

/* Calls visit for each comma-separated element, with surrounding whitespace removed. */
static int for_each_element(const sluice_http_field *f, framing *fr,
                            int (*visit)(framing *, const char *, size_t)) {
    size_t i = 0;
    while (i <= f->value_len) {
        size_t start = i;
        while (i < f->value_len && f->value[i] != ',') i++;
        size_t end = i;
        while (start < end && (f->value[start] == ' ' || f->value[start] == '\t')) start++;
        while (end > start && (f->value[end - 1] == ' ' || f->value[end - 1] == '\t')) end--;
        int rc = visit(fr, f->value + start, end - start);
        if (rc != 0) return rc;
        i++;
    }
    return 0;
}

static int visit_transfer_coding(framing *fr, const char *s, size_t n) {
    if (n == 0) return SLUICE_HTTP_ERR_TE_BAD_LIST;
    fr->te_elements++;
    int chunked = SLUICE__IEQ(s, n, "chunked");
    if (chunked) {
        fr->te_chunked_count++;
    } else {
        fr->te_other_coding = 1;
    }
    fr->te_last_is_chunked = chunked;
    return 0;
}

static int visit_connection_option(framing *fr, const char *s, size_t n) {
    if (SLUICE__IEQ(s, n, "close")) fr->connection_close = 1;
    if (SLUICE__IEQ(s, n, "keep-alive")) fr->connection_keep_alive = 1;
    return 0;
}

/* Host = uri-host [ ":" port ]; an IP-literal keeps its brackets. */
static int valid_host(const sluice_http_field *f) {
    const char *v = f->value;
    size_t n = f->value_len;
    for (size_t i = 0; i < n; i++) {
        if (!sluice__is((unsigned char)v[i], SLUICE_CH_HOST)) return 0;
    }
    if (!sluice__valid_percent_encoding(v, n)) return 0;
    size_t host_end = n;
    if (n > 0 && v[0] == '[') {
        const char *close = memchr(v, ']', n);
        if (close == NULL) return 0;
        host_end = (size_t)(close - v) + 1;
        if (host_end < n && v[host_end] != ':') return 0;
    } else {
        const char *colon = memchr(v, ':', n);
        if (colon) host_end = (size_t)(colon - v);
        if (memchr(v, '[', n) || memchr(v, ']', n)) return 0;
    }
    if (host_end < n) {
        for (size_t i = host_end + 1; i < n; i++) {
            if (v[i] < '0' || v[i] > '9') return 0;
        }
    }
    return 1;
}

static int visit_field(framing *fr, const sluice_http_field *f) {
    const char *name = f->name;
    size_t n = f->name_len;
    if (SLUICE__IEQ(name, n, "content-length")) {
        if (fr->content_length_seen) return SLUICE_HTTP_ERR_DUPLICATE_CONTENT_LENGTH;
        fr->content_length_seen = 1;
        return parse_content_length(f, &fr->content_length);
    }
    if (SLUICE__IEQ(name, n, "transfer-encoding")) {
        fr->te_seen = 1;
        return for_each_element(f, fr, visit_transfer_coding);
    }
    if (SLUICE__IEQ(name, n, "host")) {
        fr->host_count++;
        fr->host = f;
        return 0;
    }
    if (SLUICE__IEQ(name, n, "connection")) return for_each_element(f, fr, visit_connection_option);
    if (SLUICE__IEQ(name, n, "expect")) {
        if (!SLUICE__IEQ(f->value, f->value_len, "100-continue")) return SLUICE_HTTP_ERR_EXPECTATION;
        fr->expect_continue = 1;
    }
    return 0;
}

static int decide_body(const framing *fr, sluice_http_request *req, const sluice_http_limits *limits) {
    if (fr->te_seen) {
        if (req->version_minor == 0) return SLUICE_HTTP_ERR_TE_IN_HTTP10;
        if (fr->content_length_seen) return SLUICE_HTTP_ERR_LENGTH_AND_CHUNKED;
        if (!fr->te_last_is_chunked) return SLUICE_HTTP_ERR_TE_NOT_CHUNKED;
        if (fr->te_chunked_count > 1) return SLUICE_HTTP_ERR_TE_BAD_LIST;
        if (fr->te_other_coding) return SLUICE_HTTP_ERR_TE_UNSUPPORTED;
        req->body_kind = SLUICE_HTTP_BODY_CHUNKED;
        return 0;
    }
    if (fr->content_length_seen) {
        if (fr->content_length > limits->max_body_bytes) return SLUICE_HTTP_ERR_BODY_TOO_LARGE;
        req->content_length = fr->content_length;
        req->body_kind = fr->content_length > 0 ? SLUICE_HTTP_BODY_LENGTH : SLUICE_HTTP_BODY_NONE;
    }
    return 0;
}

int sluice__http_apply_framing(sluice_http_request *req, const sluice_http_limits *limits) {
    framing fr;
    memset(&fr, 0, sizeof(fr));
    for (size_t i = 0; i < req->num_fields; i++) {
        int rc = visit_field(&fr, &req->fields[i]);
        if (rc != 0) return rc;
    }
    if (fr.host_count > 1) return SLUICE_HTTP_ERR_DUPLICATE_HOST;
    if (fr.host_count == 0 && req->version_minor >= 1) return SLUICE_HTTP_ERR_MISSING_HOST;
    if (fr.host && !valid_host(fr.host)) return SLUICE_HTTP_ERR_BAD_HOST;
    int rc = decide_body(&fr, req, limits);
    if (rc != 0) return rc;
    req->keep_alive = req->version_minor >= 1 ? !fr.connection_close
                                              : (fr.connection_keep_alive && !fr.connection_close);
    /* RFC 9110 10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request. */
    req->expect_continue = fr.expect_continue && req->version_minor >= 1 && req->body_kind != SLUICE_HTTP_BODY_NONE;
    return 0;
}
