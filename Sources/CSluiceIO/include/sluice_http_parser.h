/*
 * Strict HTTP/1.1 request parser (RFC 9112), free of libuv and of the heap.
 *
 * Bytes in, a parsed request head or a precise error out. The head parser is
 * re-entrant over a growing buffer: call it again with the same buffer plus the
 * newly read bytes, and a request split at any byte parses exactly as one read.
 * The chunked-body decoder is a byte-level state machine that keeps its own
 * state between calls, so it never re-reads what it already consumed.
 *
 * Ambiguous framing is refused, never guessed: see sluice_http_error.
 */
#ifndef SLUICE_HTTP_PARSER_H
#define SLUICE_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* More bytes are needed; nothing is wrong yet. */
#define SLUICE_HTTP_INCOMPLETE (-1)

/* Every refusal the parser can make. Each maps to one status code and one message. */
typedef enum sluice_http_error {
    SLUICE_HTTP_ERR_BAD_REQUEST_LINE = -100, /* 400 malformed request-line */
    SLUICE_HTTP_ERR_BAD_METHOD,              /* 400 method is not a token */
    SLUICE_HTTP_ERR_BAD_TARGET,              /* 400 request-target has invalid bytes or form */
    SLUICE_HTTP_ERR_BAD_VERSION,             /* 400 malformed HTTP-version */
    SLUICE_HTTP_ERR_VERSION_NOT_SUPPORTED,   /* 505 major version other than 1 */
    SLUICE_HTTP_ERR_URI_TOO_LONG,            /* 414 request-line over its limit */
    SLUICE_HTTP_ERR_BARE_CR,                 /* 400 CR not followed by LF */
    SLUICE_HTTP_ERR_BARE_LF,                 /* 400 LF without CR */
    SLUICE_HTTP_ERR_BAD_FIELD_NAME,          /* 400 field name empty or not a token */
    SLUICE_HTTP_ERR_SPACE_BEFORE_COLON,      /* 400 whitespace between field name and colon */
    SLUICE_HTTP_ERR_BAD_FIELD_VALUE,         /* 400 NUL or control byte in a field value */
    SLUICE_HTTP_ERR_OBS_FOLD,                /* 400 line folding (obs-fold) */
    SLUICE_HTTP_ERR_HEADERS_TOO_LARGE,       /* 431 header section over its byte limit */
    SLUICE_HTTP_ERR_TOO_MANY_FIELDS,         /* 431 more fields than allowed */
    SLUICE_HTTP_ERR_MISSING_HOST,            /* 400 HTTP/1.1 request without Host */
    SLUICE_HTTP_ERR_DUPLICATE_HOST,          /* 400 more than one Host */
    SLUICE_HTTP_ERR_BAD_HOST,                /* 400 Host value is not uri-host[:port] */
    SLUICE_HTTP_ERR_BAD_CONTENT_LENGTH,      /* 400 Content-Length not 1*DIGIT or overflowing */
    SLUICE_HTTP_ERR_DUPLICATE_CONTENT_LENGTH,/* 400 Content-Length given more than once */
    SLUICE_HTTP_ERR_LENGTH_AND_CHUNKED,      /* 400 Content-Length together with Transfer-Encoding */
    SLUICE_HTTP_ERR_TE_NOT_CHUNKED,          /* 400 final transfer coding is not chunked */
    SLUICE_HTTP_ERR_TE_BAD_LIST,             /* 400 Transfer-Encoding empty, malformed or chunked twice */
    SLUICE_HTTP_ERR_TE_IN_HTTP10,            /* 400 Transfer-Encoding in an HTTP/1.0 request */
    SLUICE_HTTP_ERR_TE_UNSUPPORTED,          /* 501 a transfer coding other than chunked */
    SLUICE_HTTP_ERR_EXPECTATION,             /* 417 Expect other than 100-continue */
    SLUICE_HTTP_ERR_BODY_TOO_LARGE,          /* 413 body over its limit */
    SLUICE_HTTP_ERR_BAD_CHUNK_SIZE,          /* 400 chunk-size not hex, or overflowing */
    SLUICE_HTTP_ERR_BAD_CHUNK_EXT,           /* 400 control byte or junk in a chunk extension */
    SLUICE_HTTP_ERR_BAD_CHUNK_END,           /* 400 chunk data not followed by CRLF */
    SLUICE_HTTP_ERR_BAD_TRAILER,             /* 400 malformed trailer field */
    SLUICE_HTTP_ERR_TRAILERS_TOO_LARGE,      /* 431 trailer section over its limit */
    SLUICE_HTTP_ERR_METHOD_TOO_LONG,         /* 501 a method that alone overruns the request-line limit */
    SLUICE_HTTP_ERR_LAST_
} sluice_http_error;

typedef struct sluice_http_limits {
    size_t max_request_line;   /* bytes of the request-line, CRLF excluded (default 8192) */
    size_t max_header_bytes;   /* bytes of the header section incl. its final CRLF (default 16384) */
    size_t max_fields;         /* number of header fields (default 100) */
    uint64_t max_body_bytes;   /* decoded body bytes (default 1 MiB) */
} sluice_http_limits;

#define SLUICE_HTTP_LIMITS_DEFAULT { 8192, 16384, 100, 1048576 }

typedef struct sluice_http_field {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing whitespace removed */
    size_t value_len;
} sluice_http_field;

typedef enum sluice_http_body_kind {
    SLUICE_HTTP_BODY_NONE = 0,
    SLUICE_HTTP_BODY_LENGTH = 1,
    SLUICE_HTTP_BODY_CHUNKED = 2
} sluice_http_body_kind;

typedef enum sluice_http_target_form {
    SLUICE_HTTP_TARGET_ORIGIN = 0,    /* /path?query */
    SLUICE_HTTP_TARGET_ABSOLUTE = 1,  /* http://host/path?query */
    SLUICE_HTTP_TARGET_AUTHORITY = 2, /* host:port, CONNECT only */
    SLUICE_HTTP_TARGET_ASTERISK = 3   /* *, OPTIONS only */
} sluice_http_target_form;

/* A parsed request head. All pointers point into the caller's buffer. */
typedef struct sluice_http_request {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    const char *path;    /* target's path (origin- and absolute-form), without the query */
    size_t path_len;
    const char *query;   /* after '?', or NULL */
    size_t query_len;
    int version_minor;   /* 0 or 1; HTTP/1.x with x > 1 is read as 1.1 (RFC 9110 6.2) */
    sluice_http_target_form target_form;
    sluice_http_field *fields; /* in: caller's array; out: the fields in order */
    size_t fields_capacity;    /* in: length of the caller's array */
    size_t num_fields;         /* out */
    sluice_http_body_kind body_kind;
    uint64_t content_length;   /* with SLUICE_HTTP_BODY_LENGTH */
    int keep_alive;            /* persistence per RFC 9112 9.3 */
    int expect_continue;       /* HTTP/1.1 Expect: 100-continue */
    int is_head;               /* method is HEAD */
} sluice_http_request;

/*
 * Parses a request head from buf[0, len).
 * Returns the head's length in bytes (> 0) when complete, SLUICE_HTTP_INCOMPLETE
 * when more bytes are needed, or a negative sluice_http_error. Leading empty
 * lines are skipped (RFC 9112 2.2) and count in the returned length.
 */
int sluice_http_parse_request(const char *buf, size_t len, const sluice_http_limits *limits,
                              sluice_http_request *req);

/* The status code for an error (400 when the code is unknown). */
int sluice_http_error_status(int error);

/* A short, readable reason for an error; a static string. */
const char *sluice_http_error_message(int error);

/* Decoder state for a chunked body; zero-initialise it (or call _init) per body. */
typedef struct sluice_http_chunked {
    int state;
    uint64_t chunk_remaining;
    uint64_t body_bytes;
    uint64_t max_body_bytes;
    size_t size_digits;
    size_t line_bytes;
    size_t trailer_bytes;
    size_t max_trailer_bytes;
} sluice_http_chunked;

#define SLUICE_HTTP_CHUNK_DATA 1 /* buf[*data_offset, +*data_len) is body data */
#define SLUICE_HTTP_CHUNK_END 2  /* last-chunk and trailers consumed; body complete */

void sluice_http_chunked_init(sluice_http_chunked *decoder, uint64_t max_body_bytes,
                              size_t max_trailer_bytes);

/*
 * Decodes the chunked body in buf[0, len).
 * Returns SLUICE_HTTP_CHUNK_DATA with a data span, SLUICE_HTTP_CHUNK_END, or
 * SLUICE_HTTP_INCOMPLETE after consuming everything, or a negative sluice_http_error.
 * *consumed always says how many bytes of buf were used, data span included.
 */
int sluice_http_chunked_decode(sluice_http_chunked *decoder, const char *buf, size_t len,
                               size_t *consumed, size_t *data_offset, size_t *data_len);

#ifdef __cplusplus
}
#endif
#endif
