/* tmpl: the template engine of stdlib/README.md ("Templates").
 *
 * Templates are compiled once into a tree and cached in a tmpl_engine, then
 * rendered many times (once per node for clusters of up to 10,000 nodes):
 * rendering walks the tree and appends to a strbuf, copying literal text by
 * offset, so it is linear in the size of the output and allocates only for
 * filter results and map iteration.
 *
 * The context is a jansson value (the resolved model) plus named bindings
 * (each-variables, or names a caller adds, such as "node"). A binding hides a
 * top-level key of the same name.
 *
 * Errors go to a struct diag: the template text is registered as a diag
 * source (only when the first error in it is reported), so messages print as
 * "stdlib/templates/x.sh:LINE:COL: error: ..." with the source line and a
 * caret. The source name is "stdlib/PATH", or "DIR/PATH" under --stdlib DIR.
 * Every function that can fail returns 0, or -1 after reporting at least one
 * error to d.
 *
 * Choices the contract leaves open, documented here:
 * - Escaping context: by extension (.sh, .yaml/.yml, .json, .toml); a file
 *   whose name ends in "user-data" or "meta-data" is YAML. An included
 *   template uses its own extension's context, or its includer's when it has
 *   none.
 * - Falsy: a missing path, null, false, 0, "", [] and {}.
 * - A filter applied to a missing value yields missing (an error only when it
 *   is inserted); on null, lower/upper/b64/join/indent/keys yield null and len
 *   yields 0. "x | default v" replaces missing or null.
 * - Comparisons: == and != treat missing as null; numbers compare by value,
 *   other values by type and content. <, <=, >, >= compare two numbers or two
 *   strings (bytewise); with a missing operand they are false; other mixes are
 *   errors.
 * - Inserting null prints "null" in YAML and JSON and is an error elsewhere;
 *   a list or map prints as flow JSON in YAML and JSON, as an array in TOML
 *   (lists only) and is an error in shell and raw text. Secret objects
 *   ({"secret": NAME}) are refused wherever they would be printed, also
 *   inside a list or map.
 * - "len" counts UTF-8 code points of a string, elements of a list or map.
 * - "indent N" does not indent empty lines (no trailing whitespace).
 * - A standalone {{> partial }} line indents every non-empty line of the
 *   partial by the tag's indentation (as in mustache).
 * - "{{{" is "{" followed by a tag: the language has no triple braces.
 * - Paths: NAME(.NAME|.INDEX)*, names [A-Za-z_][A-Za-z0-9_-]*; @index,
 *   @first, @last in an #each; literals "str", 'str', integers, true, false,
 *   null. "#each list as i, item" binds the index too; a map needs two names.
 * - Includes nest at most TMPL_MAX_INCLUDE deep. */
#ifndef CLUSTERC_TMPL_H
#define CLUSTERC_TMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "strbuf.h"

#define TMPL_MAX_INCLUDE 16

enum tmpl_ctx {
	TMPL_CTX_NONE,  /* unknown file type: inserting needs a filter */
	TMPL_CTX_SH,
	TMPL_CTX_YAML,
	TMPL_CTX_JSON,
	TMPL_CTX_TOML,
	/* Output paths (manifest "out"): values are inserted as they are but must
	 * be safe path segments (no '/', not "." or "..", not empty, no control
	 * characters), so a name cannot climb out of out/<cluster>/. */
	TMPL_CTX_PATH,
};

struct tmpl_binding {
	const char *name;
	const json_t *value;  /* borrowed for the duration of the call */
};

/* What a rendering read: each top-level name or scope variable the template
 * looked up, with the value it found (borrowed; valid while the model is).
 * Variables a template binds itself (#each ... as x) are not recorded: the list
 * they walk is. Provenance headers name the blocks these came from. */
struct tmpl_read {
	const char *name;
	const char *sub;      /* the path's second segment when it has one */
	const json_t *value;
	bool from_root;
};
struct tmpl_reads {
	struct tmpl_read *v;
	size_t n, cap;
};

struct tmpl_scope {
	const json_t *root;                /* top-level names; may be NULL */
	const struct tmpl_binding *vars;   /* searched last to first, before root */
	size_t nvars;
	struct tmpl_reads *reads;          /* when not NULL, lookups are recorded */
};

void tmpl_reads_release(struct tmpl_reads *r);
/* Appends src's reads to dst (both may be NULL, then nothing happens). */
void tmpl_reads_merge(struct tmpl_reads *dst, const struct tmpl_reads *src);

struct tmpl_engine;

struct tmpl_engine *tmpl_engine_new(void);
void tmpl_engine_free(struct tmpl_engine *e);

/* The escaping context for a template path (see above). */
enum tmpl_ctx tmpl_ctx_for_path(const char *path);

/* Renders the stdlib template PATH (read through stdlib_read, so --stdlib
 * overrides apply) and appends the result to out. On error out may hold a
 * partial rendering. */
int tmpl_render(struct tmpl_engine *e, const char *path, const struct tmpl_scope *scope,
		struct strbuf *out, struct diag *d);

/* Renders template text given inline, e.g. a manifest's "out" pattern; name
 * is what diagnostics call it. Compiled once per distinct (name, text, ctx). */
int tmpl_render_text(struct tmpl_engine *e, const char *name, const char *text,
		     enum tmpl_ctx ctx, const struct tmpl_scope *scope, struct strbuf *out,
		     struct diag *d);

/* Evaluates one expression (a manifest's "when", or the list of an "each").
 * *value gets a new reference the caller releases, or NULL when the
 * expression is a missing path. */
int tmpl_eval(struct tmpl_engine *e, const char *name, const char *expr,
	      const struct tmpl_scope *scope, json_t **value, struct diag *d);
/* Evaluates an expression as a condition (missing paths are false). */
int tmpl_eval_bool(struct tmpl_engine *e, const char *name, const char *expr,
		   const struct tmpl_scope *scope, bool *result, struct diag *d);

/* Truthiness as conditions see it; NULL (missing) is false. */
bool tmpl_truthy(const json_t *v);
/* True for {"secret": "NAME"}, the model's stand-in for a secret value. */
bool tmpl_is_secret(const json_t *v);

#endif
