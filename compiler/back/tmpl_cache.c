/* tmpl_cache: the engine's cache of compiled templates, template sources
 * as diag sources, and template lookup (stdlib file, inline text or
 * expression), compiling on first use. */
#include "tmpl_internal.h"
#include "stdlib_data.h"
#include "strmap.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct tmpl_engine {
	struct tmpl **slots;      /* open addressing, power-of-two size */
	size_t nslots, count;
};

/* ---- diagnostics -------------------------------------------------------- */

/* Whether d already holds t's text as a source. A diag is identified by its
 * contents, not its address: callers reuse stack diags. */
bool tmpl_registered_in(const struct tmpl *t, const struct diag *d)
{
	if (t->src_diag != d)
		return false;
	const struct source *s = diag_source(d, t->src_id);
	return s && s->len == t->len && !strcmp(s->path, t->name) && !memcmp(s->text, t->text, t->len);
}

struct loc tmpl_loc(struct tmpl *t, struct diag *d, uint32_t off, uint32_t end)
{
	if (!tmpl_registered_in(t, d)) {
		t->src_id = diag_add_source(d, t->name, xstrndup(t->text, t->len), t->len);
		t->src_diag = d;
	}
	if (end < off)
		end = off;
	return (struct loc){ .file = t->src_id, .start = off, .end = end };
}

__attribute__((format(printf, 5, 6)))
void tmpl_error(struct tmpl *t, struct diag *d, uint32_t off, uint32_t end, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	diag_error(d, tmpl_loc(t, d, off, end), "C0642", "%s", sb.buf);
	strbuf_release(&sb);
}

size_t tmpl_line_of(const struct tmpl *t, uint32_t off)
{
	size_t line = 1;
	for (uint32_t i = 0; i < off && i < t->len; i++)
		line += t->text[i] == '\n';
	return line;
}

static void tmpl_free(struct tmpl *t)
{
	if (!t)
		return;
	tmpl_body_free(&t->root);
	tmpl_expr_free(t->expr);
	free(t->key);
	free(t->name);
	free(t->text);
	free(t);
}

/* ---- the cache ------------------------------------------------------------ */

struct tmpl_engine *tmpl_engine_new(void)
{
	struct tmpl_engine *e = xcalloc(1, sizeof(*e));
	e->nslots = 64;
	e->slots = xcalloc(e->nslots, sizeof(*e->slots));
	return e;
}

void tmpl_engine_free(struct tmpl_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nslots; i++)
		tmpl_free(e->slots[i]);
	free(e->slots);
	free(e);
}

static struct tmpl **slot_for(struct tmpl_engine *e, const char *key, size_t klen)
{
	size_t mask = e->nslots - 1;
	size_t i = (size_t)strmap_hash(key, klen) & mask;
	while (e->slots[i] && strcmp(e->slots[i]->key, key))
		i = (i + 1) & mask;
	return &e->slots[i];
}

static void cache_insert(struct tmpl_engine *e, struct tmpl *t)
{
	if ((e->count + 1) * 2 > e->nslots) {
		struct tmpl **old = e->slots;
		size_t n = e->nslots;
		e->nslots *= 2;
		e->slots = xcalloc(e->nslots, sizeof(*e->slots));
		for (size_t i = 0; i < n; i++)
			if (old[i])
				*slot_for(e, old[i]->key, strlen(old[i]->key)) = old[i];
		free(old);
	}
	*slot_for(e, t->key, strlen(t->key)) = t;
	e->count++;
}

enum tmpl_ctx tmpl_ctx_for_path(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
#define ENDS(suf) (n >= sizeof(suf) - 1 && !strcmp(base + n - (sizeof(suf) - 1), suf))
	if (ENDS(".sh"))
		return TMPL_CTX_SH;
	if (ENDS(".yaml") || ENDS(".yml") || ENDS("user-data") || ENDS("meta-data"))
		return TMPL_CTX_YAML;
	if (ENDS(".json"))
		return TMPL_CTX_JSON;
	if (ENDS(".toml"))
		return TMPL_CTX_TOML;
#undef ENDS
	return TMPL_CTX_NONE;
}

/* Finds or compiles a template. Returns NULL after reporting when it cannot
 * be read or does not compile. A cached failure is reported again only to a
 * diag that has not seen it, so one broken template does not produce an
 * error per node. */
struct tmpl *tmpl_get(struct tmpl_engine *e, char kind, const char *name, const char *text,
		      enum tmpl_ctx ctx, struct diag *d, bool *missing)
{
	struct strbuf key = STRBUF_INIT;
	strbuf_addch(&key, kind);
	strbuf_addch(&key, (char)('0' + ctx));
	strbuf_addstr(&key, name);
	if (text) {
		strbuf_addch(&key, '\n');
		strbuf_addstr(&key, text);
	}
	struct tmpl **slot = slot_for(e, key.buf, key.len);
	struct tmpl *t = *slot;
	if (missing)
		*missing = false;
	if (t) {
		strbuf_release(&key);
		if (!t->failed)
			return t;
		if (tmpl_registered_in(t, d))
			return NULL;
		/* Compile again so this diag gets the error too. */
		tmpl_body_free(&t->root);
		t->failed = false;
		tmpl_compile(t, d);
		return t->failed ? NULL : t;
	}
	t = xcalloc(1, sizeof(*t));
	t->src_id = -1;
	if (kind == 'f') {
		size_t len = 0;
		t->text = stdlib_read(name, &len);
		if (!t->text) {
			free(t);
			strbuf_release(&key);
			if (missing)
				*missing = true;
			return NULL;
		}
		t->len = len;
		t->name = stdlib_display_path(name);
		t->ctx = tmpl_ctx_for_path(name);
	} else {
		t->text = xstrdup(text);
		t->len = strlen(text);
		t->name = xstrdup(name);
		t->ctx = ctx;
		t->is_expr = kind == 'e';
	}
	t->key = strbuf_detach(&key, NULL);
	cache_insert(e, t);
	tmpl_compile(t, d);
	return t->failed ? NULL : t;
}
