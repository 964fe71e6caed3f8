/* tmpl_internal: what the template engine's stages share (tmpl.h is the
 * public side). A template is read by tmpl_lex.c into tokens, built by
 * tmpl_parse.c into a tree, cached by tmpl_cache.c, and walked by
 * tmpl_render.c, which asks tmpl_eval.c for every value. */
#ifndef CLUSTERC_TMPL_INTERNAL_H
#define CLUSTERC_TMPL_INTERNAL_H

#include "tmpl.h"

#include <stdint.h>

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
#define F_COUNT ((size_t)F_KEYS + 1)
/* The filter names, indexed by enum filt (tmpl_parse.c). */
extern const char *const tmpl_filter_names[F_COUNT];
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


/* ---- expression tokens (tmpl_lex.c) ------------------------------------- */

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

/* ---- template tags (tmpl_lex.c) ----------------------------------------- */

enum tagkind { TAG_INSERT, TAG_COMMENT, TAG_IF, TAG_ELSE, TAG_ELSE_IF, TAG_END_IF, TAG_EACH,
	       TAG_END_EACH, TAG_INCLUDE };

struct tag {
	/* ---- template tags (tmpl_lex.c) ----------------------------------------- */

enum tagkind kind;
	size_t start, end;           /* "{{" .. past "}}" */
	size_t in_from, in_to;       /* the inside, after the keyword */
};


/* ---- values and scopes (tmpl_eval.c) ------------------------------------ */

/* An evaluated value: j is borrowed from the context or a literal unless own
 * holds the reference. j == NULL means a missing path; miss says which. */
struct val {
	const json_t *j;
	json_t *own;
	const struct expr *miss;
	bool final;      /* the chain ended in raw or a context filter */
	bool filtered;   /* the insertion named a filter */
};

struct var {
	const char *name;
	const json_t *value;
};

struct loop {
	size_t index, count;
};

/* The scope of one rendering or evaluation: the context root, the bindings
 * and the #each loops around the current point. */
struct render {
	struct tmpl_engine *e;
	struct diag *d;
	const json_t *root;
	struct var *vars;
	size_t nvars, vcap;
	struct loop *loops;
	size_t nloops, lcap;
	int depth;                 /* include depth */
	size_t nscope;             /* vars[0..nscope) came from the caller's scope */
	struct tmpl_reads *reads;  /* the caller's, or NULL */
};

/* ---- tmpl_cache.c: compiled templates and their sources ----------------- */

/* Whether d already holds t's text as a source. */
bool tmpl_registered_in(const struct tmpl *t, const struct diag *d);
/* A location in t's text, registering the text with d on first use. */
struct loc tmpl_loc(struct tmpl *t, struct diag *d, uint32_t off, uint32_t end);
__attribute__((format(printf, 5, 6)))
void tmpl_error(struct tmpl *t, struct diag *d, uint32_t off, uint32_t end, const char *fmt, ...);
size_t tmpl_line_of(const struct tmpl *t, uint32_t off);
/* Finds or compiles a template: kind 'f' a stdlib file (name its path), 's'
 * inline text, 'e' one expression. NULL after reporting; *missing (when not
 * NULL) says a stdlib file does not exist, which the caller reports. */
struct tmpl *tmpl_get(struct tmpl_engine *e, char kind, const char *name, const char *text,
		      enum tmpl_ctx ctx, struct diag *d, bool *missing);

/* ---- tmpl_lex.c: tokens --------------------------------------------------- */

/* Reports the parser's first error; later ones are dropped. */
__attribute__((format(printf, 4, 5)))
void tmpl_parse_error(struct parser *p, size_t off, size_t end, const char *fmt, ...);
bool tmpl_is_space(char c);
/* Reads the next token of [pos, end) into p->tok. */
void tmpl_lex(struct parser *p);
bool tmpl_tok_is(struct parser *p, const char *word);
const char *tmpl_tok_desc(struct parser *p, struct strbuf *sb);
void tmpl_expected(struct parser *p, const char *what);
bool tmpl_is_keyword(struct parser *p);
/* Reads the tag starting at "{{" at q. Returns false (after reporting) when
 * it is not closed or not known. */
bool tmpl_read_tag(struct parser *p, size_t q, struct tag *tg);
/* Whether tg stands alone on its line, and that line's bounds. */
bool tmpl_standalone(const struct tmpl *t, const struct tag *tg, size_t *line_start,
		     size_t *line_end);
const char *tmpl_tag_name(enum tagkind k);

/* ---- tmpl_parse.c: the compiled tree -------------------------------------- */

/* Compiles t->text into t->root (or t->expr); sets t->failed after reporting. */
void tmpl_compile(struct tmpl *t, struct diag *d);
void tmpl_expr_free(struct expr *e);
void tmpl_body_free(struct body *b);

/* ---- tmpl_eval.c: values -------------------------------------------------- */

int tmpl_eval_expr(struct render *r, struct tmpl *t, const struct expr *e, struct val *out);
void tmpl_val_release(struct val *v);
const char *tmpl_type_name(const json_t *v);
void tmpl_push_var(struct render *r, const char *name, const json_t *v);
void tmpl_report_missing(struct render *r, struct tmpl *t, const struct expr *e);
/* tmpl_eval_expr for a value that must be there: a missing one is reported
 * (tmpl_report_missing) and, like an error, returns -1 with out released. */
int tmpl_eval_present(struct render *r, struct tmpl *t, const struct expr *e, struct val *out);
/* Writes v escaped for ctx. */
int tmpl_emit_value(struct render *r, struct tmpl *t, const struct expr *at, const json_t *v,
		    enum tmpl_ctx ctx, struct strbuf *sb);
/* A map's keys, sorted; the caller frees the array (not the strings). */
const char **tmpl_sorted_keys(const json_t *obj, size_t *n);

#endif
