/* sshkey: see sshkey.h. */
#include "sshkey.h"
#include "base64.h"

#include <string.h>

int ssh_host_key_parse(const char *line, struct strbuf *out)
{
	static const char *const types[] = { "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
					     "ecdsa-sha2-nistp521", "ssh-rsa" };
	size_t tl = strcspn(line, " \t\n");
	const char *b = line + tl + strspn(line + tl, " \t");
	size_t bl = strcspn(b, " \t\r\n");
	int known = 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
		known |= strlen(types[i]) == tl && !strncmp(line, types[i], tl);
	if (!known || !bl)
		return -1;
	struct strbuf b64 = STRBUF_INIT, blob = STRBUF_INIT;
	strbuf_add(&b64, b, bl);
	int rc = -1;
	if (base64_valid(b64.buf) && !base64_decode(&blob, b64.buf, b64.len) && blob.len > 4 + tl) {
		const unsigned char *u = (const unsigned char *)blob.buf;
		size_t n = (size_t)u[0] << 24 | (size_t)u[1] << 16 | (size_t)u[2] << 8 | u[3];
		if (n == tl && !memcmp(blob.buf + 4, line, tl)) {
			strbuf_add(out, line, tl);
			strbuf_addch(out, ' ');
			strbuf_addstr(out, b64.buf);
			rc = 0;
		}
	}
	strbuf_release(&b64);
	strbuf_release(&blob);
	return rc;
}
