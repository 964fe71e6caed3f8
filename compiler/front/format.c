#include "format.h"
#include "arena.h"
#include "ast.h"
#include "parse.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct comment {
	uint32_t start, end;  /* '#' up to the line end, trailing blanks dropped */
	bool own_line;        /* nothing but blanks before it on its line */
};

struct fmt {
	const char *src;
	uint32_t len;
	struct comment *comments;
	size_t ncomments, cap, next;
	struct strbuf *out;
	int indent;
	uint32_t last_end;  /* source offset just past the last token written */
	bool line_open;     /* the output's last line is not ended yet */
	bool fresh;         /* just after an opening brace: no blank line here */
};

/* The comments of the text, in order: '#' outside a string, to the line end
 * (a string ends at its closing quote or, unterminated, at the line end, as
 * the lexer says). */
static void find_comments(struct fmt *f)
{
	bool in_str = false, own_line = true;
	for (uint32_t i = 0; i < f->len; i++) {
		char c = f->src[i];
		if (c == '\n') {
			in_str = false;
			own_line = true;
		} else if (in_str) {
			if (c == '\\' && i + 1 < f->len && f->src[i + 1] != '\n')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
			own_line = false;
		} else if (c == '#') {
			uint32_t end = i;
			while (end < f->len && f->src[end] != '\n')
				end++;
			uint32_t stop = end;
			while (stop > i && strchr(" \t\r", f->src[stop - 1]))
				stop--;
			XGROW(f->comments, f->cap, f->ncomments + 1);
			f->comments[f->ncomments++] = (struct comment){ i, stop, own_line };
			i = end - 1;
		} else if (!strchr(" \t\r", c)) {
			own_line = false;
		}
	}
}

static bool has_newline(const struct fmt *f, uint32_t from, uint32_t to)
{
	return memchr(f->src + from, '\n', to - from) != NULL;
}

static bool has_comment(const struct fmt *f, uint32_t from, uint32_t to)
{
	for (size_t i = f->next; i < f->ncomments && f->comments[i].start < to; i++)
		if (f->comments[i].start >= from)
			return true;
	return false;
}

/* Whether the line above the one holding off is blank. */
static bool blank_line_before(const struct fmt *f, uint32_t off)
{
	uint32_t p = off;
	while (p > 0 && f->src[p - 1] != '\n')
		p--;
	if (p == 0)
		return false;
	p--; /* the previous line's '\n' */
	while (p > 0 && f->src[p - 1] != '\n') {
		if (!strchr(" \t\r", f->src[p - 1]))
			return false;
		p--;
	}
	return p > 0;
}

/* Skips blanks and comments from off. */
static uint32_t skip_blank(const struct fmt *f, uint32_t off)
{
	while (off < f->len) {
		if (f->src[off] == '#') {
			while (off < f->len && f->src[off] != '\n')
				off++;
		} else if (strchr(" \t\r\n", f->src[off])) {
			off++;
		} else {
			break;
		}
	}
	return off;
}

static void slice(struct fmt *f, struct loc l)
{
	strbuf_add(f->out, f->src + l.start, l.end - l.start);
}

static void end_line(struct fmt *f)
{
	if (f->line_open)
		strbuf_addch(f->out, '\n');
	f->line_open = false;
}

/* Starts the output line of the item (or comment) at source offset at. */
static void start_line(struct fmt *f, uint32_t at)
{
	end_line(f);
	if (!f->fresh && f->out->len && blank_line_before(f, at))
		strbuf_addch(f->out, '\n');
	strbuf_addchars(f->out, ' ', (size_t)f->indent * 2);
	f->line_open = true;
	f->fresh = false;
}

/* Writes the comments that start before upto: one that trails the last
 * token on its source line stays at the end of that line; others get their
 * own line. */
static void flush_comments(struct fmt *f, uint32_t upto)
{
	while (f->next < f->ncomments && f->comments[f->next].start < upto) {
		const struct comment *c = &f->comments[f->next++];
		bool trailing = !c->own_line && f->line_open && c->start >= f->last_end
			&& !has_newline(f, f->last_end, c->start);
		if (trailing)
			strbuf_addch(f->out, ' ');
		else
			start_line(f, c->start);
		strbuf_add(f->out, f->src + c->start, c->end - c->start);
		f->last_end = c->end;
	}
}

static void write_value(struct fmt *f, const struct ast_node *n);
static void write_block(struct fmt *f, const struct ast_node *n);

/* Whether attribute a continues the run of aligned attributes that prev is
 * in: both attributes, no blank line or comment line between them. */
static bool continues_run(const struct fmt *f, const struct ast_node *prev, const struct ast_node *a)
{
	if (!prev || prev->kind != AST_ATTR || a->kind != AST_ATTR || blank_line_before(f, a->loc.start))
		return false;
	for (size_t i = f->next; i < f->ncomments && f->comments[i].start < a->loc.start; i++)
		if (f->comments[i].start >= prev->loc.end && f->comments[i].own_line)
			return false;
	return true;
}

/* The width of the widest name in the run of attributes that starts at n. */
static size_t run_width(const struct fmt *f, const struct ast_node *n)
{
	size_t w = 0;
	for (const struct ast_node *a = n, *prev = NULL; a && (a == n || continues_run(f, prev, a));
	     prev = a, a = a->next) {
		size_t len = a->u.attr.name_loc.end - a->u.attr.name_loc.start;
		if (len > w)
			w = len;
	}
	return w;
}

static void write_attr(struct fmt *f, const struct ast_node *a, size_t width)
{
	size_t len = a->u.attr.name_loc.end - a->u.attr.name_loc.start;
	slice(f, a->u.attr.name_loc);
	strbuf_addchars(f->out, ' ', width > len ? width - len + 1 : 1);
	strbuf_addstr(f->out, "= ");
	write_value(f, a->u.attr.value);
}

static void write_import(struct fmt *f, const struct ast_node *n)
{
	uint32_t s = skip_blank(f, n->loc.start + (uint32_t)strlen("import"));
	strbuf_addstr(f->out, "import ");
	slice(f, (struct loc){ n->loc.file, s, n->loc.end });
}

/* One item of a body spanning lines (attr, block or import), on its own line. */
static void write_item(struct fmt *f, const struct ast_node *n, size_t width, const char *after)
{
	flush_comments(f, n->loc.start);
	start_line(f, n->loc.start);
	if (n->kind == AST_ATTR)
		write_attr(f, n, width);
	else if (n->kind == AST_BLOCK)
		write_block(f, n);
	else if (n->kind == AST_IMPORT)
		write_import(f, n);
	else
		write_value(f, n);
	strbuf_addstr(f->out, after);
	f->last_end = n->loc.end;
}

/* Items one per line, attributes aligned in runs, then the closing bracket
 * at close (a source offset). */
static void write_lines(struct fmt *f, const struct ast_node *items, uint32_t close, const char *after,
			const char *closing)
{
	f->indent++;
	f->fresh = true;
	size_t width = 0;
	const struct ast_node *prev = NULL;
	for (const struct ast_node *n = items; n; prev = n, n = n->next) {
		if (n->kind == AST_ATTR && !continues_run(f, prev, n))
			width = run_width(f, n);
		write_item(f, n, width, after);
	}
	flush_comments(f, close);
	f->indent--;
	if (closing) {
		end_line(f);
		f->fresh = false;
		strbuf_addchars(f->out, ' ', (size_t)f->indent * 2);
		strbuf_addstr(f->out, closing);
		f->line_open = true;
	}
}

static bool one_line(const struct fmt *f, const struct ast_node *n)
{
	return !has_newline(f, n->loc.start, n->loc.end);
}

static void write_block(struct fmt *f, const struct ast_node *n)
{
	strbuf_addstr(f->out, n->u.block.type);
	uint32_t header_end = n->u.block.type_loc.end;
	if (n->u.block.name) {
		strbuf_addch(f->out, ' ');
		slice(f, n->u.block.name_loc);
		header_end = n->u.block.name_loc.end;
	}
	uint32_t close = n->loc.end - 1;
	if (!n->u.block.body && !has_comment(f, n->loc.start, close)) {
		strbuf_addstr(f->out, " {}");
		return;
	}
	strbuf_addstr(f->out, " {");
	f->last_end = skip_blank(f, header_end) + 1;
	if (one_line(f, n)) {
		for (const struct ast_node *i = n->u.block.body; i; i = i->next) {
			strbuf_addstr(f->out, i == n->u.block.body ? " " : "  ");
			if (i->kind == AST_BLOCK)
				write_block(f, i);
			else if (i->kind == AST_ATTR)
				write_attr(f, i, 0);
			else
				write_value(f, i);
		}
		strbuf_addstr(f->out, " }");
		return;
	}
	write_lines(f, n->u.block.body, close, "", "}");
}

static void write_list(struct fmt *f, const struct ast_node *n)
{
	bool map = n->kind == AST_MAP;
	uint32_t close = n->loc.end - 1;
	if (!n->u.list.items && !has_comment(f, n->loc.start, close)) {
		strbuf_addstr(f->out, map ? "{}" : "[]");
		return;
	}
	if (!one_line(f, n)) {
		strbuf_addstr(f->out, map ? "{" : "[");
		f->last_end = n->loc.start + 1;
		write_lines(f, n->u.list.items, close, ",", map ? "}" : "]");
		return;
	}
	strbuf_addstr(f->out, map ? "{ " : "[");
	for (const struct ast_node *i = n->u.list.items; i; i = i->next) {
		if (i != n->u.list.items)
			strbuf_addstr(f->out, ", ");
		if (map)
			write_attr(f, i, 0);
		else
			write_value(f, i);
	}
	strbuf_addstr(f->out, map ? " }" : "]");
}

static void write_value(struct fmt *f, const struct ast_node *n)
{
	switch (n->kind) {
	case AST_LIST:
	case AST_MAP:
		write_list(f, n);
		break;
	case AST_CALL:
		slice(f, n->u.call.fn_loc);
		strbuf_addch(f->out, '(');
		for (const struct ast_node *a = n->u.call.args; a; a = a->next) {
			if (a != n->u.call.args)
				strbuf_addstr(f->out, ", ");
			write_value(f, a);
		}
		strbuf_addch(f->out, ')');
		break;
	case AST_CONCAT:
		write_value(f, n->u.concat.lhs);
		strbuf_addstr(f->out, " + ");
		write_value(f, n->u.concat.rhs);
		break;
	case AST_BLOCK:
		write_block(f, n);
		break;
	default:
		/* A literal or a name, as written. */
		slice(f, n->loc);
		break;
	}
	f->last_end = n->loc.end;
}

bool format_source(struct diag *d, int32_t file, struct strbuf *out)
{
	size_t errors = d->errors;
	struct arena arena;
	arena_init(&arena);
	struct ast_node *items = parse_source(&arena, d, file);
	bool ok = d->errors == errors;
	if (ok) {
		const struct source *src = diag_source(d, file);
		struct fmt f = { .src = src->text, .len = (uint32_t)src->len, .out = out, .indent = -1 };
		find_comments(&f);
		write_lines(&f, items, f.len, "", NULL);
		end_line(&f);
		free(f.comments);
	}
	arena_release(&arena);
	return ok;
}
