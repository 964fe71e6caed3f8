#include "base64.h"

#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(struct strbuf *sb, const void *data, size_t len)
{
	const unsigned char *d = data;
	strbuf_grow(sb, (len + 2) / 3 * 4);
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned long v = (unsigned long)d[i] << 16 | (unsigned long)d[i + 1] << 8 | d[i + 2];
		strbuf_addch(sb, alphabet[v >> 18 & 63]);
		strbuf_addch(sb, alphabet[v >> 12 & 63]);
		strbuf_addch(sb, alphabet[v >> 6 & 63]);
		strbuf_addch(sb, alphabet[v & 63]);
	}
	if (i < len) {
		unsigned long v = (unsigned long)d[i] << 16 | (i + 1 < len ? (unsigned long)d[i + 1] << 8 : 0);
		strbuf_addch(sb, alphabet[v >> 18 & 63]);
		strbuf_addch(sb, alphabet[v >> 12 & 63]);
		strbuf_addch(sb, i + 1 < len ? alphabet[v >> 6 & 63] : '=');
		strbuf_addch(sb, '=');
	}
}

static int value_of(int c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

bool base64_valid(const char *s)
{
	size_t n = strlen(s), pad = 0;
	if (n % 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=') {
			pad++;
			if (i < n - 2)
				return false;
		} else if (pad || value_of((unsigned char)s[i]) < 0) {
			return false;
		}
	}
	return true;
}

int base64_decode(struct strbuf *sb, const char *in, size_t len)
{
	unsigned long v = 0;
	int bits = 0;
	for (size_t i = 0; i < len && in[i] != '='; i++) {
		int x = value_of((unsigned char)in[i]);
		if (x < 0)
			return -1;
		v = (v << 6 | (unsigned long)x) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			strbuf_addch(sb, (int)(v >> bits & 0xff));
		}
	}
	return 0;
}
