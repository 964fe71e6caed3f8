/* tmpl_render: the rendering walk over a compiled tree, and the public
 * entry points of tmpl.h. */
#include "tmpl_internal.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

/* ---- rendering ------------------------------------------------------------ */

static int render_body(struct render *r, struct tmpl *t, const struct body *b, enum tmpl_ctx ctx,
		       struct strbuf *out);

static int render_insert(struct render *r, struct tmpl *t, const struct tnode *n, enum tmpl_ctx ctx,
			 struct strbuf *out)
{
	struct val v = { 0 };
	if (tmpl_eval_present(r, t, n->e, &v))
		return -1;
	int rc = 0;
	if (v.final) {
		rc = tmpl_emit_value(r, t, n->e, v.j, TMPL_CTX_NONE, out);
	} else if (ctx == TMPL_CTX_NONE && !v.filtered) {
		tmpl_error(t, r->d, n->off, n->end,
			   "no escaping is known for '%s' files: name a filter", t->name);
		diag_hint(r->d, "Use | raw to insert the text as it is, or | sh, | yaml, | json, | toml.");
		rc = -1;
	} else {
		rc = tmpl_emit_value(r, t, n->e, v.j, ctx, out);
	}
	tmpl_val_release(&v);
	return rc;
}

static int render_each(struct render *r, struct tmpl *t, const struct tnode *n, enum tmpl_ctx ctx,
		       struct strbuf *out)
{
	struct val v = { 0 };
	if (tmpl_eval_present(r, t, n->e, &v))
		return -1;
	int rc = 0;
	size_t mark = r->nvars;
	if (json_is_null(v.j)) {
		/* nothing to repeat */
	} else if (json_is_array(v.j)) {
		size_t cnt = json_array_size(v.j);
		XGROW(r->loops, r->lcap, r->nloops + 1);
		size_t li = r->nloops++;
		for (size_t i = 0; i < cnt && !rc; i++) {
			r->loops[li] = (struct loop){ .index = i, .count = cnt };
			json_t *idx = NULL;
			if (n->name2) {
				idx = json_integer((json_int_t)i);
				tmpl_push_var(r, n->name1, idx);
				tmpl_push_var(r, n->name2, json_array_get(v.j, i));
			} else {
				tmpl_push_var(r, n->name1, json_array_get(v.j, i));
			}
			rc = render_body(r, t, &n->body, ctx, out);
			r->nvars = mark;
			json_decref(idx);
		}
		r->nloops--;
	} else if (json_is_object(v.j) && !tmpl_is_secret(v.j)) {
		if (!n->name2) {
			tmpl_error(t, r->d, n->e->off, n->e->end,
				   "'%.*s' is a map: use '{{#each %.*s as key, value}}'", (int)(n->e->end - n->e->off),
				   t->text + n->e->off, (int)(n->e->end - n->e->off), t->text + n->e->off);
			tmpl_val_release(&v);
			return -1;
		}
		size_t cnt;
		const char **keys = tmpl_sorted_keys(v.j, &cnt);
		XGROW(r->loops, r->lcap, r->nloops + 1);
		size_t li = r->nloops++;
		for (size_t i = 0; i < cnt && !rc; i++) {
			r->loops[li] = (struct loop){ .index = i, .count = cnt };
			json_t *key = json_string_nocheck(keys[i]);
			tmpl_push_var(r, n->name1, key);
			tmpl_push_var(r, n->name2, json_object_get(v.j, keys[i]));
			rc = render_body(r, t, &n->body, ctx, out);
			r->nvars = mark;
			json_decref(key);
		}
		r->nloops--;
		free(keys);
	} else {
		tmpl_error(t, r->d, n->e->off, n->e->end, "cannot repeat over %s ('%.*s')", tmpl_type_name(v.j),
			   (int)(n->e->end - n->e->off), t->text + n->e->off);
		rc = -1;
	}
	tmpl_val_release(&v);
	return rc;
}

static void add_indented(struct strbuf *out, const char *s, size_t len, const char *indent)
{
	size_t il = strlen(indent);
	bool at_start = true;
	for (size_t i = 0; i < len; i++) {
		if (at_start && s[i] != '\n')
			strbuf_add(out, indent, il);
		strbuf_addch(out, s[i]);
		at_start = s[i] == '\n';
	}
}

static int render_include(struct render *r, struct tmpl *t, struct tnode *n, enum tmpl_ctx ctx,
			  struct strbuf *out)
{
	if (r->depth >= TMPL_MAX_INCLUDE) {
		tmpl_error(t, r->d, n->off, n->end, "includes nest more than %d deep (does '%s' include itself?)",
			   TMPL_MAX_INCLUDE, n->path);
		return -1;
	}
	if (!n->incl) {
		bool missing;
		n->incl = tmpl_get(r->e, 'f', n->path, NULL, TMPL_CTX_NONE, r->d, &missing);
		if (!n->incl) {
			if (missing)
				tmpl_error(t, r->d, n->off, n->end, "no template '%s' in the stdlib", n->path);
			else
				diag_note(r->d, tmpl_loc(t, r->d, n->off, n->end), "included from here");
			return -1;
		}
	}
	struct tmpl *it = n->incl;
	enum tmpl_ctx ictx = it->ctx != TMPL_CTX_NONE ? it->ctx : ctx;
	r->depth++;
	int rc;
	if (n->indent && *n->indent) {
		struct strbuf tmp = STRBUF_INIT;
		rc = render_body(r, it, &it->root, ictx, &tmp);
		add_indented(out, tmp.buf, tmp.len, n->indent);
		strbuf_release(&tmp);
	} else {
		rc = render_body(r, it, &it->root, ictx, out);
	}
	r->depth--;
	if (rc)
		diag_note(r->d, tmpl_loc(t, r->d, n->off, n->end), "included from here");
	return rc;
}

static int render_body(struct render *r, struct tmpl *t, const struct body *b, enum tmpl_ctx ctx,
		       struct strbuf *out)
{
	for (size_t i = 0; i < b->n; i++) {
		struct tnode *n = &b->v[i];
		switch (n->kind) {
		case N_TEXT:
			strbuf_add(out, t->text + n->text_off, n->text_len);
			break;
		case N_INSERT:
			if (render_insert(r, t, n, ctx, out))
				return -1;
			break;
		case N_IF:
			for (size_t k = 0; k < n->nbr; k++) {
				bool take = true;
				if (n->br[k].cond) {
					struct val v = { 0 };
					if (tmpl_eval_expr(r, t, n->br[k].cond, &v))
						return -1;
					take = tmpl_truthy(v.j);
					tmpl_val_release(&v);
				}
				if (take) {
					if (render_body(r, t, &n->br[k].body, ctx, out))
						return -1;
					break;
				}
			}
			break;
		case N_EACH:
			if (render_each(r, t, n, ctx, out))
				return -1;
			break;
		case N_INCLUDE:
			if (render_include(r, t, n, ctx, out))
				return -1;
			break;
		}
	}
	return 0;
}

static void render_init(struct render *r, struct tmpl_engine *e, const struct tmpl_scope *scope,
			struct diag *d)
{
	memset(r, 0, sizeof(*r));
	r->e = e;
	r->d = d;
	if (scope) {
		r->root = scope->root;
		for (size_t i = 0; i < scope->nvars; i++)
			tmpl_push_var(r, scope->vars[i].name, scope->vars[i].value);
		r->nscope = scope->nvars;
		r->reads = scope->reads;
	}
}

static void render_release(struct render *r)
{
	free(r->vars);
	free(r->loops);
}

/* Renders a whole template in its own context. */
static int render_root(struct tmpl_engine *e, struct tmpl *t, const struct tmpl_scope *scope,
		       struct strbuf *out, struct diag *d)
{
	struct render r;
	render_init(&r, e, scope, d);
	int rc = render_body(&r, t, &t->root, t->ctx, out);
	render_release(&r);
	return rc;
}

int tmpl_render(struct tmpl_engine *e, const char *path, const struct tmpl_scope *scope,
		struct strbuf *out, struct diag *d)
{
	bool missing;
	struct tmpl *t = tmpl_get(e, 'f', path, NULL, TMPL_CTX_NONE, d, &missing);
	if (!t) {
		if (missing)
			diag_error(d, LOC_NONE, "C0644", "no template '%s' in the stdlib", path);
		return -1;
	}
	return render_root(e, t, scope, out, d);
}

int tmpl_render_text(struct tmpl_engine *e, const char *name, const char *text,
		     enum tmpl_ctx ctx, const struct tmpl_scope *scope, struct strbuf *out,
		     struct diag *d)
{
	struct tmpl *t = tmpl_get(e, 's', name, text, ctx, d, NULL);
	if (!t)
		return -1;
	return render_root(e, t, scope, out, d);
}

int tmpl_eval(struct tmpl_engine *e, const char *name, const char *expr,
	      const struct tmpl_scope *scope, json_t **value, struct diag *d)
{
	*value = NULL;
	struct tmpl *t = tmpl_get(e, 'e', name, expr, TMPL_CTX_NONE, d, NULL);
	if (!t)
		return -1;
	struct render r;
	render_init(&r, e, scope, d);
	struct val v = { 0 };
	int rc = tmpl_eval_expr(&r, t, t->expr, &v);
	render_release(&r);
	if (rc)
		return -1;
	if (v.own)
		*value = v.own;
	else if (v.j)
		*value = json_incref((json_t *)v.j);
	return 0;
}

int tmpl_eval_bool(struct tmpl_engine *e, const char *name, const char *expr,
		   const struct tmpl_scope *scope, bool *result, struct diag *d)
{
	json_t *v;
	*result = false;
	if (tmpl_eval(e, name, expr, scope, &v, d))
		return -1;
	*result = tmpl_truthy(v);
	json_decref(v);
	return 0;
}
