/*
 * Character classes of RFC 9110/9112 and RFC 3986, as lookup tables shared by
 * the head parser and the chunked decoder. Tables keep the hot loops branch-light.
 */
#ifndef SLUICE_HTTP_CHARS_H
#define SLUICE_HTTP_CHARS_H

#include <stddef.h>
#include <string.h>

enum {
    SLUICE_CH_TCHAR = 1,   /* token character (RFC 9110 5.6.2) */
    SLUICE_CH_FVALUE = 2,  /* field-value byte: VCHAR, obs-text, SP, HTAB */
    SLUICE_CH_TARGET = 4,  /* request-target byte (RFC 3986 characters, '#' excluded) */
    SLUICE_CH_HOST = 8,    /* Host byte: reg-name, IP-literal brackets, ':' */
    SLUICE_CH_CHUNKEXT = 16 /* chunk-ext byte: anything visible, obs-text, SP, HTAB */
};

extern const unsigned char sluice__http_char_class[256];

static inline int sluice__is(unsigned char c, int cls) {
    return (sluice__http_char_class[c] & cls) != 0;
}

/* ASCII case-insensitive comparison of a byte run against a lower-case literal. */
static inline int sluice__ieq(const char *s, size_t len, const char *lower, size_t lower_len) {
    if (len != lower_len) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (c != (unsigned char)lower[i]) return 0;
    }
    return 1;
}

/* The value of a hex digit, or -1 for any other byte. */
static inline int sluice__hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = (unsigned char)(c | 0x20);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Every '%' starts a pct-encoded triplet (RFC 3986 2.1): "%zz" or a trailing '%' is no URI part. */
static inline int sluice__valid_percent_encoding(const char *s, size_t len) {
    const char *p = memchr(s, '%', len);
    while (p != NULL) {
        size_t at = (size_t)(p - s);
        if (at + 2 >= len) return 0;
        if (sluice__hex_value((unsigned char)s[at + 1]) < 0 || sluice__hex_value((unsigned char)s[at + 2]) < 0) return 0;
        p = memchr(s + at + 3, '%', len - at - 3);
    }
    return 1;
}

#define SLUICE__IEQ(s, len, lit) sluice__ieq((s), (len), (lit), sizeof(lit) - 1)

#endif
