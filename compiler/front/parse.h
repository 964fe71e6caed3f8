/* parse: runs the flex lexer and bison parser (grammar/) over one source file
 * and returns its top-level items (blocks, imports, stray attributes). Syntax
 * and lexical errors go to the diag; parsing goes on after them (bison error
 * recovery), so one run reports as many as it can. Pure and reentrant: no
 * global state, so tests and the fuzzer parse many files in one process. */
#ifndef CLUSTERC_PARSE_H
#define CLUSTERC_PARSE_H

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "strbuf.h"

/* Nesting deeper than this is refused (Lua's habit), so hostile input cannot
 * exhaust the parser stack. */
#define PARSE_MAX_DEPTH 64

struct parse_ctx {
	struct arena *arena;
	struct diag *diag;
	int32_t file;
	const char *text;    /* the source, for token text in messages */
	uint32_t offset;     /* lexer position, in bytes */
	struct strbuf str;   /* string literal being lexed */
	struct loc str_start;
	bool str_bad;
	struct loc open[PARSE_MAX_DEPTH + 1];  /* locations of open '{', '[' and '(' */
	int depth;
	bool too_deep;
	uint32_t *syntax_errors;  /* offsets of syntax errors, in order */
	size_t nsyntax_errors, syntax_errors_cap;
	struct ast_seq top;  /* the result */
};

/* Parses source `file` (already registered with the diag). A block that holds
 * a syntax error comes back poisoned: error recovery may have dropped any of
 * its attributes, so the checker does not call them missing. */
struct ast_node *parse_source(struct arena *arena, struct diag *d, int32_t file);

#endif
