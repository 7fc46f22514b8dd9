/*
 * libFuzzer harness for the HTTP/1.1 parser (head and chunked body). Beyond "no crash, no
 * over-read" (ASan, UBSan), it checks the parser's promises:
 *   - the bytes consumed never exceed the input;
 *   - a head fed whole and the same head fed as a growing buffer, split at fuzzer-chosen
 *     points, give the same kind of outcome: both refused, both incomplete, or the same
 *     parsed request of the same length. (Input that breaks two rules at once may be refused
 *     for either: a split feed can reach a length limit before the bad byte behind it.)
 *   - a chunked body decoded at once and in fuzzer-chosen pieces is refused in both cases or
 *     accepted in both with the same bytes: no refusal turns into acceptance when split.
 * Input: byte 0 picks the split step, the rest is the request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice_http_parser.h"

#define MAX_FIELDS 64

static const sluice_http_limits limits = {256, 1024, 32, 4096};

static void require(int ok) {
    if (!ok) abort();
}

static int is_refusal(int rc) { return rc < 0 && rc != SLUICE_HTTP_INCOMPLETE; }

static int parse(const char *buf, size_t len, sluice_http_request *req, sluice_http_field *fields) {
    req->fields = fields;
    req->fields_capacity = MAX_FIELDS;
    int rc = sluice_http_parse_request(buf, len, &limits, req);
    require(rc <= (int)len);
    return rc;
}

static int same_head(const sluice_http_request *a, const sluice_http_request *b) {
    if (a->method_len != b->method_len || memcmp(a->method, b->method, a->method_len) != 0) return 0;
    if (a->target_len != b->target_len || memcmp(a->target, b->target, a->target_len) != 0) return 0;
    if (a->num_fields != b->num_fields || a->body_kind != b->body_kind) return 0;
    if (a->content_length != b->content_length || a->keep_alive != b->keep_alive) return 0;
    if (a->version_minor != b->version_minor || a->expect_continue != b->expect_continue) return 0;
    for (size_t i = 0; i < a->num_fields; i++) {
        if (a->fields[i].value_len != b->fields[i].value_len) return 0;
        if (memcmp(a->fields[i].value, b->fields[i].value, a->fields[i].value_len) != 0) return 0;
    }
    return 1;
}

/* Decodes a chunked body in pieces of step bytes; returns the final code, the data in out. */
static int decode(const char *buf, size_t len, size_t step, char *out, size_t *out_len) {
    sluice_http_chunked d;
    sluice_http_chunked_init(&d, limits.max_body_bytes, limits.max_header_bytes);
    size_t offset = 0;
    *out_len = 0;
    while (offset < len) {
        size_t end = offset + step < len ? offset + step : len;
        size_t position = offset;
        while (position < end) {
            size_t consumed = 0, data_offset = 0, data_len = 0;
            int rc = sluice_http_chunked_decode(&d, buf + position, end - position, &consumed, &data_offset, &data_len);
            require(consumed <= end - position);
            if (rc == SLUICE_HTTP_CHUNK_DATA) {
                require(data_offset + data_len <= consumed);
                memcpy(out + *out_len, buf + position + data_offset, data_len);
                *out_len += data_len;
            }
            position += consumed;
            if (rc == SLUICE_HTTP_CHUNK_END || (rc < 0 && rc != SLUICE_HTTP_INCOMPLETE)) return rc;
            if (rc == SLUICE_HTTP_INCOMPLETE) break;
        }
        offset = end;
    }
    return SLUICE_HTTP_INCOMPLETE;
}

static void check_body(const char *body, size_t len, size_t step) {
    char *whole = malloc(len + 1), *pieces = malloc(len + 1);
    size_t whole_len = 0, pieces_len = 0;
    int a = decode(body, len, len ? len : 1, whole, &whole_len);
    int b = decode(body, len, step, pieces, &pieces_len);
    require(is_refusal(a) == is_refusal(b));
    require((a == SLUICE_HTTP_CHUNK_END) == (b == SLUICE_HTTP_CHUNK_END));
    if (a == SLUICE_HTTP_CHUNK_END) require(whole_len == pieces_len && memcmp(whole, pieces, whole_len) == 0);
    free(whole);
    free(pieces);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t step = (size_t)(data[0] % 13) + 1;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;

    sluice_http_request whole, grown;
    sluice_http_field whole_fields[MAX_FIELDS], grown_fields[MAX_FIELDS];
    int rc = parse(buf, len, &whole, whole_fields);

    /* The same bytes arriving step by step: the first non-incomplete answer must match. */
    int first = SLUICE_HTTP_INCOMPLETE;
    for (size_t end = step < len ? step : len; end <= len; end += step) {
        first = parse(buf, end, &grown, grown_fields);
        if (first != SLUICE_HTTP_INCOMPLETE || end == len) break;
        if (end + step > len && end != len) end = len - step;
    }
    require(is_refusal(first) == is_refusal(rc));
    require((first == SLUICE_HTTP_INCOMPLETE) == (rc == SLUICE_HTTP_INCOMPLETE));
    if (rc > 0 || first > 0) {
        require(first == rc);
        require(same_head(&whole, &grown));
        if (whole.body_kind == SLUICE_HTTP_BODY_CHUNKED) check_body(buf + rc, len - (size_t)rc, step);
    }
    return 0;
}
