/* step_hash: the one implementation of a step's plan.json hash. */
#include "step_hash.h"

#include <stdlib.h>
#include <string.h>

void step_hash_begin(struct sha256 *c, const json_t *step)
{
	sha256_init(c);
	json_t *copy = json_copy((json_t *)step);
	json_object_del(copy, "hash");
	char *canon = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(copy);
	if (canon)
		sha256_update(c, canon, strlen(canon));
	free(canon);
}

void step_hash_file(struct sha256 *c, const char *path, unsigned mode, const void *data,
		    size_t len)
{
	struct strbuf hdr = STRBUF_INIT;
	strbuf_addstr(&hdr, path);
	strbuf_addch(&hdr, '\0');
	strbuf_addf(&hdr, "%o", mode);
	strbuf_addch(&hdr, '\0');
	strbuf_addf(&hdr, "%zu", len);
	strbuf_addch(&hdr, '\0');
	sha256_update(c, hdr.buf, hdr.len);
	sha256_update(c, data, len);
	strbuf_release(&hdr);
}

void step_hash_finish(struct sha256 *c, struct strbuf *out)
{
	strbuf_addstr(out, "sha256:");
	sha256_final_hex(c, out);
}
