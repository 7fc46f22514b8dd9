/*
 * Chunked transfer coding decoder (RFC 9112 7.1), a byte-level state machine so
 * that a body split anywhere decodes identically, and no byte is read twice.
 * chunk-ext is checked against its grammar and bounded, then ignored; trailer
 * fields are checked for field syntax and bounded, then discarded.
 */
#include "sluice_http_parser.h"
#include "http_chars.h"

enum {
    ST_SIZE_START = 0, /* first hex digit of chunk-size */
    ST_SIZE,           /* more hex digits, BWS, ';' or CR */
    ST_EXT_BWS,        /* whitespace after the size or a value: only ';' may follow */
    ST_EXT_NAME_START, /* after ';': BWS, then the first tchar of chunk-ext-name */
    ST_EXT_NAME,       /* more tchars of the name, BWS, '=', ';' or CR */
    ST_EXT_NAME_BWS,   /* whitespace after the name: '=' or ';' may follow */
    ST_EXT_VALUE_START,/* after '=': BWS, then a token or a quoted-string */
    ST_EXT_TOKEN,      /* a token value: more tchars, BWS, ';' or CR */
    ST_EXT_QUOTED,     /* inside a quoted-string value */
    ST_EXT_QUOTED_PAIR,/* the byte after a backslash in a quoted-string */
    ST_EXT_VALUE_END,  /* after a closing quote: BWS, ';' or CR */
    ST_SIZE_LF,        /* LF after the chunk-size line */
    ST_DATA,           /* chunk-data */
    ST_DATA_CR,        /* CR after chunk-data */
    ST_DATA_LF,        /* LF after chunk-data */
    ST_TRAILER_START,  /* start of a trailer line, or the final CRLF */
    ST_TRAILER_NAME,   /* field-name of a trailer */
    ST_TRAILER_VALUE,  /* field-value of a trailer, until CR */
    ST_TRAILER_LF,     /* LF after a trailer line */
    ST_FINAL_LF,       /* LF of the final CRLF */
    ST_DONE
};

/* A chunk-size line may carry extensions; bound it so a peer cannot stream one forever. */
#define SLUICE_CHUNK_LINE_MAX 4096
/* 16 significant hex digits fill 64 bits; more is an overflow. Leading zeros do not count. */
#define SLUICE_CHUNK_SIZE_DIGITS_MAX 16

void sluice_http_chunked_init(sluice_http_chunked *d, uint64_t max_body_bytes, size_t max_trailer_bytes) {
    d->state = ST_SIZE_START;
    d->chunk_remaining = 0;
    d->body_bytes = 0;
    d->max_body_bytes = max_body_bytes;
    d->size_digits = 0;
    d->line_bytes = 0;
    d->trailer_bytes = 0;
    d->max_trailer_bytes = max_trailer_bytes;
}

/* One byte of the chunk-size line. Returns 0 to go on, or an error. */
static int size_line_byte(sluice_http_chunked *d, unsigned char c) {
    if (++d->line_bytes > SLUICE_CHUNK_LINE_MAX) return SLUICE_HTTP_ERR_BAD_CHUNK_EXT;
    switch (d->state) {
    case ST_SIZE_START:
    case ST_SIZE: {
        int h = sluice__hex_value(c);
        if (h >= 0) {
            if ((d->chunk_remaining != 0 || h != 0) && ++d->size_digits > SLUICE_CHUNK_SIZE_DIGITS_MAX) {
                return SLUICE_HTTP_ERR_BAD_CHUNK_SIZE;
            }
            d->chunk_remaining = (d->chunk_remaining << 4) | (uint64_t)h;
            d->state = ST_SIZE;
            return 0;
        }
        if (d->state == ST_SIZE_START) return SLUICE_HTTP_ERR_BAD_CHUNK_SIZE;
        if (c == '\r') { d->state = ST_SIZE_LF; return 0; }
        if (c == ';') { d->state = ST_EXT_NAME_START; return 0; }
        if (c == ' ' || c == '\t') { d->state = ST_EXT_BWS; return 0; }
        return SLUICE_HTTP_ERR_BAD_CHUNK_SIZE;
    }
    case ST_EXT_BWS:
        if (c == ' ' || c == '\t') return 0;
        if (c == ';') { d->state = ST_EXT_NAME_START; return 0; }
        return SLUICE_HTTP_ERR_BAD_CHUNK_EXT;
    case ST_EXT_NAME_START:
        if (c == ' ' || c == '\t') return 0;
        if (!sluice__is(c, SLUICE_CH_TCHAR)) return SLUICE_HTTP_ERR_BAD_CHUNK_EXT;
        d->state = ST_EXT_NAME;
        return 0;
    case ST_EXT_NAME:
    case ST_EXT_TOKEN:
        if (sluice__is(c, SLUICE_CH_TCHAR)) return 0;
        if (c == '=' && d->state == ST_EXT_NAME) { d->state = ST_EXT_VALUE_START; return 0; }
        if (c == ' ' || c == '\t') { d->state = d->state == ST_EXT_NAME ? ST_EXT_NAME_BWS : ST_EXT_BWS; return 0; }
        break;
    case ST_EXT_NAME_BWS:
        if (c == ' ' || c == '\t') return 0;
        if (c == '=') { d->state = ST_EXT_VALUE_START; return 0; }
        if (c == ';') { d->state = ST_EXT_NAME_START; return 0; }
        return SLUICE_HTTP_ERR_BAD_CHUNK_EXT;
    case ST_EXT_VALUE_START:
        if (c == ' ' || c == '\t') return 0;
        if (c == '"') { d->state = ST_EXT_QUOTED; return 0; }
        if (!sluice__is(c, SLUICE_CH_TCHAR)) return SLUICE_HTTP_ERR_BAD_CHUNK_EXT;
        d->state = ST_EXT_TOKEN;
        return 0;
    case ST_EXT_QUOTED:
        if (c == '"') { d->state = ST_EXT_VALUE_END; return 0; }
        if (c == '\\') { d->state = ST_EXT_QUOTED_PAIR; return 0; }
        /* qdtext or obs-text; a CR here is an unterminated quoted-string, not the line's end. */
        return sluice__is(c, SLUICE_CH_CHUNKEXT) ? 0 : SLUICE_HTTP_ERR_BAD_CHUNK_EXT;
    case ST_EXT_QUOTED_PAIR:
        if (!sluice__is(c, SLUICE_CH_CHUNKEXT)) return SLUICE_HTTP_ERR_BAD_CHUNK_EXT;
        d->state = ST_EXT_QUOTED;
        return 0;
    case ST_EXT_VALUE_END:
        if (c == ' ' || c == '\t') { d->state = ST_EXT_BWS; return 0; }
        break;
    default: /* ST_SIZE_LF */
        if (c != '\n') return SLUICE_HTTP_ERR_BARE_CR;
        if (d->chunk_remaining > d->max_body_bytes - d->body_bytes) return SLUICE_HTTP_ERR_BODY_TOO_LARGE;
        d->line_bytes = 0;
        d->size_digits = 0;
        d->state = d->chunk_remaining == 0 ? ST_TRAILER_START : ST_DATA;
        return 0;
    }
    /* The end of an extension's name or value: another extension, or the line's end. */
    if (c == ';') { d->state = ST_EXT_NAME_START; return 0; }
    if (c == '\r') { d->state = ST_SIZE_LF; return 0; }
    return SLUICE_HTTP_ERR_BAD_CHUNK_EXT;
}

/* One byte of the trailer section. Returns 0 to go on, 1 when the body is complete, or an error. */
static int trailer_byte(sluice_http_chunked *d, unsigned char c) {
    if (++d->trailer_bytes > d->max_trailer_bytes) return SLUICE_HTTP_ERR_TRAILERS_TOO_LARGE;
    switch (d->state) {
    case ST_TRAILER_START:
        if (c == '\r') { d->state = ST_FINAL_LF; return 0; }
        if (!sluice__is(c, SLUICE_CH_TCHAR)) return SLUICE_HTTP_ERR_BAD_TRAILER;
        d->state = ST_TRAILER_NAME;
        return 0;
    case ST_TRAILER_NAME:
        if (c == ':') { d->state = ST_TRAILER_VALUE; return 0; }
        return sluice__is(c, SLUICE_CH_TCHAR) ? 0 : SLUICE_HTTP_ERR_BAD_TRAILER;
    case ST_TRAILER_VALUE:
        if (c == '\r') { d->state = ST_TRAILER_LF; return 0; }
        return sluice__is(c, SLUICE_CH_FVALUE) ? 0 : SLUICE_HTTP_ERR_BAD_TRAILER;
    case ST_TRAILER_LF:
        if (c != '\n') return SLUICE_HTTP_ERR_BARE_CR;
        d->state = ST_TRAILER_START;
        return 0;
    default: /* ST_FINAL_LF */
        if (c != '\n') return SLUICE_HTTP_ERR_BARE_CR;
        d->state = ST_DONE;
        return 1;
    }
}

int sluice_http_chunked_decode(sluice_http_chunked *d, const char *buf, size_t len,
                               size_t *consumed, size_t *data_offset, size_t *data_len) {
    size_t i = 0;
    *data_offset = 0;
    *data_len = 0;
    while (i < len) {
        unsigned char c = (unsigned char)buf[i];
        int rc;
        if (d->state == ST_DONE) break;
        if (d->state == ST_DATA) {
            size_t avail = len - i;
            size_t take = d->chunk_remaining < avail ? (size_t)d->chunk_remaining : avail;
            d->chunk_remaining -= take;
            d->body_bytes += take;
            if (d->chunk_remaining == 0) d->state = ST_DATA_CR;
            *data_offset = i;
            *data_len = take;
            *consumed = i + take;
            return SLUICE_HTTP_CHUNK_DATA;
        }
        if (c == '\n' && d->state != ST_SIZE_LF && d->state != ST_DATA_LF && d->state != ST_TRAILER_LF &&
            d->state != ST_FINAL_LF) {
            *consumed = i;
            return SLUICE_HTTP_ERR_BARE_LF;
        }
        if (d->state == ST_DATA_CR || d->state == ST_DATA_LF) {
            int want = d->state == ST_DATA_CR ? '\r' : '\n';
            rc = c == want ? 0 : SLUICE_HTTP_ERR_BAD_CHUNK_END;
            if (rc == 0) d->state = d->state == ST_DATA_CR ? ST_DATA_LF : ST_SIZE_START;
        } else if (d->state >= ST_TRAILER_START) {
            rc = trailer_byte(d, c);
        } else {
            rc = size_line_byte(d, c);
        }
        i++;
        if (rc < 0) {
            *consumed = i;
            return rc;
        }
        if (rc == 1) {
            *consumed = i;
            return SLUICE_HTTP_CHUNK_END;
        }
    }
    *consumed = i;
    return d->state == ST_DONE ? SLUICE_HTTP_CHUNK_END : SLUICE_HTTP_INCOMPLETE;
}
