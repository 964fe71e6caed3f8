/* provenance: the header line that names the blocks a generated file came from.
 *
 * The blocks are the ones whose values the template read (tmpl_reads), named
 * as the .cluster file names them ("node k8s-node-1", "network"), never by line:
 * an unrelated edit elsewhere in the file leaves every header, and so every
 * step hash, as it was. The file name is not in the header for the same reason
 * (renaming the file would run every step again); PLAN.md names it. */
#include "provenance.h"
#include "plan_internal.h"

#include <stdlib.h>
#include <string.h>

/* Block kinds in the order the language documents them (LANGUAGE.md). */
static const char *const kinds[] = { "cluster", "proxmox", "network", "node",
				     "ceph",    "argocd",  "monitoring", "app" };
enum { NKINDS = sizeof(kinds) / sizeof(kinds[0]) };

struct block {
	int kind;          /* index into kinds, or NKINDS for another top-level name */
	const char *name;  /* the block's name, "*" for every block of the kind, NULL for unnamed */
	bool weak;         /* a "*" that yields to a named block of its kind (features.gpu) */
};

struct blocks {
	struct block v[64];
	size_t n;
	bool truncated;
};

static int kind_of(const char *s)
{
	for (int i = 0; i < NKINDS; i++)
		if (!strcmp(kinds[i], s))
			return i;
	return NKINDS;
}

static void add_block_as(struct blocks *b, int kind, const char *name, bool weak)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].kind == kind && ((!b->v[i].name && !name) ||
					     (b->v[i].name && name && !strcmp(b->v[i].name, name)))) {
			b->v[i].weak = b->v[i].weak && weak;
			return;
		}
	if (b->n == sizeof(b->v) / sizeof(b->v[0])) {
		b->truncated = true;
		return;
	}
	b->v[b->n++] = (struct block){ kind, name, weak };
}

static void add_block(struct blocks *b, int kind, const char *name)
{
	add_block_as(b, kind, name, false);
}

static const char *name_of(const json_t *v)
{
	return json_string_value(json_object_get(v, "name"));
}

static bool in_list(const json_t *model, const char *list, const json_t *v)
{
	const json_t *a = json_object_get(model, list);
	for (size_t i = 0; i < json_array_size(a); i++)
		if (json_array_get(a, i) == v)
			return true;
	return false;
}

/* Features that are on because a block is in the file: a read of one names
 * that block when it is on, and nothing when it is off (the block is not in
 * the file: a template asking whether monitoring is on must not credit a
 * removed block). */
struct feature_block {
	const char *feature, *kind, *name;
	bool weak;
};
static const struct feature_block feature_blocks[] = {
	{ "ceph", "ceph", NULL, false },
	{ "monitoring", "monitoring", NULL, false },
	{ "gitops", "argocd", NULL, false },
	{ "gpu", "node", "*", true },
	{ "proxmox", "proxmox", "*", false },
};

static void block_of_read(const json_t *model, const struct tmpl_read *r, struct blocks *b)
{
	if (!r->from_root) {
		/* A manifest's "each" variable: one element of a model list. */
		if (in_list(model, "nodes", r->value) || in_list(model, "controls", r->value) ||
		    in_list(model, "workers", r->value) || in_list(model, "gpu_nodes", r->value))
			add_block(b, kind_of("node"), name_of(r->value));
		else if (in_list(model, "apps", r->value))
			add_block(b, kind_of("app"), name_of(r->value));
		else if (in_list(model, "proxmox", r->value))
			add_block(b, kind_of("proxmox"), name_of(r->value));
		return;
	}
	const char *k = r->name;
	/* An optional block the file does not have ("monitoring": null). */
	if (json_is_null(r->value))
		return;
	/* Pins of the stdlib and the compiler itself, not of a block. */
	if (!strcmp(k, "clusterc") || !strcmp(k, "versions") || !strcmp(k, "images"))
		return;
	if (!strcmp(k, "features") && r->sub) {
		const char *f = r->sub;
		for (size_t i = 0; i < sizeof(feature_blocks) / sizeof(feature_blocks[0]); i++) {
			const struct feature_block *fb = &feature_blocks[i];
			if (strcmp(f, fb->feature))
				continue;
			if (json_is_true(json_object_get(r->value, f)))
				add_block_as(b, kind_of(fb->kind), fb->name, fb->weak);
			return;
		}
		/* Not a block's: an attribute of the cluster or network block, which
		 * the output depends on whether it is on or off. */
		if (!strcmp(f, "ha"))
			add_block(b, kind_of("cluster"), name_of(json_object_get(model, "cluster")));
		else
			add_block(b, kind_of("network"), NULL);
	} else if (!strcmp(k, "cluster") || !strcmp(k, "features"))
		add_block(b, kind_of("cluster"), name_of(json_object_get(model, "cluster")));
	else if (!strcmp(k, "nodes") || !strcmp(k, "controls") || !strcmp(k, "workers") ||
		 !strcmp(k, "gpu_nodes"))
		add_block(b, kind_of("node"), "*");
	else if (!strcmp(k, "first_control"))
		add_block(b, kind_of("node"), name_of(r->value));
	else if (!strcmp(k, "apps"))
		add_block(b, kind_of("app"), "*");
	else if (!strcmp(k, "proxmox"))
		add_block(b, kind_of("proxmox"), "*");
	else
		add_block(b, kind_of(k), kind_of(k) == NKINDS ? k : NULL);
}

static int cmp_block(const void *a, const void *b)
{
	const struct block *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	if (!x->name || !y->name)
		return !!x->name - !!y->name;
	/* "*" (every block of the kind) first. */
	if (!strcmp(x->name, "*") || !strcmp(y->name, "*"))
		return !strcmp(y->name, "*") - !strcmp(x->name, "*");
	return strcmp(x->name, y->name);
}

/* Whether x goes without saying: a named block beside "every" block of its
 * kind, or a weak "every" beside a named one. */
static bool subsumed(const struct blocks *b, const struct block *x)
{
	if (!x->name)
		return false;
	bool every = !strcmp(x->name, "*");
	for (size_t i = 0; i < b->n; i++) {
		const struct block *y = &b->v[i];
		if (y == x || y->kind != x->kind || !y->name)
			continue;
		bool y_every = !strcmp(y->name, "*");
		if (!every && y_every && !y->weak)
			return true;
		if (every && x->weak && !y_every)
			return true;
	}
	return false;
}

static void describe(const struct blocks *b, struct strbuf *sb)
{
	bool first = true;
	for (size_t i = 0; i < b->n; i++) {
		const struct block *x = &b->v[i];
		if (subsumed(b, x))
			continue;
		strbuf_addstr(sb, first ? "" : ", ");
		first = false;
		if (x->kind == NKINDS)
			strbuf_addstr(sb, x->name);
		else if (x->name && !strcmp(x->name, "*"))
			strbuf_addf(sb, "every %s", kinds[x->kind]);
		else if (x->name)
			strbuf_addf(sb, "%s %s", kinds[x->kind], x->name);
		else
			strbuf_addstr(sb, kinds[x->kind]);
	}
	if (b->truncated)
		strbuf_addstr(sb, ", ...");
}

/* Files whose format has '#' line comments; others (JSON, Markdown) carry no
 * header, and vendored upstream files stay byte for byte as published. */
static bool takes_hash_comment(const char *out)
{
	if (strstr(out, "vendor/"))
		return false;
	const char *base = strrchr(out, '/');
	base = base ? base + 1 : out;
	static const char *const suffixes[] = { ".sh", ".yaml", ".yml", ".conf", ".toml", ".py" };
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (ends_with(base, suffixes[i]))
			return true;
	return !strcmp(base, "user-data") || !strcmp(base, "meta-data") ||
	       !strcmp(base, ".gitattributes");
}

void provenance_header(const json_t *model, const struct tmpl_reads *reads, const char *out,
		       struct strbuf *body)
{
	if (!takes_hash_comment(out))
		return;
	struct blocks b = { .n = 0 };
	for (size_t i = 0; i < reads->n; i++)
		block_of_read(model, &reads->v[i], &b);
	qsort(b.v, b.n, sizeof(b.v[0]), cmp_block);
	struct strbuf line = STRBUF_INIT;
	if (b.n) {
		strbuf_addstr(&line, "# Generated by clusterc from the blocks: ");
		describe(&b, &line);
		strbuf_addstr(&line, ".\n");
	} else {
		strbuf_addstr(&line, "# Generated by clusterc from its stdlib alone: no block changes it.\n");
	}
	/* After a line that must stay first (#!, #cloud-config), and a script's
	 * strict mode, which every step keeps on its second line. */
	size_t at = 0;
	if (body->len > 1 && body->buf[0] == '#' &&
	    (body->buf[1] == '!' || !strncmp(body->buf, "#cloud-config", 13))) {
		const char *nl = memchr(body->buf, '\n', body->len);
		at = nl ? (size_t)(nl - body->buf) + 1 : body->len;
		static const char strict[] = "set -euo pipefail\n";
		if (body->buf[1] == '!' && body->len - at >= sizeof(strict) - 1 &&
		    !memcmp(body->buf + at, strict, sizeof(strict) - 1))
			at += sizeof(strict) - 1;
	}
	struct strbuf out_body = STRBUF_INIT;
	strbuf_grow(&out_body, body->len + line.len);
	strbuf_add(&out_body, body->buf, at);
	strbuf_add(&out_body, line.buf, line.len);
	strbuf_add(&out_body, body->buf + at, body->len - at);
	strbuf_release(body);
	*body = out_body;
	strbuf_release(&line);
}
