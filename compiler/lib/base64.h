/* base64: standard base64 (RFC 4648 section 4, with '=' padding), the one
 * implementation. The compiler encodes file contents into manifests; the
 * runner encodes values for a step's stdin and decodes the values a step
 * hands back. */
#ifndef CLUSTERC_BASE64_H
#define CLUSTERC_BASE64_H

#include "strbuf.h"

#include <stdbool.h>
#include <stddef.h>

/* Appends the encoding of len bytes of data to sb. */
void base64_encode(struct strbuf *sb, const void *data, size_t len);
/* Appends the bytes that in[0..len) encodes, up to the first '='. Returns 0,
 * or -1 at a byte outside the alphabet (sb then holds what came before). */
int base64_decode(struct strbuf *sb, const char *in, size_t len);
/* Whether s is a complete encoding: a multiple of 4 characters from the
 * alphabet, with at most two '=' and only at the end. */
bool base64_valid(const char *s);

#endif
