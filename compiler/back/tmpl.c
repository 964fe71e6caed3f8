#include "tmpl.h"
#include "quote.h"
#include "base64.h"
#include "stdlib_data.h"
#include "xalloc.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting limits keep hostile or broken templates from exhausting the stack
 * (after Lua's LUAI_MAXCCALLS). */
#define MAX_NEST 64

/* ---- compiled form ------------------------------------------------------ */

enum ekind { E_PATH, E_LIT, E_NOT, E_AND, E_OR, E_CMP, E_FILTER };
enum cmpop { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum filt {
	F_RAW, F_SH, F_YAML, F_JSON, F_TOML, F_B64, F_DEFAULT, F_JOIN, F_LOWER, F_UPPER,
	F_LEN, F_INDENT, F_KEYS,
};
static const char *const filter_names[] = {
	"raw", "sh", "yaml", "json", "toml", "b64", "default", "join", "lower", "upper",
	"len", "indent", "keys",
};
#define NFILTERS (sizeof(filter_names) / sizeof(filter_names[0]))
enum special { SP_NONE, SP_INDEX, SP_FIRST, SP_LAST };

struct seg {
	char *name;   /* NULL for an index segment */
	size_t index;
};

struct expr {
	enum ekind kind;
	uint32_t off, end;      /* span in the template text */
	struct expr *a, *b;     /* operands; for E_FILTER a is the input, b the argument */
	int op;                 /* enum cmpop or enum filt */
	json_t *lit;            /* E_LIT, owned */
	struct seg *segs;       /* E_PATH */
	size_t nsegs;
	enum special sp;
};

enum tkind { N_TEXT, N_INSERT, N_IF, N_EACH, N_INCLUDE };

struct tnode;
struct body {
	struct tnode *v;
	size_t n, cap;
};

struct branch {
	struct expr *cond;  /* NULL for the final else */
	struct body body;
};

struct tnode {
	enum tkind kind;
	uint32_t off, end;         /* the tag's span */
	uint32_t text_off, text_len; /* N_TEXT */
	struct expr *e;            /* N_INSERT, N_EACH list */
	struct branch *br;         /* N_IF */
	size_t nbr;
	char *name1, *name2;       /* N_EACH */
	struct body body;          /* N_EACH */
	char *path;                /* N_INCLUDE */
	char *indent;              /* N_INCLUDE standalone indentation, or NULL */
	struct tmpl *incl;         /* N_INCLUDE, resolved on first use */
};

struct tmpl {
	char *key;
	char *name;               /* for diagnostics */
	char *text;
	size_t len;
	enum tmpl_ctx ctx;
	bool is_expr;
	struct body root;
	struct expr *expr;        /* is_expr */
	bool failed;              /* compiling reported an error */
	struct diag *src_diag;    /* the diag text was registered with */
	int32_t src_id;
};

struct tmpl_engine {
	struct tmpl **slots;      /* open addressing, power-of-two size */
	size_t nslots, count;
};

/* ---- diagnostics -------------------------------------------------------- */

/* Whether d already holds t's text as a source. A diag is identified by its
 * contents, not its address: callers reuse stack diags. */
static bool registered_in(const struct tmpl *t, const struct diag *d)
{
	if (t->src_diag != d)
		return false;
	const struct source *s = diag_source(d, t->src_id);
	return s && s->len == t->len && !strcmp(s->path, t->name) && !memcmp(s->text, t->text, t->len);
}

static struct loc tloc(struct tmpl *t, struct diag *d, uint32_t off, uint32_t end)
{
	if (!registered_in(t, d)) {
		t->src_id = diag_add_source(d, t->name, xstrndup(t->text, t->len), t->len);
		t->src_diag = d;
	}
	if (end < off)
		end = off;
	return (struct loc){ .file = t->src_id, .start = off, .end = end };
}

__attribute__((format(printf, 5, 6)))
static void terr(struct tmpl *t, struct diag *d, uint32_t off, uint32_t end, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	diag_error(d, tloc(t, d, off, end), "%s", sb.buf);
	strbuf_release(&sb);
}

static size_t line_of(const struct tmpl *t, uint32_t off)
{
	size_t line = 1;
	for (uint32_t i = 0; i < off && i < t->len; i++)
		line += t->text[i] == '\n';
	return line;
}

/* ---- freeing ------------------------------------------------------------- */

static void expr_free(struct expr *e)
{
	if (!e)
		return;
	expr_free(e->a);
	expr_free(e->b);
	json_decref(e->lit);
	for (size_t i = 0; i < e->nsegs; i++)
		free(e->segs[i].name);
	free(e->segs);
	free(e);
}

static void body_free(struct body *b);

static void node_free(struct tnode *n)
{
	expr_free(n->e);
	for (size_t i = 0; i < n->nbr; i++) {
		expr_free(n->br[i].cond);
		body_free(&n->br[i].body);
	}
	free(n->br);
	free(n->name1);
	free(n->name2);
	body_free(&n->body);
	free(n->path);
	free(n->indent);
}

static void body_free(struct body *b)
{
	for (size_t i = 0; i < b->n; i++)
		node_free(&b->v[i]);
	free(b->v);
	b->v = NULL;
	b->n = b->cap = 0;
}

static void tmpl_free(struct tmpl *t)
{
	if (!t)
		return;
	body_free(&t->root);
	expr_free(t->expr);
	free(t->key);
	free(t->name);
	free(t->text);
	free(t);
}

/* ---- expression lexer and parser ---------------------------------------- */

enum tok { K_EOF, K_WORD, K_STR, K_INT, K_CMP, K_PIPE, K_LP, K_RP, K_COMMA, K_BAD };

struct parser {
	struct tmpl *t;
	struct diag *d;
	const char *s;       /* t->text */
	size_t pos, end;     /* the range being parsed (a tag's inside) */
	bool failed;
	int depth;           /* parentheses and 'not' */
	int bdepth;          /* blocks */
	/* current token */
	enum tok tok;
	size_t toff, tend;
	int top;             /* K_CMP operator */
	struct strbuf str;   /* K_STR value */
	long long num;       /* K_INT value */
};

__attribute__((format(printf, 4, 5)))
static void perr(struct parser *p, size_t off, size_t end, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	diag_error(p->d, tloc(p->t, p->d, (uint32_t)off, (uint32_t)end), "%s", sb.buf);
	strbuf_release(&sb);
}

static bool is_word_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '@';
}

static bool is_word_char(char c)
{
	return is_word_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void lex(struct parser *p)
{
	const char *s = p->s;
	while (p->pos < p->end && is_space(s[p->pos]))
		p->pos++;
	p->toff = p->pos;
	if (p->pos >= p->end) {
		p->tok = K_EOF;
		p->tend = p->pos;
		return;
	}
	char c = s[p->pos];
	if (is_word_start(c)) {
		while (p->pos < p->end && is_word_char(s[p->pos]))
			p->pos++;
		p->tok = K_WORD;
	} else if ((c >= '0' && c <= '9') ||
		   (c == '-' && p->pos + 1 < p->end && s[p->pos + 1] >= '0' && s[p->pos + 1] <= '9')) {
		size_t i = p->pos + (c == '-');
		long long v = 0;
		bool overflow = false;
		while (i < p->end && s[i] >= '0' && s[i] <= '9') {
			if (v > (LLONG_MAX - (s[i] - '0')) / 10)
				overflow = true;
			else
				v = v * 10 + (s[i] - '0');
			i++;
		}
		p->pos = i;
		p->num = c == '-' ? -v : v;
		p->tok = K_INT;
		if (overflow) {
			p->tend = p->pos;
			perr(p, p->toff, p->pos, "integer literal is too large");
			p->tok = K_BAD;
		}
	} else if (c == '"' || c == '\'') {
		strbuf_reset(&p->str);
		size_t i = p->pos + 1;
		for (;;) {
			if (i >= p->end) {
				perr(p, p->toff, p->toff + 1, "unterminated string literal");
				p->tok = K_BAD;
				p->pos = p->end;
				p->tend = p->end;
				return;
			}
			char ch = s[i];
			if (ch == c) {
				i++;
				break;
			}
			if (ch == '\\' && i + 1 < p->end) {
				char n = s[i + 1];
				switch (n) {
				case 'n': strbuf_addch(&p->str, '\n'); break;
				case 't': strbuf_addch(&p->str, '\t'); break;
				case '\\': case '"': case '\'': strbuf_addch(&p->str, n); break;
				default:
					perr(p, i, i + 2, "unknown escape '\\%c' in string literal", n);
					p->tok = K_BAD;
					p->pos = p->end;
					p->tend = p->end;
					return;
				}
				i += 2;
				continue;
			}
			strbuf_addch(&p->str, ch);
			i++;
		}
		p->pos = i;
		p->tok = K_STR;
	} else if (c == '=' || c == '!' || c == '<' || c == '>') {
		bool eq = p->pos + 1 < p->end && s[p->pos + 1] == '=';
		p->pos += eq ? 2 : 1;
		p->tok = K_CMP;
		if (c == '=' && eq)
			p->top = OP_EQ;
		else if (c == '!' && eq)
			p->top = OP_NE;
		else if (c == '<')
			p->top = eq ? OP_LE : OP_LT;
		else if (c == '>')
			p->top = eq ? OP_GE : OP_GT;
		else {
			p->tend = p->pos;
			perr(p, p->toff, p->pos, "unexpected '%c'%s", c,
			     c == '=' ? " (did you mean '=='?)" : " (use 'not')");
			p->tok = K_BAD;
		}
	} else if (c == '|') {
		p->pos++;
		p->tok = K_PIPE;
	} else if (c == '(') {
		p->pos++;
		p->tok = K_LP;
	} else if (c == ')') {
		p->pos++;
		p->tok = K_RP;
	} else if (c == ',') {
		p->pos++;
		p->tok = K_COMMA;
	} else {
		p->pos++;
		p->tend = p->pos;
		perr(p, p->toff, p->pos, "unexpected character '%c' in expression", c);
		p->tok = K_BAD;
		return;
	}
	p->tend = p->pos;
}

static bool tok_is(struct parser *p, const char *word)
{
	size_t n = strlen(word);
	return p->tok == K_WORD && p->tend - p->toff == n && !memcmp(p->s + p->toff, word, n);
}

static struct expr *mk(enum ekind k, size_t off, size_t end)
{
	struct expr *e = xcalloc(1, sizeof(*e));
	e->kind = k;
	e->off = (uint32_t)off;
	e->end = (uint32_t)end;
	return e;
}

static const char *tok_desc(struct parser *p, struct strbuf *sb)
{
	strbuf_reset(sb);
	if (p->tok == K_EOF)
		strbuf_addstr(sb, "end of tag");
	else
		strbuf_addf(sb, "'%.*s'", (int)(p->tend - p->toff), p->s + p->toff);
	return sb->buf;
}

static void expected(struct parser *p, const char *what)
{
	struct strbuf sb = STRBUF_INIT;
	perr(p, p->toff, p->tend, "expected %s, found %s", what, tok_desc(p, &sb));
	strbuf_release(&sb);
}

static bool is_keyword(struct parser *p)
{
	return tok_is(p, "not") || tok_is(p, "and") || tok_is(p, "or") || tok_is(p, "as");
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
			perr(p, p->toff, p->tend, "unknown name '%.*s' (there are @index, @first and @last)",
			     (int)n, w);
		lex(p);
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
			perr(p, so, so + (sl ? sl : 1), "bad path segment in '%.*s'", (int)n, w);
			break;
		}
		XGROW(e->segs, cap, e->nsegs + 1);
		struct seg *sg = &e->segs[e->nsegs++];
		if (digits && i > 0) {
			sg->name = NULL;
			sg->index = (size_t)strtoull(w + i, NULL, 10);
		} else if (digits) {
			perr(p, so, so + sl, "a path starts with a name, not '%.*s'", (int)sl, w + i);
			sg->name = NULL;
			break;
		} else {
			sg->name = xstrndup(w + i, sl);
		}
		i = j + 1;
	}
	lex(p);
	return e;
}

static struct expr *parse_primary(struct parser *p)
{
	if (p->failed)
		return NULL;
	if (p->tok == K_WORD) {
		if (tok_is(p, "true") || tok_is(p, "false") || tok_is(p, "null")) {
			struct expr *e = mk(E_LIT, p->toff, p->tend);
			e->lit = tok_is(p, "true") ? json_true() : tok_is(p, "false") ? json_false() : json_null();
			lex(p);
			return e;
		}
		if (is_keyword(p)) {
			expected(p, "a value");
			return NULL;
		}
		return parse_path(p);
	}
	if (p->tok == K_STR) {
		struct expr *e = mk(E_LIT, p->toff, p->tend);
		e->lit = json_stringn_nocheck(p->str.buf, p->str.len);
		lex(p);
		return e;
	}
	if (p->tok == K_INT) {
		struct expr *e = mk(E_LIT, p->toff, p->tend);
		e->lit = json_integer(p->num);
		lex(p);
		return e;
	}
	if (p->tok == K_LP) {
		size_t open = p->toff;
		if (++p->depth > MAX_NEST) {
			perr(p, p->toff, p->tend, "expression nests too deeply");
			return NULL;
		}
		lex(p);
		struct expr *e = parse_expr(p);
		p->depth--;
		if (p->failed) {
			expr_free(e);
			return NULL;
		}
		if (p->tok != K_RP) {
			struct strbuf sb = STRBUF_INIT;
			perr(p, p->toff, p->tend, "expected ')' to close the '(' before, found %s",
			     tok_desc(p, &sb));
			strbuf_release(&sb);
			(void)open;
			expr_free(e);
			return NULL;
		}
		lex(p);
		return e;
	}
	if (p->tok != K_BAD)
		expected(p, "a value");
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
		lex(p);
		if (p->tok != K_WORD) {
			expected(p, "a filter name after '|'");
			break;
		}
		int f = -1;
		for (size_t i = 0; i < NFILTERS; i++)
			if (tok_is(p, filter_names[i]))
				f = (int)i;
		if (f < 0) {
			char *w = xstrndup(p->s + p->toff, p->tend - p->toff);
			const char *sug = diag_suggest(w, filter_names, NFILTERS);
			perr(p, p->toff, p->tend, "unknown filter '%s'", w);
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
		lex(p);
		if (filter_takes_arg(f)) {
			if (p->tok == K_EOF || p->tok == K_PIPE || p->tok == K_CMP || p->tok == K_RP ||
			    is_keyword(p)) {
				perr(p, name_off, name_end, "filter '%s' needs an argument", filter_names[f]);
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
		lex(p);
		e->a = a;
		e->b = parse_pipe(p);
		if (!p->failed && p->tok == K_CMP)
			perr(p, p->toff, p->tend, "comparisons do not chain; use 'and'");
		return e;
	}
	return a;
}

static struct expr *parse_not(struct parser *p)
{
	if (tok_is(p, "not")) {
		struct expr *e = mk(E_NOT, p->toff, p->tend);
		if (++p->depth > MAX_NEST) {
			perr(p, p->toff, p->tend, "expression nests too deeply");
			return e;
		}
		lex(p);
		e->a = parse_not(p);
		p->depth--;
		return e;
	}
	return parse_cmp(p);
}

static struct expr *parse_and(struct parser *p)
{
	struct expr *a = parse_not(p);
	while (!p->failed && tok_is(p, "and")) {
		struct expr *e = mk(E_AND, p->toff, p->tend);
		lex(p);
		e->a = a;
		e->b = parse_not(p);
		a = e;
	}
	return a;
}

static struct expr *parse_expr(struct parser *p)
{
	struct expr *a = parse_and(p);
	while (!p->failed && tok_is(p, "or")) {
		struct expr *e = mk(E_OR, p->toff, p->tend);
		lex(p);
		e->a = a;
		e->b = parse_and(p);
		a = e;
	}
	return a;
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
	lex(p);
	if (p->tok == K_EOF) {
		perr(p, from > 2 ? from - 2 : from, to + 2, "empty expression");
	} else {
		e = parse_expr(p);
		if (!p->failed && p->tok != K_EOF) {
			struct strbuf sb = STRBUF_INIT;
			perr(p, p->toff, p->tend, "unexpected %s after the expression", tok_desc(p, &sb));
			strbuf_release(&sb);
		}
	}
	if (p->failed) {
		expr_free(e);
		e = NULL;
	}
	p->pos = saved_pos;
	p->end = saved_end;
	return e;
}

/* ---- template parser ----------------------------------------------------- */

enum tagkind { TAG_INSERT, TAG_COMMENT, TAG_IF, TAG_ELSE, TAG_ELSE_IF, TAG_END_IF, TAG_EACH,
	       TAG_END_EACH, TAG_INCLUDE };

struct tag {
	enum tagkind kind;
	size_t start, end;           /* "{{" .. past "}}" */
	size_t in_from, in_to;       /* the inside, after the keyword */
};

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

static bool word_at(const char *s, size_t i, size_t end, const char *w)
{
	size_t n = strlen(w);
	if (i + n > end || memcmp(s + i, w, n))
		return false;
	return i + n == end || !is_word_char(s[i + n]);
}

/* Reads the tag starting at "{{" at q. Returns false (after reporting) when
 * it is not closed. */
static bool read_tag(struct parser *p, size_t q, struct tag *tg)
{
	const char *s = p->s;
	size_t len = p->t->len;
	size_t i = q + 2;
	tg->start = q;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < len && s[i] == '!') {
		const char *close = memmem(s + i, len - i, "}}", 2);
		if (!close) {
			perr(p, q, q + 2, "unclosed comment '{{!' (expected '}}')");
			return false;
		}
		tg->kind = TAG_COMMENT;
		tg->end = (size_t)(close - s) + 2;
		tg->in_from = tg->in_to = i;
		return true;
	}
	/* Find "}}" outside string literals, so "{{ \"}}\" | raw }}" works. */
	size_t j = i;
	for (;;) {
		if (j + 1 >= len) {
			perr(p, q, q + 2, "unclosed '{{' (expected '}}')");
			return false;
		}
		if (s[j] == '"' || s[j] == '\'') {
			char qc = s[j++];
			while (j < len && s[j] != qc) {
				if (s[j] == '\\')
					j++;
				j++;
			}
			j++;
			continue;
		}
		if (s[j] == '}' && s[j + 1] == '}')
			break;
		j++;
	}
	tg->end = j + 2;
	size_t to = j;
	while (to > i && is_space(s[to - 1]))
		to--;
	tg->in_to = to;
	tg->kind = TAG_INSERT;
	tg->in_from = i;
	if (i < to && s[i] == '#') {
		if (word_at(s, i + 1, to, "if")) {
			tg->kind = TAG_IF;
			tg->in_from = i + 3;
		} else if (word_at(s, i + 1, to, "each")) {
			tg->kind = TAG_EACH;
			tg->in_from = i + 5;
		} else {
			size_t k = i + 1;
			while (k < to && is_word_char(s[k]))
				k++;
			perr(p, i, k, "unknown block '%.*s' (there are #if and #each)", (int)(k - i), s + i);
			return false;
		}
	} else if (i < to && s[i] == '/') {
		size_t k = i + 1;
		while (k < to && is_space(s[k]))
			k++;
		if (word_at(s, k, to, "if") && k + 2 == to)
			tg->kind = TAG_END_IF;
		else if (word_at(s, k, to, "each") && k + 4 == to)
			tg->kind = TAG_END_EACH;
		else {
			perr(p, i, to, "unknown closing tag '%.*s' (there are /if and /each)",
			     (int)(to - i), s + i);
			return false;
		}
	} else if (i < to && s[i] == '>') {
		tg->kind = TAG_INCLUDE;
		tg->in_from = i + 1;
	} else if (word_at(s, i, to, "else")) {
		size_t k = i + 4;
		while (k < to && is_space(s[k]))
			k++;
		if (k == to) {
			tg->kind = TAG_ELSE;
		} else if (word_at(s, k, to, "if")) {
			tg->kind = TAG_ELSE_IF;
			tg->in_from = k + 2;
		} else {
			perr(p, k, to, "expected '}}' or 'if' after 'else'");
			return false;
		}
	}
	return true;
}

/* A line holding only a block tag (and blanks) disappears whole. Returns
 * true and the line's bounds when the tag stands alone. */
static bool standalone(const struct tmpl *t, const struct tag *tg, size_t *line_start,
		       size_t *line_end)
{
	const char *s = t->text;
	size_t b = tg->start;
	while (b > 0 && (s[b - 1] == ' ' || s[b - 1] == '\t'))
		b--;
	if (b > 0 && s[b - 1] != '\n')
		return false;
	size_t e = tg->end;
	while (e < t->len && (s[e] == ' ' || s[e] == '\t'))
		e++;
	if (e < t->len && s[e] == '\r' && e + 1 < t->len && s[e + 1] == '\n')
		e++;
	if (e < t->len && s[e] != '\n')
		return false;
	*line_start = b;
	*line_end = e < t->len ? e + 1 : e;
	return true;
}

static const char *tag_name(enum tagkind k)
{
	switch (k) {
	case TAG_IF: return "{{#if}}";
	case TAG_EACH: return "{{#each}}";
	case TAG_ELSE: return "{{else}}";
	case TAG_ELSE_IF: return "{{else if}}";
	case TAG_END_IF: return "{{/if}}";
	case TAG_END_EACH: return "{{/each}}";
	default: return "tag";
	}
}

static enum stop parse_body(struct parser *p, struct body *b, struct stopinfo *si);

static bool parse_ident(struct parser *p, char **out)
{
	if (p->tok != K_WORD || is_keyword(p) || p->s[p->toff] == '@' ||
	    memchr(p->s + p->toff, '.', p->tend - p->toff)) {
		expected(p, "a variable name");
		return false;
	}
	*out = xstrndup(p->s + p->toff, p->tend - p->toff);
	lex(p);
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
			expr_free(cond);
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
			perr(p, open->start, open->end, "'{{#if}}' is never closed (expected '{{/if}}')");
		else if (st == STOP_ELSE || st == STOP_ELSE_IF)
			perr(p, si.tag.start, si.tag.end, "'%s' after '{{else}}' in the '{{#if}}' at line %zu",
			     tag_name(si.tag.kind), line_of(p->t, (uint32_t)open->start));
		else
			perr(p, si.tag.start, si.tag.end, "'%s' closes the '{{#if}}' opened at line %zu",
			     tag_name(si.tag.kind), line_of(p->t, (uint32_t)open->start));
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
	lex(p);
	size_t as_off = 0;
	bool found = false;
	while (p->tok != K_EOF && p->tok != K_BAD) {
		if (tok_is(p, "as")) {
			as_off = p->toff;
			found = true;
		}
		lex(p);
	}
	if (p->failed)
		return false;
	if (!found) {
		perr(p, open->start, open->end, "expected '{{#each LIST as NAME}}'");
		return false;
	}
	n.e = parse_expr_range(p, open->in_from, as_off);
	if (p->failed) {
		node_free(&n);
		return false;
	}
	p->pos = as_off + 2;
	p->end = open->in_to;
	lex(p);
	if (!parse_ident(p, &n.name1)) {
		node_free(&n);
		return false;
	}
	if (p->tok == K_COMMA) {
		lex(p);
		if (!parse_ident(p, &n.name2)) {
			node_free(&n);
			return false;
		}
	}
	if (p->tok != K_EOF) {
		expected(p, "'}}'");
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
		perr(p, open->start, open->end, "'{{#each}}' is never closed (expected '{{/each}}')");
	else if (st != STOP_ERROR)
		perr(p, si.tag.start, si.tag.end, "'%s' inside the '{{#each}}' opened at line %zu%s",
		     tag_name(si.tag.kind), line_of(p->t, (uint32_t)open->start),
		     si.tag.kind == TAG_END_IF ? " (expected '{{/each}}')" : "");
	node_free(&n);
	return false;
}

static bool parse_include(struct parser *p, struct body *b, const struct tag *tg, size_t ls,
			  bool alone)
{
	size_t from = tg->in_from, to = tg->in_to;
	while (from < to && is_space(p->s[from]))
		from++;
	if (from == to) {
		perr(p, tg->start, tg->end, "expected a template path after '{{>'");
		return false;
	}
	for (size_t i = from; i < to; i++) {
		if (is_space(p->s[i])) {
			perr(p, from, to, "a template path has no spaces");
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
		perr(p, p->pos, p->pos + 1, "blocks nest more than %d deep", MAX_NEST);
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
		if (!read_tag(p, q, &tg))
			return STOP_ERROR;
		size_t ls = q, le = tg.end;
		bool alone = tg.kind != TAG_INSERT && standalone(p->t, &tg, &ls, &le);
		add_text(b, p->pos, alone ? ls : q);
		size_t resume = alone ? le : tg.end;
		switch (tg.kind) {
		case TAG_COMMENT:
			break;
		case TAG_INSERT: {
			struct tnode n = { .kind = N_INSERT, .off = (uint32_t)tg.start,
					   .end = (uint32_t)tg.end };
			if (tg.in_from >= tg.in_to) {
				perr(p, tg.start, tg.end, "empty tag");
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
				perr(p, tg.start, tg.end, "'%s' without an open block", tag_name(tg.kind));
				return STOP_ERROR;
			}
			return si->kind = tg.kind == TAG_END_IF ? STOP_END_IF : STOP_END_EACH;
		}
		p->pos = resume;
	}
}

static void compile(struct tmpl *t, struct diag *d)
{
	struct parser p = { .t = t, .d = d, .s = t->text, .str = STRBUF_INIT };
	if (t->is_expr) {
		t->expr = parse_expr_range(&p, 0, t->len);
	} else {
		struct stopinfo si;
		enum stop st = parse_body(&p, &t->root, &si);
		if (st == STOP_ELSE || st == STOP_ELSE_IF)
			perr(&p, si.tag.start, si.tag.end, "'%s' outside '{{#if}}'", tag_name(si.tag.kind));
	}
	strbuf_release(&p.str);
	t->failed = p.failed;
	if (p.failed) {
		body_free(&t->root);
		expr_free(t->expr);
		t->expr = NULL;
	}
}

/* ---- the cache ------------------------------------------------------------ */

static uint64_t hash_str(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

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
	size_t i = (size_t)hash_str(key, klen) & mask;
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

static char *display_name(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char *dir = stdlib_dir();
	strbuf_addf(&sb, "%s/%s", dir ? dir : "stdlib", path);
	return strbuf_detach(&sb, NULL);
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
static struct tmpl *get_tmpl(struct tmpl_engine *e, char kind, const char *name, const char *text,
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
		if (registered_in(t, d))
			return NULL;
		/* Compile again so this diag gets the error too. */
		body_free(&t->root);
		t->failed = false;
		compile(t, d);
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
		t->name = display_name(name);
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
	compile(t, d);
	return t->failed ? NULL : t;
}

/* ---- values --------------------------------------------------------------- */

/* An evaluated value: j is borrowed from the context or a literal unless own
 * holds the reference. j == NULL means a missing path; miss says which. */
struct val {
	const json_t *j;
	json_t *own;
	const struct expr *miss;
	bool final;      /* the chain ended in raw or a context filter */
	bool filtered;   /* the insertion named a filter */
};

static void val_release(struct val *v)
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

static const char *type_name(const json_t *v)
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

/* ---- rendering ------------------------------------------------------------ */

struct var {
	const char *name;
	const json_t *value;
};

struct loop {
	size_t index, count;
};

struct render {
	struct tmpl_engine *e;
	struct diag *d;
	const json_t *root;
	struct var *vars;
	size_t nvars, vcap;
	struct loop *loops;
	size_t nloops, lcap;
	int depth;                 /* include depth */
};

static void push_var(struct render *r, const char *name, const json_t *v)
{
	XGROW(r->vars, r->vcap, r->nvars + 1);
	r->vars[r->nvars].name = name;
	r->vars[r->nvars].value = v;
	r->nvars++;
}

static const json_t *lookup_name(const struct render *r, const char *name)
{
	for (size_t i = r->nvars; i-- > 0;)
		if (!strcmp(r->vars[i].name, name))
			return r->vars[i].value;
	return r->root && json_is_object(r->root) ? json_object_get(r->root, name) : NULL;
}

/* Walks a path; returns NULL when a step does not exist, with *failed_at the
 * index of that step. */
static const json_t *walk_path(const struct render *r, const struct expr *e, size_t *failed_at)
{
	const json_t *v = lookup_name(r, e->segs[0].name);
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

static void report_missing(struct render *r, struct tmpl *t, const struct expr *e)
{
	terr(t, r->d, e->off, e->end, "'%.*s' is not defined", (int)(e->end - e->off),
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

static int eval(struct render *r, struct tmpl *t, const struct expr *e, struct val *out);

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

static int refuse_secret(struct render *r, struct tmpl *t, const struct expr *at, const json_t *v)
{
	terr(t, r->d, at->off, at->end, "refusing to write secret '%s' into a generated file",
	     json_string_value(json_object_get(v, "secret")));
	diag_hint(r->d, "A step receives a secret on standard input at apply time: list its "
			"name under \"secrets\" in the step.");
	return -1;
}

/* Text of a scalar, as raw text, join and b64 see it. */
static int scalar_text(struct render *r, struct tmpl *t, const struct expr *at, const json_t *v,
		       struct strbuf *sb)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		strbuf_add(sb, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_INTEGER:
	case JSON_REAL:
		number_text(sb, v);
		return 0;
	case JSON_TRUE:
		strbuf_addstr(sb, "true");
		return 0;
	case JSON_FALSE:
		strbuf_addstr(sb, "false");
		return 0;
	case JSON_NULL:
		terr(t, r->d, at->off, at->end, "'%.*s' is null", (int)(at->end - at->off),
		     t->text + at->off);
		diag_hint(r->d, "Guard it with {{#if}} or give a fallback with | default \"...\".");
		return -1;
	case JSON_OBJECT:
		if (tmpl_is_secret(v))
			return refuse_secret(r, t, at, v);
		/* fall through */
	case JSON_ARRAY:
		terr(t, r->d, at->off, at->end, "'%.*s' is %s, not text", (int)(at->end - at->off),
		     t->text + at->off, type_name(v));
		diag_hint(r->d, "Use | join \",\", | json or {{#each}}.");
		return -1;
	}
	return -1;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A map's keys, sorted; the caller frees the array (not the strings). */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
	*n = json_object_size(obj);
	const char **keys = xcalloc(*n ? *n : 1, sizeof(*keys));
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, *n, sizeof(*keys), cmp_keys);
	return keys;
}

/* JSON (flow style, sorted keys), for .json files and lists and maps in
 * YAML; with toml set, TOML arrays (maps refused). */
static int write_json(struct render *r, struct tmpl *t, const struct expr *at, const json_t *v,
		      struct strbuf *sb, bool toml, int depth)
{
	if (depth > MAX_NEST) {
		terr(t, r->d, at->off, at->end, "value nests too deeply to print");
		return -1;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (toml)
			toml_quote_n(sb, json_string_value(v), json_string_length(v));
		else
			json_quote_n(sb, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_INTEGER:
	case JSON_REAL:
		number_text(sb, v);
		return 0;
	case JSON_TRUE:
		strbuf_addstr(sb, "true");
		return 0;
	case JSON_FALSE:
		strbuf_addstr(sb, "false");
		return 0;
	case JSON_NULL:
		if (toml) {
			terr(t, r->d, at->off, at->end, "TOML has no null ('%.*s')",
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
			terr(t, r->d, at->off, at->end, "cannot write a map into TOML ('%.*s')",
			     (int)(at->end - at->off), t->text + at->off);
			return -1;
		}
		size_t n;
		const char **keys = sorted_keys(v, &n);
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
static int emit_value(struct render *r, struct tmpl *t, const struct expr *at, const json_t *v,
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
			terr(t, r->d, at->off, at->end,
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
	if (emit_value(r, t, at, v->j, ctx, &sb)) {
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
			if (eval(r, t, e->b, &a))
				return -1;
			val_release(v);
			*v = a;
			v->filtered = true;
			v->final = false;
			if (!v->j) {
				report_missing(r, t, a.miss ? a.miss : e->b);
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
		if (eval(r, t, e->b, &sep))
			return -1;
		if (!json_is_string(sep.j)) {
			terr(t, r->d, e->b->off, e->b->end, "join needs a string separator");
			val_release(&sep);
			return -1;
		}
		for (size_t i = 0; i < json_array_size(j); i++) {
			if (i)
				strbuf_add(&sb, json_string_value(sep.j), json_string_length(sep.j));
			if (scalar_text(r, t, in, json_array_get(j, i), &sb)) {
				val_release(&sep);
				strbuf_release(&sb);
				return -1;
			}
		}
		val_release(&sep);
		break;
	}
	case F_INDENT: {
		struct val nv = { 0 };
		if (eval(r, t, e->b, &nv))
			return -1;
		if (!json_is_integer(nv.j) || json_integer_value(nv.j) < 0 ||
		    json_integer_value(nv.j) > 1000) {
			terr(t, r->d, e->b->off, e->b->end, "indent needs a number of spaces (0 to 1000)");
			val_release(&nv);
			return -1;
		}
		size_t n = (size_t)json_integer_value(nv.j);
		val_release(&nv);
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
		const char **keys = sorted_keys(j, &n);
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
	terr(t, r->d, e->off, e->end, "filter '%s' does not apply to %s", filter_names[f],
	     type_name(j));
	return -1;
}

static int eval(struct render *r, struct tmpl *t, const struct expr *e, struct val *out)
{
	out->final = out->filtered = false;
	switch (e->kind) {
	case E_LIT:
		val_set_borrowed(out, e->lit);
		return 0;
	case E_PATH: {
		if (e->sp != SP_NONE) {
			if (!r->nloops) {
				terr(t, r->d, e->off, e->end, "'%.*s' outside '{{#each}}'",
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
		if (eval(r, t, e->a, &a))
			return -1;
		bool b = !tmpl_truthy(a.j);
		val_release(&a);
		val_set_borrowed(out, json_boolean(b));
		return 0;
	}
	case E_AND:
	case E_OR: {
		struct val a = { 0 };
		if (eval(r, t, e->a, &a))
			return -1;
		bool b = tmpl_truthy(a.j);
		val_release(&a);
		if (b == (e->kind == E_AND)) {
			if (eval(r, t, e->b, &a))
				return -1;
			b = tmpl_truthy(a.j);
			val_release(&a);
		}
		val_set_borrowed(out, json_boolean(b));
		return 0;
	}
	case E_CMP: {
		struct val a = { 0 }, b = { 0 };
		if (eval(r, t, e->a, &a))
			return -1;
		if (eval(r, t, e->b, &b)) {
			val_release(&a);
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
				terr(t, r->d, e->off, e->end, "cannot order %s and %s", type_name(a.j),
				     type_name(b.j));
				val_release(&a);
				val_release(&b);
				return -1;
			}
			res = e->op == OP_LT ? c < 0 : e->op == OP_LE ? c <= 0 : e->op == OP_GT ? c > 0 : c >= 0;
		}
		val_release(&a);
		val_release(&b);
		val_set_borrowed(out, json_boolean(res));
		return 0;
	}
	case E_FILTER:
		if (eval(r, t, e->a, out))
			return -1;
		if (apply_filter(r, t, e, out)) {
			val_release(out);
			return -1;
		}
		return 0;
	}
	return -1;
}

static int render_body(struct render *r, struct tmpl *t, const struct body *b, enum tmpl_ctx ctx,
		       struct strbuf *out);

static int render_insert(struct render *r, struct tmpl *t, const struct tnode *n, enum tmpl_ctx ctx,
			 struct strbuf *out)
{
	struct val v = { 0 };
	if (eval(r, t, n->e, &v))
		return -1;
	int rc = 0;
	if (!v.j) {
		report_missing(r, t, v.miss ? v.miss : n->e);
		rc = -1;
	} else if (v.final) {
		rc = emit_value(r, t, n->e, v.j, TMPL_CTX_NONE, out);
	} else if (ctx == TMPL_CTX_NONE && !v.filtered) {
		terr(t, r->d, n->off, n->end,
		     "no escaping is known for '%s' files: name a filter", t->name);
		diag_hint(r->d, "Use | raw to insert the text as it is, or | sh, | yaml, | json, | toml.");
		rc = -1;
	} else {
		rc = emit_value(r, t, n->e, v.j, ctx, out);
	}
	val_release(&v);
	return rc;
}

static int render_each(struct render *r, struct tmpl *t, const struct tnode *n, enum tmpl_ctx ctx,
		       struct strbuf *out)
{
	struct val v = { 0 };
	if (eval(r, t, n->e, &v))
		return -1;
	if (!v.j) {
		report_missing(r, t, v.miss ? v.miss : n->e);
		return -1;
	}
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
				push_var(r, n->name1, idx);
				push_var(r, n->name2, json_array_get(v.j, i));
			} else {
				push_var(r, n->name1, json_array_get(v.j, i));
			}
			rc = render_body(r, t, &n->body, ctx, out);
			r->nvars = mark;
			json_decref(idx);
		}
		r->nloops--;
	} else if (json_is_object(v.j) && !tmpl_is_secret(v.j)) {
		if (!n->name2) {
			terr(t, r->d, n->e->off, n->e->end,
			     "'%.*s' is a map: use '{{#each %.*s as key, value}}'", (int)(n->e->end - n->e->off),
			     t->text + n->e->off, (int)(n->e->end - n->e->off), t->text + n->e->off);
			val_release(&v);
			return -1;
		}
		size_t cnt;
		const char **keys = sorted_keys(v.j, &cnt);
		XGROW(r->loops, r->lcap, r->nloops + 1);
		size_t li = r->nloops++;
		for (size_t i = 0; i < cnt && !rc; i++) {
			r->loops[li] = (struct loop){ .index = i, .count = cnt };
			json_t *key = json_string_nocheck(keys[i]);
			push_var(r, n->name1, key);
			push_var(r, n->name2, json_object_get(v.j, keys[i]));
			rc = render_body(r, t, &n->body, ctx, out);
			r->nvars = mark;
			json_decref(key);
		}
		r->nloops--;
		free(keys);
	} else {
		terr(t, r->d, n->e->off, n->e->end, "cannot repeat over %s ('%.*s')", type_name(v.j),
		     (int)(n->e->end - n->e->off), t->text + n->e->off);
		rc = -1;
	}
	val_release(&v);
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
		terr(t, r->d, n->off, n->end, "includes nest more than %d deep (does '%s' include itself?)",
		     TMPL_MAX_INCLUDE, n->path);
		return -1;
	}
	if (!n->incl) {
		bool missing;
		n->incl = get_tmpl(r->e, 'f', n->path, NULL, TMPL_CTX_NONE, r->d, &missing);
		if (!n->incl) {
			if (missing)
				terr(t, r->d, n->off, n->end, "no template '%s' in the stdlib", n->path);
			else
				diag_note(r->d, tloc(t, r->d, n->off, n->end), "included from here");
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
		diag_note(r->d, tloc(t, r->d, n->off, n->end), "included from here");
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
					if (eval(r, t, n->br[k].cond, &v))
						return -1;
					take = tmpl_truthy(v.j);
					val_release(&v);
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
			push_var(r, scope->vars[i].name, scope->vars[i].value);
	}
}

static void render_release(struct render *r)
{
	free(r->vars);
	free(r->loops);
}

int tmpl_render(struct tmpl_engine *e, const char *path, const struct tmpl_scope *scope,
		struct strbuf *out, struct diag *d)
{
	bool missing;
	struct tmpl *t = get_tmpl(e, 'f', path, NULL, TMPL_CTX_NONE, d, &missing);
	if (!t) {
		if (missing)
			diag_error(d, LOC_NONE, "no template '%s' in the stdlib", path);
		return -1;
	}
	struct render r;
	render_init(&r, e, scope, d);
	int rc = render_body(&r, t, &t->root, t->ctx, out);
	render_release(&r);
	return rc;
}

int tmpl_render_text(struct tmpl_engine *e, const char *name, const char *text,
		     enum tmpl_ctx ctx, const struct tmpl_scope *scope, struct strbuf *out,
		     struct diag *d)
{
	struct tmpl *t = get_tmpl(e, 's', name, text, ctx, d, NULL);
	if (!t)
		return -1;
	struct render r;
	render_init(&r, e, scope, d);
	int rc = render_body(&r, t, &t->root, t->ctx, out);
	render_release(&r);
	return rc;
}

int tmpl_eval(struct tmpl_engine *e, const char *name, const char *expr,
	      const struct tmpl_scope *scope, json_t **value, struct diag *d)
{
	*value = NULL;
	struct tmpl *t = get_tmpl(e, 'e', name, expr, TMPL_CTX_NONE, d, NULL);
	if (!t)
		return -1;
	struct render r;
	render_init(&r, e, scope, d);
	struct val v = { 0 };
	int rc = eval(&r, t, t->expr, &v);
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
