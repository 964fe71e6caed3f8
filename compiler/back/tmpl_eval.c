/* tmpl_eval: values: expressions and filters evaluated against the
 * context, and a value written escaped for its output context. */
#include "tmpl_internal.h"
#include "base64.h"
#include "quote.h"
#include "sort.h"
#include "xalloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- values --------------------------------------------------------------- */


void tmpl_val_release(struct val *v)
{
	json_decref(v->own);
	v->own = NULL;
	v->j = NULL;
}

static void val_set_own(struct val *v, json_t *j)
{
	json_decref(v->own);
	v->own = j;
	v->j = j;
	v->miss = NULL;
}

static void val_set_borrowed(struct val *v, const json_t *j)
{
	json_decref(v->own);
	v->own = NULL;
	v->j = j;
	v->miss = NULL;
}

bool tmpl_is_secret(const json_t *v)
{
	return json_is_object(v) && json_object_size(v) == 1 &&
	       json_is_string(json_object_get(v, "secret"));
}

bool tmpl_truthy(const json_t *v)
{
	if (!v)
		return false;
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return false;
	case JSON_TRUE:
		return true;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0.0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	}
	return false;
}

const char *tmpl_type_name(const json_t *v)
{
	if (!v)
		return "missing";
	if (tmpl_is_secret(v))
		return "a secret";
	switch (json_typeof(v)) {
	case JSON_NULL: return "null";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_STRING: return "a string";
	case JSON_ARRAY: return "a list";
	case JSON_OBJECT: return "a map";
	}
	return "a value";
}

void tmpl_push_var(struct render *r, const char *name, const json_t *v)
{
	XGROW(r->vars, r->vcap, r->nvars + 1);
	r->vars[r->nvars].name = name;
	r->vars[r->nvars].value = v;
	r->nvars++;
}

static void note_read(struct tmpl_reads *rd, const struct tmpl_read *x)
{
	if (!rd || !x->value)
		return;
	for (size_t i = 0; i < rd->n; i++)
		if (rd->v[i].value == x->value &&
		    (rd->v[i].sub == x->sub || (rd->v[i].sub && x->sub && !strcmp(rd->v[i].sub, x->sub))))
			return;
	XGROW(rd->v, rd->cap, rd->n + 1);
	rd->v[rd->n++] = *x;
}

void tmpl_reads_release(struct tmpl_reads *r)
{
	free(r->v);
	*r = (struct tmpl_reads){ 0 };
}

void tmpl_reads_merge(struct tmpl_reads *dst, const struct tmpl_reads *src)
{
	if (!dst || !src)
		return;
	for (size_t i = 0; i < src->n; i++)
		note_read(dst, &src->v[i]);
}

/* The value a name stands for; *scoped says it came from the caller's scope
 * (not the root, not a variable the template bound itself). */
static const json_t *lookup_name_in(const struct render *r, const char *name, bool *from_root,
				    bool *scoped)
{
	*from_root = *scoped = false;
	for (size_t i = r->nvars; i-- > 0;)
		if (!strcmp(r->vars[i].name, name)) {
			*scoped = i < r->nscope;
			return r->vars[i].value;
		}
	*from_root = true;
	return r->root && json_is_object(r->root) ? json_object_get(r->root, name) : NULL;
}

/* Walks a path; returns NULL when a step does not exist, with *failed_at the
 * index of that step. */
static const json_t *walk_path(const struct render *r, const struct expr *e, size_t *failed_at)
{
	bool from_root, scoped;
	const json_t *v = lookup_name_in(r, e->segs[0].name, &from_root, &scoped);
	if (from_root || scoped)
		note_read(r->reads, &(struct tmpl_read){
					    .name = e->segs[0].name,
					    .sub = e->nsegs > 1 ? e->segs[1].name : NULL,
					    .value = v,
					    .from_root = from_root,
				    });
	*failed_at = 0;
	for (size_t i = 1; v && i < e->nsegs; i++) {
		*failed_at = i;
		if (e->segs[i].name)
			v = json_is_object(v) ? json_object_get(v, e->segs[i].name) : NULL;
		else
			v = json_is_array(v) ? json_array_get(v, e->segs[i].index) : NULL;
	}
	return v;
}

void tmpl_report_missing(struct render *r, struct tmpl *t, const struct expr *e)
{
	tmpl_error(t, r->d, e->off, e->end, "'%.*s' is not defined", (int)(e->end - e->off),
		   t->text + e->off);
	if (e->kind != E_PATH || !e->nsegs)
		return;
	size_t at;
	walk_path(r, e, &at);
	/* Suggest a key of the last thing that existed. */
	const json_t *parent = r->root;
	if (at > 0) {
		struct expr tmp = *e;
		tmp.nsegs = at;
		size_t ignored;
		parent = walk_path(r, &tmp, &ignored);
	}
	const char *want = e->segs[at].name;
	if (!want || !json_is_object(parent))
		return;
	size_t n = json_object_size(parent), i = 0;
	const char **cands = xcalloc(n + r->nvars + 1, sizeof(*cands));
	const char *k;
	json_t *ignored_v;
	json_object_foreach((json_t *)parent, k, ignored_v)
		cands[i++] = k;
	if (at == 0)
		for (size_t j = 0; j < r->nvars; j++)
			cands[i++] = r->vars[j].name;
	const char *sug = diag_suggest(want, cands, i);
	if (sug)
		diag_hint(r->d, "did you mean '%s'?", sug);
	free(cands);
}

int tmpl_eval_present(struct render *r, struct tmpl *t, const struct expr *e, struct val *out)
{
	if (tmpl_eval_expr(r, t, e, out))
		return -1;
	if (!out->j) {
		tmpl_report_missing(r, t, out->miss ? out->miss : e);
		tmpl_val_release(out);
		return -1;
	}
	return 0;
}

int tmpl_eval_expr(struct render *r, struct tmpl *t, const struct expr *e, struct val *out);

static void number_text(struct strbuf *sb, const json_t *v)
{
	if (json_is_integer(v)) {
		strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	}
	double x = json_real_value(v);
	/* The shortest form that reads back as the same double. */
	size_t mark = sb->len;
	for (int prec = 1; prec <= 17; prec++) {
		strbuf_setlen(sb, mark);
		strbuf_addf(sb, "%.*g", prec, x);
		if (strtod(sb->buf + mark, NULL) == x)
			break;
	}
	if (!strpbrk(sb->buf + mark, ".eEn"))
		strbuf_addstr(sb, ".0");
}

/* Numbers and booleans read the same in every context; true when v is one. */
static bool number_or_bool_text(struct strbuf *sb, const json_t *v)
{
	if (json_is_integer(v) || json_is_real(v))
		number_text(sb, v);
	else if (json_is_boolean(v))
		strbuf_addstr(sb, json_is_true(v) ? "true" : "false");
	else
		return false;
	return true;
}

static int refuse_secret(struct render *r, struct tmpl *t, const struct expr *at, const json_t *v)
{
	tmpl_error(t, r->d, at->off, at->end, "refusing to write secret '%s' into a generated file",
		   json_string_value(json_object_get(v, "secret")));
	diag_hint(r->d, "A step receives a secret on standard input at apply time: list its "
			"name under \"secrets\" in the step.");
	return -1;
}

/* Text of a scalar, as raw text, join and b64 see it. */
static int scalar_text(struct render *r, struct tmpl *t, const struct expr *at, const json_t *v,
		       struct strbuf *sb)
{
	if (number_or_bool_text(sb, v))
		return 0;
	switch (json_typeof(v)) {
	case JSON_STRING:
		strbuf_add(sb, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_NULL:
		tmpl_error(t, r->d, at->off, at->end, "'%.*s' is null", (int)(at->end - at->off),
			   t->text + at->off);
		diag_hint(r->d, "Guard it with {{#if}} or give a fallback with | default \"...\".");
		return -1;
	case JSON_OBJECT:
		if (tmpl_is_secret(v))
			return refuse_secret(r, t, at, v);
		/* fall through */
	case JSON_ARRAY:
		tmpl_error(t, r->d, at->off, at->end, "'%.*s' is %s, not text", (int)(at->end - at->off),
			   t->text + at->off, tmpl_type_name(v));
		diag_hint(r->d, "Use | join \",\", | json or {{#each}}.");
		return -1;
	default:  /* a number or a boolean, written above */
		break;
	}
	return -1;
}

/* A map's keys, sorted; the caller frees the array (not the strings). */
const char **tmpl_sorted_keys(const json_t *obj, size_t *n)
{
	*n = json_object_size(obj);
	const char **keys = xcalloc(*n ? *n : 1, sizeof(*keys));
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, *n, sizeof(*keys), cmp_str_ptr);
	return keys;
}

/* JSON (flow style, sorted keys), for .json files and lists and maps in
 * YAML; with toml set, TOML arrays (maps refused). */
static int write_json(struct render *r, struct tmpl *t, const struct expr *at, const json_t *v,
		      struct strbuf *sb, bool toml, int depth)
{
	if (depth > MAX_NEST) {
		tmpl_error(t, r->d, at->off, at->end, "value nests too deeply to print");
		return -1;
	}
	if (number_or_bool_text(sb, v))
		return 0;
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (toml)
			toml_quote_n(sb, json_string_value(v), json_string_length(v));
		else
			json_quote_n(sb, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_NULL:
		if (toml) {
			tmpl_error(t, r->d, at->off, at->end, "TOML has no null ('%.*s')",
				   (int)(at->end - at->off), t->text + at->off);
			return -1;
		}
		strbuf_addstr(sb, "null");
		return 0;
	case JSON_ARRAY:
		strbuf_addch(sb, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				strbuf_addstr(sb, ", ");
			if (write_json(r, t, at, json_array_get(v, i), sb, toml, depth + 1))
				return -1;
		}
		strbuf_addch(sb, ']');
		return 0;
	case JSON_OBJECT: {
		if (tmpl_is_secret(v))
			return refuse_secret(r, t, at, v);
		if (toml) {
			tmpl_error(t, r->d, at->off, at->end, "cannot write a map into TOML ('%.*s')",
				   (int)(at->end - at->off), t->text + at->off);
			return -1;
		}
		size_t n;
		const char **keys = tmpl_sorted_keys(v, &n);
		strbuf_addch(sb, '{');
		for (size_t i = 0; i < n; i++) {
			if (i)
				strbuf_addstr(sb, ", ");
			json_quote(sb, keys[i]);
			strbuf_addstr(sb, ": ");
			if (write_json(r, t, at, json_object_get(v, keys[i]), sb, false, depth + 1)) {
				free(keys);
				return -1;
			}
		}
		strbuf_addch(sb, '}');
		free(keys);
		return 0;
	}
	default:  /* a number or a boolean, written above */
		break;
	}
	return -1;
}

static bool safe_segment(const char *s, size_t n)
{
	if (!n || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* Writes v escaped for ctx. */
int tmpl_emit_value(struct render *r, struct tmpl *t, const struct expr *at, const json_t *v,
		    enum tmpl_ctx ctx, struct strbuf *sb)
{
	if (tmpl_is_secret(v))
		return refuse_secret(r, t, at, v);
	switch (ctx) {
	case TMPL_CTX_JSON:
		return write_json(r, t, at, v, sb, false, 0);
	case TMPL_CTX_YAML:
		if (json_is_string(v)) {
			yaml_scalar_n(sb, json_string_value(v), json_string_length(v));
			return 0;
		}
		return write_json(r, t, at, v, sb, false, 0);
	case TMPL_CTX_TOML:
		return write_json(r, t, at, v, sb, true, 0);
	case TMPL_CTX_SH:
		if (json_is_string(v)) {
			sq_quote_n(sb, json_string_value(v), json_string_length(v));
			return 0;
		}
		return scalar_text(r, t, at, v, sb);
	case TMPL_CTX_PATH: {
		size_t mark = sb->len;
		if (scalar_text(r, t, at, v, sb))
			return -1;
		if (!safe_segment(sb->buf + mark, sb->len - mark) ||
		    strlen(sb->buf + mark) != sb->len - mark) {
			tmpl_error(t, r->d, at->off, at->end,
				   "'%.*s' is not a safe file name ('%s'): it must be non-empty, not '.' or "
				   "'..', without '/'", (int)(at->end - at->off), t->text + at->off,
				   sb->buf + mark);
			return -1;
		}
		return 0;
	}
	case TMPL_CTX_NONE:
		return scalar_text(r, t, at, v, sb);
	}
	return -1;
}

/* Escapes v into a new string value (a context filter). */
static int to_context_string(struct render *r, struct tmpl *t, const struct expr *at,
			     struct val *v, enum tmpl_ctx ctx)
{
	struct strbuf sb = STRBUF_INIT;
	if (tmpl_emit_value(r, t, at, v->j, ctx, &sb)) {
		strbuf_release(&sb);
		return -1;
	}
	val_set_own(v, json_stringn_nocheck(sb.buf, sb.len));
	strbuf_release(&sb);
	return 0;
}

static bool is_number(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

static double num(const json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static bool values_equal(const json_t *a, const json_t *b)
{
	if (!a)
		a = json_null();
	if (!b)
		b = json_null();
	if (is_number(a) && is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return num(a) == num(b);
	}
	return json_equal(a, b);
}

static size_t utf8_len(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

static int apply_filter(struct render *r, struct tmpl *t, const struct expr *e, struct val *v)
{
	const struct expr *in = e->a;
	int f = e->op;
	v->filtered = true;
	bool was_final = v->final;
	v->final = false;
	if (f == F_DEFAULT) {
		if (!v->j || json_is_null(v->j)) {
			struct val a = { 0 };
			if (tmpl_eval_expr(r, t, e->b, &a))
				return -1;
			tmpl_val_release(v);
			*v = a;
			v->filtered = true;
			v->final = false;
			if (!v->j) {
				tmpl_report_missing(r, t, a.miss ? a.miss : e->b);
				return -1;
			}
		} else {
			v->final = was_final;
		}
		return 0;
	}
	if (!v->j)
		return 0;  /* stays missing; an error only if inserted */
	const json_t *j = v->j;
	switch (f) {
	case F_RAW:
		v->final = true;
		return 0;
	case F_SH:
	case F_YAML:
	case F_JSON:
	case F_TOML: {
		static const enum tmpl_ctx map[] = { [F_SH] = TMPL_CTX_SH, [F_YAML] = TMPL_CTX_YAML,
						     [F_JSON] = TMPL_CTX_JSON, [F_TOML] = TMPL_CTX_TOML };
		if (to_context_string(r, t, in, v, map[f]))
			return -1;
		v->final = true;
		return 0;
	}
	case F_LEN:
		if (json_is_null(j))
			val_set_own(v, json_integer(0));
		else if (json_is_string(j))
			val_set_own(v, json_integer((json_int_t)utf8_len(json_string_value(j),
									  json_string_length(j))));
		else if (json_is_array(j))
			val_set_own(v, json_integer((json_int_t)json_array_size(j)));
		else if (json_is_object(j))
			val_set_own(v, json_integer((json_int_t)json_object_size(j)));
		else
			goto type_error;
		return 0;
	default:
		break;
	}
	if (json_is_null(j))
		return 0;  /* null passes through the text filters */
	struct strbuf sb = STRBUF_INIT;
	switch (f) {
	case F_B64: {
		struct strbuf txt = STRBUF_INIT;
		if (scalar_text(r, t, in, j, &txt)) {
			strbuf_release(&txt);
			return -1;
		}
		base64_encode(&sb, txt.buf, txt.len);
		strbuf_release(&txt);
		break;
	}
	case F_LOWER:
	case F_UPPER: {
		if (!json_is_string(j))
			goto type_error;
		strbuf_add(&sb, json_string_value(j), json_string_length(j));
		for (size_t i = 0; i < sb.len; i++) {
			char c = sb.buf[i];
			if (f == F_LOWER && c >= 'A' && c <= 'Z')
				sb.buf[i] = (char)(c - 'A' + 'a');
			else if (f == F_UPPER && c >= 'a' && c <= 'z')
				sb.buf[i] = (char)(c - 'a' + 'A');
		}
		break;
	}
	case F_JOIN: {
		if (!json_is_array(j))
			goto type_error;
		struct val sep = { 0 };
		if (tmpl_eval_expr(r, t, e->b, &sep))
			return -1;
		if (!json_is_string(sep.j)) {
			tmpl_error(t, r->d, e->b->off, e->b->end, "join needs a string separator");
			tmpl_val_release(&sep);
			return -1;
		}
		for (size_t i = 0; i < json_array_size(j); i++) {
			if (i)
				strbuf_add(&sb, json_string_value(sep.j), json_string_length(sep.j));
			if (scalar_text(r, t, in, json_array_get(j, i), &sb)) {
				tmpl_val_release(&sep);
				strbuf_release(&sb);
				return -1;
			}
		}
		tmpl_val_release(&sep);
		break;
	}
	case F_INDENT: {
		struct val nv = { 0 };
		if (tmpl_eval_expr(r, t, e->b, &nv))
			return -1;
		if (!json_is_integer(nv.j) || json_integer_value(nv.j) < 0 ||
		    json_integer_value(nv.j) > 1000) {
			tmpl_error(t, r->d, e->b->off, e->b->end, "indent needs a number of spaces (0 to 1000)");
			tmpl_val_release(&nv);
			return -1;
		}
		size_t n = (size_t)json_integer_value(nv.j);
		tmpl_val_release(&nv);
		struct strbuf txt = STRBUF_INIT;
		if (scalar_text(r, t, in, j, &txt)) {
			strbuf_release(&txt);
			return -1;
		}
		for (size_t i = 0; i < txt.len; i++) {
			strbuf_addch(&sb, txt.buf[i]);
			if (txt.buf[i] == '\n' && i + 1 < txt.len && txt.buf[i + 1] != '\n' &&
			    !(txt.buf[i + 1] == '\r' && i + 2 < txt.len && txt.buf[i + 2] == '\n'))
				strbuf_addchars(&sb, ' ', n);
		}
		strbuf_release(&txt);
		break;
	}
	case F_KEYS: {
		if (!json_is_object(j))
			goto type_error;
		size_t n;
		const char **keys = tmpl_sorted_keys(j, &n);
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_string_nocheck(keys[i]));
		free(keys);
		val_set_own(v, arr);
		return 0;
	}
	default:
		break;
	}
	val_set_own(v, json_stringn_nocheck(sb.buf, sb.len));
	strbuf_release(&sb);
	return 0;
type_error:
	tmpl_error(t, r->d, e->off, e->end, "filter '%s' does not apply to %s", tmpl_filter_names[f],
		   tmpl_type_name(j));
	return -1;
}

int tmpl_eval_expr(struct render *r, struct tmpl *t, const struct expr *e, struct val *out)
{
	out->final = out->filtered = false;
	switch (e->kind) {
	case E_LIT:
		val_set_borrowed(out, e->lit);
		return 0;
	case E_PATH: {
		if (e->sp != SP_NONE) {
			if (!r->nloops) {
				tmpl_error(t, r->d, e->off, e->end, "'%.*s' outside '{{#each}}'",
					   (int)(e->end - e->off), t->text + e->off);
				return -1;
			}
			const struct loop *l = &r->loops[r->nloops - 1];
			if (e->sp == SP_INDEX)
				val_set_own(out, json_integer((json_int_t)l->index));
			else if (e->sp == SP_FIRST)
				val_set_borrowed(out, json_boolean(l->index == 0));
			else
				val_set_borrowed(out, json_boolean(l->index + 1 == l->count));
			return 0;
		}
		size_t at;
		const json_t *v = walk_path(r, e, &at);
		val_set_borrowed(out, v);
		if (!v)
			out->miss = e;
		return 0;
	}
	case E_NOT: {
		struct val a = { 0 };
		if (tmpl_eval_expr(r, t, e->a, &a))
			return -1;
		bool b = !tmpl_truthy(a.j);
		tmpl_val_release(&a);
		val_set_borrowed(out, json_boolean(b));
		return 0;
	}
	case E_AND:
	case E_OR: {
		struct val a = { 0 };
		if (tmpl_eval_expr(r, t, e->a, &a))
			return -1;
		bool b = tmpl_truthy(a.j);
		tmpl_val_release(&a);
		if (b == (e->kind == E_AND)) {
			if (tmpl_eval_expr(r, t, e->b, &a))
				return -1;
			b = tmpl_truthy(a.j);
			tmpl_val_release(&a);
		}
		val_set_borrowed(out, json_boolean(b));
		return 0;
	}
	case E_CMP: {
		struct val a = { 0 }, b = { 0 };
		if (tmpl_eval_expr(r, t, e->a, &a))
			return -1;
		if (tmpl_eval_expr(r, t, e->b, &b)) {
			tmpl_val_release(&a);
			return -1;
		}
		bool res;
		if (e->op == OP_EQ || e->op == OP_NE) {
			res = values_equal(a.j, b.j) == (e->op == OP_EQ);
		} else if (!a.j || !b.j) {
			res = false;
		} else {
			int c;
			if (is_number(a.j) && is_number(b.j)) {
				double x = num(a.j), y = num(b.j);
				c = x < y ? -1 : x > y;
			} else if (json_is_string(a.j) && json_is_string(b.j)) {
				size_t la = json_string_length(a.j), lb = json_string_length(b.j);
				c = memcmp(json_string_value(a.j), json_string_value(b.j), la < lb ? la : lb);
				if (!c)
					c = la < lb ? -1 : la > lb;
			} else {
				tmpl_error(t, r->d, e->off, e->end, "cannot order %s and %s", tmpl_type_name(a.j),
					   tmpl_type_name(b.j));
				tmpl_val_release(&a);
				tmpl_val_release(&b);
				return -1;
			}
			res = e->op == OP_LT ? c < 0 : e->op == OP_LE ? c <= 0 : e->op == OP_GT ? c > 0 : c >= 0;
		}
		tmpl_val_release(&a);
		tmpl_val_release(&b);
		val_set_borrowed(out, json_boolean(res));
		return 0;
	}
	case E_FILTER:
		if (tmpl_eval_expr(r, t, e->a, out))
			return -1;
		if (apply_filter(r, t, e, out)) {
			tmpl_val_release(out);
			return -1;
		}
		return 0;
	}
	return -1;
}
