/* sha256: SHA-256 (FIPS 180-4), for step hashes in plan.json. Small and
 * dependency-free: libcurl's TLS library is not an API we may rely on. */
#ifndef CLUSTERC_SHA256_H
#define CLUSTERC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define SHA256_DIGEST_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t total;          /* bytes hashed so far */
	unsigned char block[64];
	size_t used;             /* bytes waiting in block */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* Finishes the hash; c must be initialised again before reuse. */
void sha256_final(struct sha256 *c, unsigned char digest[SHA256_DIGEST_LEN]);
/* Finishes the hash and appends it as 64 lower-case hex digits. */
void sha256_final_hex(struct sha256 *c, struct strbuf *sb);
/* One-shot: appends the hex digest of data to sb. */
void sha256_hex(struct strbuf *sb, const void *data, size_t len);

/* Reads a certificate fingerprint as an operator pastes it: "sha256:" and
 * 64 hex digits, or the colon-separated form `pvenode cert info` and
 * `openssl x509 -fingerprint -sha256` print ("AB:CD:..."), either case, with
 * or without the prefix. Returns 0 with the digest in out, or -1. */
int sha256_parse_fingerprint(const char *s, unsigned char out[SHA256_DIGEST_LEN]);
/* Appends digest as "sha256:AB:CD:..." (upper case, as pvenode prints it). */
void sha256_format_fingerprint(struct strbuf *sb, const unsigned char digest[SHA256_DIGEST_LEN]);

#endif
