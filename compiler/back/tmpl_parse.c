/* tmpl_parse: tokens to the compiled tree: expressions (precedence
 * climbing), block tags ({{#if}}, {{#each}}, {{> include}}) and freeing. */
#include "tmpl_internal.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

const char *const tmpl_filter_names[F_COUNT] = {
	"raw", "sh", "yaml", "json", "toml", "b64", "default", "join", "lower", "upper",
	"len", "indent", "keys",
};

/* ---- freeing ------------------------------------------------------------- */

void tmpl_expr_free(struct expr *e)
{
	if (!e)
		return;
	tmpl_expr_free(e->a);
	tmpl_expr_free(e->b);
	json_decref(e->lit);
	for (size_t i = 0; i < e->nsegs; i++)
		free(e->segs[i].name);
	free(e->segs);
	free(e);
}

static void node_free(struct tnode *n)
{
	tmpl_expr_free(n->e);
	for (size_t i = 0; i < n->nbr; i++) {
		tmpl_expr_free(n->br[i].cond);
		tmpl_body_free(&n->br[i].body);
	}
	free(n->br);
	free(n->name1);
	free(n->name2);
	tmpl_body_free(&n->body);
	free(n->path);
	free(n->indent);
}

void tmpl_body_free(struct body *b)
{
	for (size_t i = 0; i < b->n; i++)
		node_free(&b->v[i]);
	free(b->v);
	b->v = NULL;
	b->n = b->cap = 0;
}

static struct expr *mk(enum ekind k, size_t off, size_t end)
{
	struct expr *e = xcalloc(1, sizeof(*e));
	e->kind = k;
	e->off = (uint32_t)off;
	e->end = (uint32_t)end;
	return e;
}

static struct expr *parse_expr(struct parser *p);

static struct expr *parse_path(struct parser *p)
{
	struct expr *e = mk(E_PATH, p->toff, p->tend);
	const char *w = p->s + p->toff;
	size_t n = p->tend - p->toff;
	if (w[0] == '@') {
		if (n == 6 && !memcmp(w, "@index", 6))
			e->sp = SP_INDEX;
		else if (n == 6 && !memcmp(w, "@first", 6))
			e->sp = SP_FIRST;
		else if (n == 5 && !memcmp(w, "@last", 5))
			e->sp = SP_LAST;
		else
			tmpl_parse_error(p, p->toff, p->tend, "unknown name '%.*s' (there are @index, @first and @last)",
					 (int)n, w);
		tmpl_lex(p);
		return e;
	}
	size_t cap = 0, i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && w[j] != '.')
			j++;
		size_t sl = j - i;
		size_t so = p->toff + i;
		bool digits = sl > 0;
		for (size_t k = i; k < j; k++)
			digits = digits && w[k] >= '0' && w[k] <= '9';
		bool ok = sl > 0 && (digits || (w[i] != '-' && w[i] != '@' && !(w[i] >= '0' && w[i] <= '9')));
		for (size_t k = i; ok && k < j; k++)
			ok = w[k] != '@';
		if (!ok) {
			tmpl_parse_error(p, so, so + (sl ? sl : 1), "bad path segment in '%.*s'", (int)n, w);
			break;
		}
		XGROW(e->segs, cap, e->nsegs + 1);
		struct seg *sg = &e->segs[e->nsegs++];
		if (digits && i > 0) {
			sg->name = NULL;
			sg->index = (size_t)strtoull(w + i, NULL, 10);
		} else if (digits) {
			tmpl_parse_error(p, so, so + sl, "a path starts with a name, not '%.*s'", (int)sl, w + i);
			sg->name = NULL;
			break;
		} else {
			sg->name = xstrndup(w + i, sl);
		}
		i = j + 1;
	}
	tmpl_lex(p);
	return e;
}

static struct expr *parse_primary(struct parser *p)
{
	if (p->failed)
		return NULL;
	if (p->tok == K_WORD) {
		if (tmpl_tok_is(p, "true") || tmpl_tok_is(p, "false") || tmpl_tok_is(p, "null")) {
			struct expr *e = mk(E_LIT, p->toff, p->tend);
			e->lit = tmpl_tok_is(p, "true")    ? json_true()
				 : tmpl_tok_is(p, "false") ? json_false()
							   : json_null();
			tmpl_lex(p);
			return e;
		}
		if (tmpl_is_keyword(p)) {
			tmpl_expected(p, "a value");
			return NULL;
		}
		return parse_path(p);
	}
	if (p->tok == K_STR) {
		struct expr *e = mk(E_LIT, p->toff, p->tend);
		e->lit = json_stringn_nocheck(p->str.buf, p->str.len);
		tmpl_lex(p);
		return e;
	}
	if (p->tok == K_INT) {
		struct expr *e = mk(E_LIT, p->toff, p->tend);
		e->lit = json_integer(p->num);
		tmpl_lex(p);
		return e;
	}
	if (p->tok == K_LP) {
		size_t open = p->toff;
		if (++p->depth > MAX_NEST) {
			tmpl_parse_error(p, p->toff, p->tend, "expression nests too deeply");
			return NULL;
		}
		tmpl_lex(p);
		struct expr *e = parse_expr(p);
		p->depth--;
		if (p->failed) {
			tmpl_expr_free(e);
			return NULL;
		}
		if (p->tok != K_RP) {
			struct strbuf sb = STRBUF_INIT;
			tmpl_parse_error(p, p->toff, p->tend, "expected ')' to close the '(' before, found %s",
					 tmpl_tok_desc(p, &sb));
			strbuf_release(&sb);
			(void)open;
			tmpl_expr_free(e);
			return NULL;
		}
		tmpl_lex(p);
		return e;
	}
	if (p->tok != K_BAD)
		tmpl_expected(p, "a value");
	return NULL;
}

static bool filter_takes_arg(int f)
{
	return f == F_DEFAULT || f == F_JOIN || f == F_INDENT;
}

static struct expr *parse_pipe(struct parser *p)
{
	struct expr *e = parse_primary(p);
	while (!p->failed && p->tok == K_PIPE) {
		tmpl_lex(p);
		if (p->tok != K_WORD) {
			tmpl_expected(p, "a filter name after '|'");
			break;
		}
		int f = -1;
		for (size_t i = 0; i < F_COUNT; i++)
			if (tmpl_tok_is(p, tmpl_filter_names[i]))
				f = (int)i;
		if (f < 0) {
			char *w = xstrndup(p->s + p->toff, p->tend - p->toff);
			const char *sug = diag_suggest(w, tmpl_filter_names, F_COUNT);
			tmpl_parse_error(p, p->toff, p->tend, "unknown filter '%s'", w);
			if (sug)
				diag_hint(p->d, "did you mean '%s'?", sug);
			free(w);
			break;
		}
		struct expr *fe = mk(E_FILTER, e ? e->off : p->toff, p->tend);
		fe->op = f;
		fe->a = e;
		e = fe;
		size_t name_off = p->toff, name_end = p->tend;
		tmpl_lex(p);
		if (filter_takes_arg(f)) {
			if (p->tok == K_EOF || p->tok == K_PIPE || p->tok == K_CMP || p->tok == K_RP ||
			    tmpl_is_keyword(p)) {
				tmpl_parse_error(p, name_off, name_end, "filter '%s' needs an argument", tmpl_filter_names[f]);
				break;
			}
			fe->b = parse_primary(p);
			if (fe->b)
				fe->end = fe->b->end;
		}
	}
	return e;
}

static struct expr *parse_cmp(struct parser *p)
{
	struct expr *a = parse_pipe(p);
	if (!p->failed && p->tok == K_CMP) {
		struct expr *e = mk(E_CMP, p->toff, p->tend);
		e->op = p->top;
		tmpl_lex(p);
		e->a = a;
		e->b = parse_pipe(p);
		if (!p->failed && p->tok == K_CMP)
			tmpl_parse_error(p, p->toff, p->tend, "comparisons do not chain; use 'and'");
		return e;
	}
	return a;
}

static struct expr *parse_not(struct parser *p)
{
	if (tmpl_tok_is(p, "not")) {
		struct expr *e = mk(E_NOT, p->toff, p->tend);
		if (++p->depth > MAX_NEST) {
			tmpl_parse_error(p, p->toff, p->tend, "expression nests too deeply");
			return e;
		}
		tmpl_lex(p);
		e->a = parse_not(p);
		p->depth--;
		return e;
	}
	return parse_cmp(p);
}

/* A left-associative chain `operand (word operand)*`, as `and` and `or` are. */
static struct expr *parse_chain(struct parser *p, struct expr *(*operand)(struct parser *), const char *word,
				enum ekind kind)
{
	struct expr *a = operand(p);
	while (!p->failed && tmpl_tok_is(p, word)) {
		struct expr *e = mk(kind, p->toff, p->tend);
		tmpl_lex(p);
		e->a = a;
		e->b = operand(p);
		a = e;
	}
	return a;
}

static struct expr *parse_and(struct parser *p)
{
	return parse_chain(p, parse_not, "and", E_AND);
}

static struct expr *parse_expr(struct parser *p)
{
	return parse_chain(p, parse_and, "or", E_OR);
}

/* Parses [from, to) as one whole expression. */
static struct expr *parse_expr_range(struct parser *p, size_t from, size_t to)
{
	/* The template scanner shares pos/end with the lexer: keep its place. */
	size_t saved_pos = p->pos, saved_end = p->end;
	struct expr *e = NULL;
	p->pos = from;
	p->end = to;
	p->depth = 0;
	tmpl_lex(p);
	if (p->tok == K_EOF) {
		tmpl_parse_error(p, from > 2 ? from - 2 : from, to + 2, "empty expression");
	} else {
		e = parse_expr(p);
		if (!p->failed && p->tok != K_EOF) {
			struct strbuf sb = STRBUF_INIT;
			tmpl_parse_error(p, p->toff, p->tend, "unexpected %s after the expression",
					 tmpl_tok_desc(p, &sb));
			strbuf_release(&sb);
		}
	}
	if (p->failed) {
		tmpl_expr_free(e);
		e = NULL;
	}
	p->pos = saved_pos;
	p->end = saved_end;
	return e;
}

/* ---- template parser ----------------------------------------------------- */


/* Why parse_body returned: the tag that ended a block body, if any. */
enum stop { STOP_EOF, STOP_ELSE, STOP_ELSE_IF, STOP_END_IF, STOP_END_EACH, STOP_ERROR };

struct stopinfo {
	enum stop kind;
	struct tag tag;
};

static void body_push(struct body *b, const struct tnode *n)
{
	XGROW(b->v, b->cap, b->n + 1);
	b->v[b->n++] = *n;
}

static void add_text(struct body *b, size_t from, size_t to)
{
	if (to <= from)
		return;
	/* Contiguous text (a "{{{" split) merges into one node. */
	if (b->n && b->v[b->n - 1].kind == N_TEXT &&
	    b->v[b->n - 1].text_off + b->v[b->n - 1].text_len == from) {
		b->v[b->n - 1].text_len += (uint32_t)(to - from);
		return;
	}
	struct tnode n = { .kind = N_TEXT, .text_off = (uint32_t)from,
			   .text_len = (uint32_t)(to - from) };
	body_push(b, &n);
}

static enum stop parse_body(struct parser *p, struct body *b, struct stopinfo *si);

static bool parse_ident(struct parser *p, char **out)
{
	if (p->tok != K_WORD || tmpl_is_keyword(p) || p->s[p->toff] == '@' ||
	    memchr(p->s + p->toff, '.', p->tend - p->toff)) {
		tmpl_expected(p, "a variable name");
		return false;
	}
	*out = xstrndup(p->s + p->toff, p->tend - p->toff);
	tmpl_lex(p);
	return true;
}

static bool parse_if(struct parser *p, struct body *b, const struct tag *open)
{
	struct tnode n = { .kind = N_IF, .off = (uint32_t)open->start, .end = (uint32_t)open->end };
	size_t cap = 0;
	struct expr *cond = parse_expr_range(p, open->in_from, open->in_to);
	bool seen_else = false;
	for (;;) {
		if (p->failed) {
			tmpl_expr_free(cond);
			break;
		}
		XGROW(n.br, cap, n.nbr + 1);
		struct branch *br = &n.br[n.nbr++];
		memset(br, 0, sizeof(*br));
		br->cond = cond;
		cond = NULL;
		struct stopinfo si;
		enum stop st = parse_body(p, &br->body, &si);
		if (st == STOP_ERROR)
			break;
		if (st == STOP_END_IF) {
			body_push(b, &n);
			return true;
		}
		if ((st == STOP_ELSE || st == STOP_ELSE_IF) && !seen_else) {
			if (st == STOP_ELSE)
				seen_else = true;
			else
				cond = parse_expr_range(p, si.tag.in_from, si.tag.in_to);
			continue;
		}
		if (st == STOP_EOF)
			tmpl_parse_error(p, open->start, open->end, "'{{#if}}' is never closed (expected '{{/if}}')");
		else if (st == STOP_ELSE || st == STOP_ELSE_IF)
			tmpl_parse_error(p, si.tag.start, si.tag.end, "'%s' after '{{else}}' in the '{{#if}}' at line %zu",
					 tmpl_tag_name(si.tag.kind), tmpl_line_of(p->t, (uint32_t)open->start));
		else
			tmpl_parse_error(p, si.tag.start, si.tag.end, "'%s' closes the '{{#if}}' opened at line %zu",
					 tmpl_tag_name(si.tag.kind), tmpl_line_of(p->t, (uint32_t)open->start));
		break;
	}
	node_free(&n);
	return false;
}

static bool parse_each(struct parser *p, struct body *b, const struct tag *open)
{
	struct tnode n = { .kind = N_EACH, .off = (uint32_t)open->start, .end = (uint32_t)open->end };
	size_t resume = p->pos, resume_end = p->end;
	/* "LIST as NAME[, NAME]": the list expression ends at the last " as ". */
	p->pos = open->in_from;
	p->end = open->in_to;
	p->depth = 0;
	tmpl_lex(p);
	size_t as_off = 0;
	bool found = false;
	while (p->tok != K_EOF && p->tok != K_BAD) {
		if (tmpl_tok_is(p, "as")) {
			as_off = p->toff;
			found = true;
		}
		tmpl_lex(p);
	}
	if (p->failed)
		return false;
	if (!found) {
		tmpl_parse_error(p, open->start, open->end, "expected '{{#each LIST as NAME}}'");
		return false;
	}
	n.e = parse_expr_range(p, open->in_from, as_off);
	if (p->failed) {
		node_free(&n);
		return false;
	}
	p->pos = as_off + 2;
	p->end = open->in_to;
	tmpl_lex(p);
	if (!parse_ident(p, &n.name1)) {
		node_free(&n);
		return false;
	}
	if (p->tok == K_COMMA) {
		tmpl_lex(p);
		if (!parse_ident(p, &n.name2)) {
			node_free(&n);
			return false;
		}
	}
	if (p->tok != K_EOF) {
		tmpl_expected(p, "'}}'");
		node_free(&n);
		return false;
	}
	p->pos = resume;
	p->end = resume_end;
	struct stopinfo si;
	enum stop st = parse_body(p, &n.body, &si);
	if (st == STOP_END_EACH) {
		body_push(b, &n);
		return true;
	}
	if (st == STOP_EOF)
		tmpl_parse_error(p, open->start, open->end, "'{{#each}}' is never closed (expected '{{/each}}')");
	else if (st != STOP_ERROR)
		tmpl_parse_error(p, si.tag.start, si.tag.end, "'%s' inside the '{{#each}}' opened at line %zu%s",
				 tmpl_tag_name(si.tag.kind), tmpl_line_of(p->t, (uint32_t)open->start),
				 si.tag.kind == TAG_END_IF ? " (expected '{{/each}}')" : "");
	node_free(&n);
	return false;
}

static bool parse_include(struct parser *p, struct body *b, const struct tag *tg, size_t ls,
			  bool alone)
{
	size_t from = tg->in_from, to = tg->in_to;
	while (from < to && tmpl_is_space(p->s[from]))
		from++;
	if (from == to) {
		tmpl_parse_error(p, tg->start, tg->end, "expected a template path after '{{>'");
		return false;
	}
	for (size_t i = from; i < to; i++) {
		if (tmpl_is_space(p->s[i])) {
			tmpl_parse_error(p, from, to, "a template path has no spaces");
			return false;
		}
	}
	struct tnode n = { .kind = N_INCLUDE, .off = (uint32_t)tg->start, .end = (uint32_t)tg->end };
	n.path = xstrndup(p->s + from, to - from);
	if (alone && tg->start > ls)
		n.indent = xstrndup(p->s + ls, tg->start - ls);
	body_push(b, &n);
	return true;
}

static enum stop parse_body(struct parser *p, struct body *b, struct stopinfo *si)
{
	const char *s = p->s;
	size_t len = p->t->len;
	if (++p->bdepth > MAX_NEST) {
		tmpl_parse_error(p, p->pos, p->pos + 1, "blocks nest more than %d deep", MAX_NEST);
		return STOP_ERROR;
	}
	for (;;) {
		const char *open = p->pos < len ? memmem(s + p->pos, len - p->pos, "{{", 2) : NULL;
		if (!open) {
			add_text(b, p->pos, len);
			p->pos = len;
			p->bdepth--;
			return STOP_EOF;
		}
		size_t q = (size_t)(open - s);
		/* "{{{" is a literal '{' before a tag. */
		while (q + 2 < len && s[q + 2] == '{')
			q++;
		struct tag tg;
		if (!tmpl_read_tag(p, q, &tg))
			return STOP_ERROR;
		size_t ls = q, le = tg.end;
		bool alone = tg.kind != TAG_INSERT && tmpl_standalone(p->t, &tg, &ls, &le);
		add_text(b, p->pos, alone ? ls : q);
		size_t resume = alone ? le : tg.end;
		switch (tg.kind) {
		case TAG_COMMENT:
			break;
		case TAG_INSERT: {
			struct tnode n = { .kind = N_INSERT, .off = (uint32_t)tg.start,
					   .end = (uint32_t)tg.end };
			if (tg.in_from >= tg.in_to) {
				tmpl_parse_error(p, tg.start, tg.end, "empty tag");
				return STOP_ERROR;
			}
			n.e = parse_expr_range(p, tg.in_from, tg.in_to);
			if (!n.e)
				return STOP_ERROR;
			body_push(b, &n);
			break;
		}
		case TAG_INCLUDE:
			if (!parse_include(p, b, &tg, ls, alone))
				return STOP_ERROR;
			break;
		case TAG_IF:
			p->pos = resume;
			if (!parse_if(p, b, &tg))
				return STOP_ERROR;
			continue;
		case TAG_EACH:
			p->pos = resume;
			if (!parse_each(p, b, &tg))
				return STOP_ERROR;
			continue;
		case TAG_ELSE:
		case TAG_ELSE_IF:
		case TAG_END_IF:
		case TAG_END_EACH:
			p->pos = resume;
			si->tag = tg;
			p->bdepth--;
			if (tg.kind == TAG_ELSE)
				return si->kind = STOP_ELSE;
			if (tg.kind == TAG_ELSE_IF)
				return si->kind = STOP_ELSE_IF;
			if (p->bdepth == 0) {
				tmpl_parse_error(p, tg.start, tg.end, "'%s' without an open block", tmpl_tag_name(tg.kind));
				return STOP_ERROR;
			}
			return si->kind = tg.kind == TAG_END_IF ? STOP_END_IF : STOP_END_EACH;
		}
		p->pos = resume;
	}
}

void tmpl_compile(struct tmpl *t, struct diag *d)
{
	struct parser p = { .t = t, .d = d, .s = t->text, .str = STRBUF_INIT };
	if (t->is_expr) {
		t->expr = parse_expr_range(&p, 0, t->len);
	} else {
		struct stopinfo si;
		enum stop st = parse_body(&p, &t->root, &si);
		if (st == STOP_ELSE || st == STOP_ELSE_IF)
			tmpl_parse_error(&p, si.tag.start, si.tag.end, "'%s' outside '{{#if}}'",
					 tmpl_tag_name(si.tag.kind));
	}
	strbuf_release(&p.str);
	t->failed = p.failed;
	if (p.failed) {
		tmpl_body_free(&t->root);
		tmpl_expr_free(t->expr);
		t->expr = NULL;
	}
}
