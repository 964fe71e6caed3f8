/* The .cluster grammar (LANGUAGE.md, "Structure"). Actions are one AST
 * constructor call each (STYLE habit 2): no lookups, checks or I/O here. Error
 * recovery at the item level lets one run report every syntax error; recovery
 * at a closing ')', ']' or '}' keeps one mistake inside a value to one message. */
%define api.pure full
%define api.prefix {cc_yy}
%define api.location.type {struct loc}
%define parse.error custom
%locations
%expect 0
%param {void *scanner}
%parse-param {struct parse_ctx *ctx}

%code requires {
#include "ast.h"
struct parse_ctx;
}

%code provides {
int cc_yylex(CC_YYSTYPE *lval, struct loc *lloc, void *scanner);
}

%code {
#include <string.h>
#include "parse.h"
#include "xalloc.h"

#define A (ctx->arena)

/* Bison's default merges spans; ours are byte ranges within one file. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                          \
	do {                                                                 \
		if (N) {                                                     \
			(Cur).file = YYRHSLOC(Rhs, 1).file;                  \
			(Cur).start = YYRHSLOC(Rhs, 1).start;                \
			(Cur).end = YYRHSLOC(Rhs, N).end;                    \
		} else {                                                     \
			(Cur).file = YYRHSLOC(Rhs, 0).file;                  \
			(Cur).start = (Cur).end = YYRHSLOC(Rhs, 0).end;      \
		}                                                            \
	} while (0)

static void cc_yyerror(struct loc *loc, void *scanner, struct parse_ctx *ctx, const char *msg);
}

%union {
	struct ast_node *node;
	struct ast_seq seq;
	char *str;
}

%token END 0 "end of file"
%token <str> IDENT "identifier"
%token <node> STRING "string" INT "integer" SIZE "size" DURATION "duration"
%token <node> IPV4 "IPv4 address" CIDR "CIDR" ENDPOINT "endpoint"
%token IMPORT "'import'" TRUE "'true'" FALSE "'false'"

%type <node> item block attr expr primary map_entry
%type <seq> body args arg_list list_items list_nonempty map_items map_nonempty

%left '+'

%%

file
	: body                  { ctx->top = $1; }
	;

body
	: %empty                { $$ = ast_seq_empty(); }
	| body item             { $$ = ast_seq_append($1, $2); }
	| body error            { $$ = $1; }
	;

item
	: block
	| attr
	| IMPORT STRING         { $$ = ast_import(A, @$, $2->u.str); }
	;

block
	: IDENT '{' body '}'
		{ $$ = ast_block(A, @$, $1, @1, NULL, @1, $3); }
	| IDENT IDENT '{' body '}'
		{ $$ = ast_block(A, @$, $1, @1, $2, @2, $4); }
	;

attr
	: IDENT '=' expr        { $$ = ast_attr(A, @$, $1, @1, $3); }
	;

expr
	: primary
	| expr '+' expr         { $$ = ast_concat(A, @$, $1, $3); }
	;

primary
	: STRING | INT | SIZE | DURATION | IPV4 | CIDR | ENDPOINT
	| TRUE                  { $$ = ast_bool(A, @$, true); }
	| FALSE                 { $$ = ast_bool(A, @$, false); }
	| IDENT                 { $$ = ast_ref(A, @$, $1); }
	| IDENT '(' args ')'    { $$ = ast_call(A, @$, $1, @1, $3); }
	| '[' list_items ']'    { $$ = ast_list(A, @$, AST_LIST, $2); }
	| '{' map_items '}'     { $$ = ast_list(A, @$, AST_MAP, $2); }
	/* A syntax error inside brackets resumes at the closing one, so one
	 * mistake in a map, list or call is one message (as jq's parser.y). */
	| IDENT '(' error ')'   { $$ = ast_syntax_error(A, @$); }
	| '[' error ']'         { $$ = ast_syntax_error(A, @$); }
	| '{' error '}'         { $$ = ast_syntax_error(A, @$); }
	;

args
	: %empty                { $$ = ast_seq_empty(); }
	| arg_list
	;

arg_list
	: expr                  { $$ = ast_seq_append(ast_seq_empty(), $1); }
	| arg_list ',' expr     { $$ = ast_seq_append($1, $3); }
	;

list_items
	: %empty                { $$ = ast_seq_empty(); }
	| list_nonempty
	| list_nonempty ','
	;

list_nonempty
	: expr                  { $$ = ast_seq_append(ast_seq_empty(), $1); }
	| list_nonempty expr    { $$ = ast_seq_append($1, $2); }
	| list_nonempty ',' expr { $$ = ast_seq_append($1, $3); }
	;

map_items
	: %empty                { $$ = ast_seq_empty(); }
	| map_nonempty
	| map_nonempty ','
	;

map_nonempty
	: map_entry             { $$ = ast_seq_append(ast_seq_empty(), $1); }
	| map_nonempty map_entry { $$ = ast_seq_append($1, $2); }
	| map_nonempty ',' map_entry { $$ = ast_seq_append($1, $3); }
	;

map_entry
	: IDENT '=' expr        { $$ = ast_attr(A, @$, $1, @1, $3); }
	| STRING '=' expr       { $$ = ast_attr(A, @$, $1->u.str, @1, $3); }
	;

%%

static void cc_yyerror(struct loc *loc, void *scanner, struct parse_ctx *ctx, const char *msg)
{
	(void)scanner;
	diag_error(ctx->diag, *loc, "C0117", "%s", msg);
}

/* Names a token for a message; identifiers and numbers show their text. */
static void describe_token(struct parse_ctx *ctx, yysymbol_kind_t tok, struct loc loc,
			   struct strbuf *sb)
{
	switch (tok) {
	case YYSYMBOL_IDENT:
	case YYSYMBOL_INT:
	case YYSYMBOL_SIZE:
	case YYSYMBOL_DURATION:
	case YYSYMBOL_IPV4:
	case YYSYMBOL_CIDR:
	case YYSYMBOL_ENDPOINT: {
		size_t n = loc.end - loc.start;
		strbuf_addf(sb, "%s '%.*s'", yysymbol_name(tok), (int)(n > 40 ? 40 : n),
			    ctx->text + loc.start);
		return;
	}
	default:
		strbuf_addstr(sb, yysymbol_name(tok));
	}
}

static int yyreport_syntax_error(const yypcontext_t *pc, void *scanner, struct parse_ctx *ctx)
{
	(void)scanner;
	struct strbuf sb = STRBUF_INIT;
	yysymbol_kind_t tok = yypcontext_token(pc);
	struct loc loc = *yypcontext_location(pc);
	if (ctx->too_deep) {
		/* The lexer ended the file early and said why. */
		strbuf_release(&sb);
		return 0;
	}
	XGROW(ctx->syntax_errors, ctx->syntax_errors_cap, ctx->nsyntax_errors + 1);
	ctx->syntax_errors[ctx->nsyntax_errors++] = loc.start;
	strbuf_addstr(&sb, "syntax error: unexpected ");
	describe_token(ctx, tok, loc, &sb);

	yysymbol_kind_t expected[YYNTOKENS];
	int n = yypcontext_expected_tokens(pc, expected, YYNTOKENS);
	bool value = false, ident = false;
	for (int i = 0; i < n; i++) {
		if (expected[i] == YYSYMBOL_STRING && n > 4)
			value = true;
		if (expected[i] == YYSYMBOL_IDENT)
			ident = true;
	}
	if (value) {
		/* Every literal kind is acceptable here; naming them all helps nobody. */
		strbuf_addstr(&sb, ", expected a value");
	} else if (n > 0 && n <= 4) {
		strbuf_addstr(&sb, ", expected ");
		for (int i = 0; i < n; i++) {
			if (i)
				strbuf_addstr(&sb, i == n - 1 ? " or " : ", ");
			strbuf_addstr(&sb, yysymbol_name(expected[i]));
		}
	} else if (ident) {
		strbuf_addstr(&sb, ", expected an attribute or a block");
	}
	diag_error(ctx->diag, loc, "C0117", "%s", sb.buf);
	strbuf_release(&sb);
	if (tok == YYSYMBOL_YYEOF && ctx->depth > 0) {
		struct loc open = ctx->open[ctx->depth - 1];
		char c = ctx->text[open.start];
		diag_note(ctx->diag, open, "to close the '%c' opened here", c);
	} else if (tok == YYSYMBOL_YYUNDEF) {
		/* the lexer already explained */
	}
	return 0;
}
