#include "check.h"
#include "schema.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

void check_blocks_release(struct check_blocks *b)
{
	free(b->proxmox);
	free(b->images);
	free(b->nodes);
	free(b->apps);
	memset(b, 0, sizeof(*b));
}

struct ast_node *block_get(const struct ast_node *block, const char *name)
{
	/* No block, or an attribute written where a block belongs (reported by
	 * check_schema): nothing to look up. */
	if (!block || block->kind != AST_BLOCK)
		return NULL;
	for (struct ast_node *c = block->u.block.body; c; c = c->next) {
		if (c->kind == AST_ATTR && !strcmp(c->u.attr.name, name))
			return c->u.attr.value;
		if (c->kind == AST_BLOCK && !strcmp(c->u.block.type, name))
			return c;
	}
	return NULL;
}

static void suggest(struct diag *d, const char *word, const char **cands, size_t n)
{
	const char *s = diag_suggest(word, cands, n);
	if (s)
		diag_hint(d, "did you mean '%s'?", s);
}

static bool word_ok(const char *w, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		if (!strcmp(words[i], w))
			return true;
	return false;
}

static void words_list(struct strbuf *sb, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		strbuf_addf(sb, "%s%s", i ? (words[i + 1] ? ", " : " or ") : "", words[i]);
}

static void check_value(struct diag *d, const struct sattr *a, enum stype t, struct ast_node *v,
			const char *what);

static void type_error(struct diag *d, struct ast_node *v, const char *what, const char *expected)
{
	if (v->kind == AST_SECRET) {
		diag_error(d, v->loc, "C0501", "secret() cannot be used for %s: its value would land in the output", what);
		diag_hint(d, "only credentials (password, token, key, admin_key) take secrets; they are read at apply time");
		return;
	}
	diag_error(d, v->loc, "C0301", "%s must be %s, not %s", what, expected, ast_kind_phrase(v->kind));
}

static void check_value(struct diag *d, const struct sattr *a, enum stype t, struct ast_node *v,
			const char *what)
{
	if (v->poisoned)
		return; /* its problem was reported where the value was made */
	switch (t) {
	case S_STRING:
		if (v->kind != AST_STRING) {
			if (v->kind == AST_SECRET && (a->flags & F_SECRET_OK))
				return;
			if (v->kind == AST_REF) {
				diag_error(d, v->loc, "C0302", "%s must be a string, not the name '%s'", what, v->u.str);
				diag_hint(d, "quote it: \"%s\"", v->u.str);
				return;
			}
			type_error(d, v, what, "a string");
		}
		return;
	case S_INT:
		if (v->kind != AST_INT)
			type_error(d, v, what, "an integer");
		return;
	case S_SIZE:
		if (v->kind != AST_SIZE) {
			type_error(d, v, what, "a size such as 8GiB");
			if (v->kind == AST_INT)
				diag_hint(d, "add a unit: %llu would be ambiguous", (unsigned long long)v->u.num);
		}
		return;
	case S_DURATION:
		if (v->kind != AST_DURATION)
			type_error(d, v, what, "a duration such as 30s, 5m or 2h");
		return;
	case S_BOOL:
		if (v->kind != AST_BOOL)
			type_error(d, v, what, "true or false");
		return;
	case S_IPV4:
		if (v->kind != AST_IPV4) {
			type_error(d, v, what, "an IPv4 address such as 192.168.1.1");
			if (v->kind == AST_STRING)
				diag_hint(d, "write addresses without quotes");
		}
		return;
	case S_CIDR:
		if (v->kind != AST_CIDR)
			type_error(d, v, what, "a CIDR such as 10.244.0.0/16");
		return;
	case S_HOSTADDR:
		if (v->kind != AST_IPV4 && v->kind != AST_CIDR)
			type_error(d, v, what, "an address such as 192.168.1.180/24");
		return;
	case S_ENDPOINT:
		if (v->kind != AST_ENDPOINT && v->kind != AST_IPV4)
			type_error(d, v, what, "an endpoint such as 192.168.1.10:6789");
		return;
	case S_REF:
		if (v->kind != AST_REF && v->kind != AST_STRING)
			type_error(d, v, what, "the name of a block");
		return;
	case S_ENUM:
		if (v->kind != AST_REF && v->kind != AST_STRING) {
			struct strbuf sb = STRBUF_INIT;
			words_list(&sb, a->words);
			type_error(d, v, what, sb.buf);
			strbuf_release(&sb);
		} else if (!word_ok(v->u.str, a->words)) {
			struct strbuf sb = STRBUF_INIT;
			words_list(&sb, a->words);
			diag_error(d, v->loc, "C0303", "'%s' is not a valid %s; expected %s", v->u.str, a->name, sb.buf);
			size_t n = 0;
			while (a->words[n])
				n++;
			suggest(d, v->u.str, (const char **)a->words, n);
			strbuf_release(&sb);
		}
		return;
	case S_SECRET:
		if (v->kind != AST_SECRET) {
			diag_error(d, v->loc, "C0502", "%s must be secret(\"NAME\"), not %s", what, ast_kind_phrase(v->kind));
			diag_hint(d, "credentials are read at apply time and never written to the output");
		}
		return;
	case S_LIST:
		if (v->kind != AST_LIST) {
			type_error(d, v, what, "a list");
			return;
		}
		for (struct ast_node *it = v->u.list.items; it; it = it->next)
			check_value(d, a, a->elem, it, what);
		return;
	case S_MAP:
		if (v->kind != AST_MAP) {
			type_error(d, v, what, "a map such as { key = \"value\" }");
			return;
		}
		for (struct ast_node *e = v->u.list.items; e; e = e->next) {
			struct ast_node *ev = e->u.attr.value;
			if (ev->kind != AST_STRING) {
				if (ev->kind == AST_SECRET)
					type_error(d, ev, "a map value", "a string");
				else
					diag_error(d, ev->loc, "C0304", "the value of '%s' must be a string, not %s",
						   e->u.attr.name, ast_kind_phrase(ev->kind));
			}
		}
		return;
	case S_BLOCK:
		return;
	}
}

static void check_block(struct diag *d, const struct sblock *sb, struct ast_node *blk);

static void check_body(struct diag *d, const struct sblock *sb, struct ast_node *blk)
{
	const char *btype = blk->u.block.type;
	/* Attributes that a misspelt name was taken for ("rolee": "did you mean
	 * 'role'?"): their "missing required attribute" would only repeat it. */
	bool *suggested = xcalloc(sb->nattrs + 1, sizeof(*suggested));
	for (struct ast_node *c = blk->u.block.body; c; c = c->next) {
		bool is_block = c->kind == AST_BLOCK;
		const char *name = is_block ? c->u.block.type : c->u.attr.name;
		struct loc nloc = is_block ? c->u.block.type_loc : c->u.attr.name_loc;
		if (c->kind == AST_IMPORT) {
			diag_error(d, c->loc, "C0305", "import must be at the top level of a file");
			continue;
		}
		if (sb->open) {
			if (is_block)
				diag_error(d, nloc, "C0306", "'%s' takes no nested blocks", btype);
			else if (c->u.attr.value->kind != AST_STRING)
				check_value(d, &(struct sattr){ name, S_STRING, 0, 0, NULL, NULL, NULL },
					    S_STRING, c->u.attr.value, "a version");
			/* duplicate and unknown version keys: check_model knows the stdlib's */
			continue;
		}
		const struct sattr *a = schema_attr(sb, name);
		if (!a) {
			diag_error(d, nloc, "C0307", "unknown %s '%s' in '%s'", is_block ? "block" : "attribute", name, btype);
			size_t n;
			const char **cands = schema_attr_names(sb, &n);
			const char *s = diag_suggest(name, cands, n);
			if (s) {
				diag_hint(d, "did you mean '%s'?", s);
				suggested[schema_attr(sb, s) - sb->attrs] = true;
			}
			free(cands);
			continue;
		}
		/* The same attribute twice in one block: name both places. */
		for (struct ast_node *p = blk->u.block.body; p != c; p = p->next) {
			const char *pn = p->kind == AST_BLOCK ? p->u.block.type :
					 p->kind == AST_ATTR ? p->u.attr.name : "";
			if (!strcmp(pn, name)) {
				diag_error(d, nloc, "C0308", "'%s' is set twice in '%s'", name, btype);
				diag_note(d, p->kind == AST_BLOCK ? p->u.block.type_loc : p->u.attr.name_loc,
					  "first set here");
				break;
			}
		}
		if (a->type == S_BLOCK && !is_block) {
			diag_error(d, nloc, "C0309", "'%s' is a block, not an attribute", name);
			diag_hint(d, "write %s { ... }", name);
			continue;
		}
		if (a->type != S_BLOCK && is_block) {
			diag_error(d, nloc, "C0310", "'%s' is an attribute, not a block", name);
			diag_hint(d, "write %s = value", name);
			continue;
		}
		if (is_block) {
			check_block(d, a->block, c);
			continue;
		}
		struct strbuf what = STRBUF_INIT;
		strbuf_addf(&what, "'%s'", name);
		check_value(d, a, a->type, c->u.attr.value, what.buf);
		strbuf_release(&what);
	}
	for (size_t i = 0; i < sb->nattrs; i++) {
		/* In a block with a syntax error the attribute may be the one that
		 * error recovery dropped: do not call it missing. */
		if (!(sb->attrs[i].flags & F_REQUIRED) || block_get(blk, sb->attrs[i].name) ||
		    suggested[i] || blk->poisoned)
			continue;
		if (blk->u.block.name)
			diag_error(d, blk->u.block.type_loc, "C0311", "%s '%s' is missing required attribute '%s'",
				   btype, blk->u.block.name, sb->attrs[i].name);
		else
			diag_error(d, blk->u.block.type_loc, "C0312", "'%s' is missing required attribute '%s'", btype,
				   sb->attrs[i].name);
	}
	free(suggested);
}

static void check_block(struct diag *d, const struct sblock *sb, struct ast_node *blk)
{
	if (sb->naming == NAME_NONE && blk->u.block.name) {
		diag_error(d, blk->u.block.name_loc, "C0313", "'%s' takes no name", blk->u.block.type);
		diag_hint(d, "write %s { ... }", blk->u.block.type);
	} else if (sb->naming == NAME_REQUIRED && !blk->u.block.name) {
		diag_error(d, blk->u.block.type_loc, "C0314", "'%s' needs a name", blk->u.block.type);
		diag_hint(d, "write %s NAME { ... }", blk->u.block.type);
	}
	check_body(d, sb, blk);
}

static void push(struct ast_node ***arr, size_t *n, struct ast_node *b)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[(*n)++] = b;
}

static void single(struct diag *d, struct ast_node **slot, struct ast_node *b)
{
	if (*slot) {
		diag_error(d, b->u.block.type_loc, "C0315", "a second '%s' block", b->u.block.type);
		diag_note(d, (*slot)->u.block.type_loc, "the first '%s' block is here", b->u.block.type);
		return;
	}
	*slot = b;
}

void check_schema(struct unit *u, struct check_blocks *out)
{
	struct diag *d = u->diag;
	memset(out, 0, sizeof(*out));
	size_t nodes_cap = 0;
	for (size_t i = 0; i < u->nblocks; i++) {
		struct ast_node *b = u->blocks[i];
		const char *type = b->u.block.type;
		const struct sblock *sb = schema_top(type);
		if (!sb) {
			diag_error(d, b->u.block.type_loc, "C0316", "unknown block type '%s'", type);
			size_t n;
			const char **cands = schema_top_names(&n);
			suggest(d, type, cands, n);
			free(cands);
			continue;
		}
		check_block(d, sb, b);
		if (!strcmp(type, "cluster"))
			single(d, &out->cluster, b);
		else if (!strcmp(type, "network"))
			single(d, &out->network, b);
		else if (!strcmp(type, "ceph"))
			single(d, &out->ceph, b);
		else if (!strcmp(type, "argocd"))
			single(d, &out->argocd, b);
		else if (!strcmp(type, "monitoring"))
			single(d, &out->monitoring, b);
		else if (!strcmp(type, "versions"))
			single(d, &out->versions, b);
		else if (!strcmp(type, "proxmox"))
			push(&out->proxmox, &out->nproxmox, b);
		else if (!strcmp(type, "image"))
			push(&out->images, &out->nimages, b);
		else if (!strcmp(type, "app"))
			push(&out->apps, &out->napps, b);
		else if (!strcmp(type, "node")) {
			/* Nodes are many; grow geometrically. */
			XGROW(out->nodes, nodes_cap, out->nnodes + 1);
			out->nodes[out->nnodes++] = b;
		}
	}
	if (!out->cluster && u->nblocks)
		diag_error(d, (struct loc){ u->blocks[0]->loc.file, 0, 0 }, "C0317", "there is no 'cluster' block");
	if (!u->nblocks && !diag_failed(d)) {
		/* Point at the top of the file itself (not at a .env file). */
		struct loc at = LOC_NONE;
		for (size_t i = d->nsources; i-- > 0;)
			if (!strcmp(d->sources[i].path, u->main_path))
				at = (struct loc){ (int32_t)i, 0, 0 };
		diag_error(d, at, "C0318", "'%s' defines nothing: a cluster needs a 'cluster' block and at least one node",
			   u->main_path);
	}
}
