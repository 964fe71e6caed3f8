/* model_attrs: attribute readers (a block's attribute as a C value, with
 * its default) and converters (addresses, secrets, names to JSON). */
#include "model_internal.h"
#include "net.h"
#include "xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- small accessors ---- */

/* An attribute's value for the rules below, or NULL when it is absent or
 * poisoned (its problem was reported where the value was made: an overflowing
 * number, a missing env(), a bad string), so that no rule piles on. */
struct ast_node *value_get(const struct ast_node *blk, const char *name)
{
	struct ast_node *v = block_get(blk, name);
	return v && !v->poisoned ? v : NULL;
}

const char *str_attr(const struct ast_node *blk, const char *name, const char *dflt)
{
	struct ast_node *v = blk ? block_get(blk, name) : NULL;
	if (v && v->poisoned)
		return dflt;
	return v && (v->kind == AST_STRING || v->kind == AST_REF) ? v->u.str : dflt;
}

long long int_attr(const struct ast_node *blk, const char *name, long long dflt)
{
	struct ast_node *v = blk ? value_get(blk, name) : NULL;
	return v && (v->kind == AST_INT || v->kind == AST_SIZE || v->kind == AST_DURATION) ? (long long)v->u.num : dflt;
}

int bool_attr(const struct ast_node *blk, const char *name, int dflt)
{
	struct ast_node *v = blk ? value_get(blk, name) : NULL;
	return v && v->kind == AST_BOOL ? v->u.boolean : dflt;
}

json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *secret_json(const struct ast_node *blk, const char *name)
{
	struct ast_node *v = blk ? value_get(blk, name) : NULL;
	if (!v || v->kind != AST_SECRET)
		return json_null();
	return json_pack("{s:s}", "secret", v->u.str);
}

char *fmt_ip(uint32_t a)
{
	struct strbuf sb = STRBUF_INIT;
	ipv4_format(&sb, a);
	return strbuf_detach(&sb, NULL);
}

char *fmt_cidr(uint32_t a, uint8_t p)
{
	struct strbuf sb = STRBUF_INIT;
	cidr_format(&sb, a, p);
	return strbuf_detach(&sb, NULL);
}

void set_ip(json_t *obj, const char *key, uint32_t a)
{
	char *s = fmt_ip(a);
	json_object_set_new(obj, key, json_string(s));
	free(s);
}

void set_cidr(json_t *obj, const char *key, uint32_t a, uint8_t p)
{
	char *s = fmt_cidr(a, p);
	json_object_set_new(obj, key, json_string(s));
	free(s);
}

void hint_suggest(struct diag *d, const char *word, const char **cands, size_t n)
{
	const char *s = diag_suggest(word, cands, n);
	if (s)
		diag_hint(d, "did you mean '%s'?", s);
}

const char *gpu_type_of(const char *model, struct strbuf *sb)
{
	/* "GTX 1060" -> "gtx-1060": a label value the device plugin step applies. */
	if (!model || !*model)
		return "nvidia-gpu";
	bool dash = false;
	for (const char *p = model; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (isalnum(ch)) {
			if (dash && sb->len)
				strbuf_addch(sb, '-');
			strbuf_addch(sb, tolower(ch));
			dash = false;
		} else {
			dash = true;
		}
		if (sb->len >= 63)
			break;
	}
	while (sb->len && sb->buf[sb->len - 1] == '-')
		strbuf_setlen(sb, sb->len - 1);
	return sb->len ? sb->buf : "nvidia-gpu";
}
