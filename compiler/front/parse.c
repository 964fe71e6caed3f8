#include "parse.h"
#include "parser.h"

#define YYSTYPE CC_YYSTYPE
#define YYLTYPE CC_YYLTYPE
#include "lexer.h"

#include "quote.h"

#include <stdlib.h>
#include <string.h>

/* Reports each invalid UTF-8 sequence once; the lexer then skips such bytes
 * quietly, so a binary file gives a handful of errors, not thousands. */
static void check_encoding(struct diag *d, int32_t file, const char *s, size_t n)
{
	int reported = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
			: (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
		bool ok = len > 0 && i + len <= n;
		for (size_t k = 1; ok && k < len; k++)
			ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
		if (ok && len == 3) {
			unsigned char c1 = (unsigned char)s[i + 1];
			ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
		} else if (ok && len == 4) {
			unsigned char c1 = (unsigned char)s[i + 1];
			ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
		}
		if (!ok) {
			if (reported++ < 5)
				diag_error(d, (struct loc){ file, (uint32_t)i, (uint32_t)i + 1 },
					   "C0101", "invalid UTF-8 byte 0x%02x", c);
			i++;
			continue;
		}
		i += len;
	}
	if (reported > 5)
		diag_hint(d, "%d more invalid bytes in this file; is it a text file?", reported - 5);
}

/* Refuses bidirectional control characters anywhere in the file, comments
 * included: a reviewer would read the file in a different order from the
 * compiler, and the values would carry them into scripts and YAML. */
static void check_bidi(struct diag *d, int32_t file, const char *s, size_t n)
{
	int reported = 0;
	unsigned long cp;
	for (size_t i = 0, at; i < n; i = at + 1) {
		at = i + utf8_bidi_at(s + i, n - i, &cp);
		if (at >= n)
			break;
		if (reported++ < 5) {
			size_t w = utf8_width(cp);
			diag_error(d, (struct loc){ file, (uint32_t)at, (uint32_t)(at + w) }, "C0118",
				   "bidirectional control character U+%04lX", cp);
			diag_hint(d, "it makes the text display in another order than the one it is read in; remove it");
		}
	}
}

/* Poisons every block (nested ones too) whose span holds offset `at`. */
static void poison_blocks(struct ast_node *items, uint32_t at)
{
	for (struct ast_node *n = items; n; n = n->next) {
		if (n->kind != AST_BLOCK || at < n->loc.start || at >= n->loc.end)
			continue;
		n->poisoned = true;
		poison_blocks(n->u.block.body, at);
	}
}

struct ast_node *parse_source(struct arena *arena, struct diag *d, int32_t file)
{
	const struct source *src = diag_source(d, file);
	struct parse_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.arena = arena;
	ctx.diag = d;
	ctx.file = file;
	ctx.text = src->text;
	strbuf_init(&ctx.str);
	ctx.top = ast_seq_empty();

	if (src->len > UINT32_MAX - 1) {
		diag_error(d, LOC_NONE, "C0102", "'%s' is larger than 4 GiB", src->path);
		return NULL;
	}
	check_encoding(d, file, src->text, src->len);
	check_bidi(d, file, src->text, src->len);

	yyscan_t scanner;
	if (cc_yylex_init_extra(&ctx, &scanner)) {
		diag_error(d, LOC_NONE, "C0103", "cannot start the lexer");
		return NULL;
	}
	YY_BUFFER_STATE buf = cc_yy_scan_bytes(src->text, (int)src->len, scanner);
	cc_yyparse(scanner, &ctx);
	cc_yy_delete_buffer(buf, scanner);
	cc_yylex_destroy(scanner);
	strbuf_release(&ctx.str);
	for (size_t i = 0; i < ctx.nsyntax_errors; i++)
		poison_blocks(ctx.top.head, ctx.syntax_errors[i]);
	free(ctx.syntax_errors);
	return ctx.top.head;
}
