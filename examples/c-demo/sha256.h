/* SHA-256 (FIPS 180-4), incremental: /upload hashes a body it never holds whole. */
#ifndef SLUICE_DEMO_SHA256_H
#define SLUICE_DEMO_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t block_len;
    uint64_t length;
} sha256;

void sha256_init(sha256 *s);
void sha256_update(sha256 *s, const void *data, size_t len);
/* Writes the digest as 64 lowercase hex digits and a NUL into hex. */
void sha256_final_hex(sha256 *s, char hex[65]);

#endif
