/* tmpl_lex: the tokens of templates: the expression lexer and the tag
 * reader that finds "{{ ... }}" tags and standalone lines. */
#include "tmpl_internal.h"
#include "xalloc.h"

#include <limits.h>
#include <stdarg.h>
#include <string.h>

/* ---- expression lexer and parser ---------------------------------------- */

__attribute__((format(printf, 4, 5)))
void tmpl_parse_error(struct parser *p, size_t off, size_t end, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	diag_error(p->d, tmpl_loc(p->t, p->d, (uint32_t)off, (uint32_t)end), "C0643", "%s", sb.buf);
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

bool tmpl_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void tmpl_lex(struct parser *p)
{
	const char *s = p->s;
	while (p->pos < p->end && tmpl_is_space(s[p->pos]))
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
			tmpl_parse_error(p, p->toff, p->pos, "integer literal is too large");
			p->tok = K_BAD;
		}
	} else if (c == '"' || c == '\'') {
		strbuf_reset(&p->str);
		size_t i = p->pos + 1;
		for (;;) {
			if (i >= p->end) {
				tmpl_parse_error(p, p->toff, p->toff + 1, "unterminated string literal");
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
					tmpl_parse_error(p, i, i + 2, "unknown escape '\\%c' in string literal", n);
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
			tmpl_parse_error(p, p->toff, p->pos, "unexpected '%c'%s", c,
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
		tmpl_parse_error(p, p->toff, p->pos, "unexpected character '%c' in expression", c);
		p->tok = K_BAD;
		return;
	}
	p->tend = p->pos;
}

bool tmpl_tok_is(struct parser *p, const char *word)
{
	size_t n = strlen(word);
	return p->tok == K_WORD && p->tend - p->toff == n && !memcmp(p->s + p->toff, word, n);
}

const char *tmpl_tok_desc(struct parser *p, struct strbuf *sb)
{
	strbuf_reset(sb);
	if (p->tok == K_EOF)
		strbuf_addstr(sb, "end of tag");
	else
		strbuf_addf(sb, "'%.*s'", (int)(p->tend - p->toff), p->s + p->toff);
	return sb->buf;
}

void tmpl_expected(struct parser *p, const char *what)
{
	struct strbuf sb = STRBUF_INIT;
	tmpl_parse_error(p, p->toff, p->tend, "expected %s, found %s", what, tmpl_tok_desc(p, &sb));
	strbuf_release(&sb);
}

bool tmpl_is_keyword(struct parser *p)
{
	return tmpl_tok_is(p, "not") || tmpl_tok_is(p, "and") || tmpl_tok_is(p, "or") ||
	       tmpl_tok_is(p, "as");
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
bool tmpl_read_tag(struct parser *p, size_t q, struct tag *tg)
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
			tmpl_parse_error(p, q, q + 2, "unclosed comment '{{!' (expected '}}')");
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
			tmpl_parse_error(p, q, q + 2, "unclosed '{{' (expected '}}')");
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
	while (to > i && tmpl_is_space(s[to - 1]))
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
			tmpl_parse_error(p, i, k, "unknown block '%.*s' (there are #if and #each)", (int)(k - i), s + i);
			return false;
		}
	} else if (i < to && s[i] == '/') {
		size_t k = i + 1;
		while (k < to && tmpl_is_space(s[k]))
			k++;
		if (word_at(s, k, to, "if") && k + 2 == to)
			tg->kind = TAG_END_IF;
		else if (word_at(s, k, to, "each") && k + 4 == to)
			tg->kind = TAG_END_EACH;
		else {
			tmpl_parse_error(p, i, to, "unknown closing tag '%.*s' (there are /if and /each)",
					 (int)(to - i), s + i);
			return false;
		}
	} else if (i < to && s[i] == '>') {
		tg->kind = TAG_INCLUDE;
		tg->in_from = i + 1;
	} else if (word_at(s, i, to, "else")) {
		size_t k = i + 4;
		while (k < to && tmpl_is_space(s[k]))
			k++;
		if (k == to) {
			tg->kind = TAG_ELSE;
		} else if (word_at(s, k, to, "if")) {
			tg->kind = TAG_ELSE_IF;
			tg->in_from = k + 2;
		} else {
			tmpl_parse_error(p, k, to, "expected '}}' or 'if' after 'else'");
			return false;
		}
	}
	return true;
}

/* A line holding only a block tag (and blanks) disappears whole. Returns
 * true and the line's bounds when the tag stands alone. */
bool tmpl_standalone(const struct tmpl *t, const struct tag *tg, size_t *line_start,
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

const char *tmpl_tag_name(enum tagkind k)
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
