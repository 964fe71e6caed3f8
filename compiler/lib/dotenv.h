/* dotenv: the one reader of `.env` files, used by `build` (env() and
 * secret() values) and by `apply` (the secrets a step receives), so the two
 * can never read the same file differently.
 *
 * The format is the subset docker compose and python-dotenv agree on:
 *   # a comment line             blank lines are skipped
 *   NAME=value                   NAME is [A-Za-z_][A-Za-z0-9_]*
 *   export NAME = value          `export` and blanks around '=' are accepted
 *   NAME=value # a comment       an unquoted value ends at a blank before '#';
 *                                its trailing blanks go
 *   NAME='literal # $ \n'        single quotes: every byte as written
 *   NAME="a\"b\n"                double quotes: \\ \" \' \n \t \r are escapes,
 *                                any other backslash stays as written
 * After a closing quote only blanks or a `# comment` may follow. A UTF-8 byte
 * order mark at the start and CR before each LF (files saved on Windows) are
 * accepted. There is no ${VAR} interpolation: a value is what the file says,
 * so a '$' in a password stays a '$'. A later assignment of a name wins.
 *
 * Every line that is none of these is an error located by line and byte
 * column; an error message never contains a value, since values are secrets. */
#ifndef CLUSTERC_DOTENV_H
#define CLUSTERC_DOTENV_H

#include "strbuf.h"

#include <stddef.h>

struct dotenv_var {
	char *name;
	char *value;
};

/* The variables of one or more files, in first-assignment order. */
struct dotenv {
	struct dotenv_var *vars;
	size_t n, cap;
};

#define DOTENV_INIT { NULL, 0, 0 }

/* One malformed line. Offsets count bytes of the text after a leading byte
 * order mark, the text dotenv_mask returns; line and col are 1-based, col in
 * bytes (as the compiler's diagnostics count them). */
struct dotenv_error {
	size_t start, end;   /* the offending span, within one line */
	unsigned line, col;
	const char *reason;  /* says what is wrong, never quotes the value */
	const char *hint;    /* how to write it instead */
};

typedef void dotenv_error_fn(void *ctx, const struct dotenv_error *e);

/* Adds the assignments in text to env (a name already there is replaced).
 * Calls on_error (which may be NULL) once per malformed line and skips that
 * line. Returns the number of malformed lines. */
size_t dotenv_parse(struct dotenv *env, const char *text, size_t len, dotenv_error_fn *on_error,
		    void *ctx);

/* Reads path into env. Returns 0, or -1 with err holding "cannot read ..." or
 * one "path:line:col: reason" line per malformed line; env then holds the
 * well-formed lines, and a caller should use none of them. */
int dotenv_load_file(struct dotenv *env, const char *path, struct strbuf *err);

/* The .env files beside a cluster file, in the order they are read: ".env",
 * then "<stem>.env" (a.cluster reads a.env), whose assignments win. Both
 * strings are the caller's to free. */
void dotenv_cluster_paths(const char *cluster_path, char **generic, char **specific);

/* Called once for each file dotenv_read_cluster reads, with its text as read,
 * before any of its lines is parsed: the errors that follow are in path. */
typedef void dotenv_file_fn(void *ctx, const char *path, const char *text, size_t len);

/* The one decision of which .env files a cluster file has, for build and
 * apply alike: reads dotenv_cluster_paths(cluster_path) in order into env, so
 * a later file wins (a file that cannot be read is skipped, as a missing one
 * is). on_file and on_error may be NULL. Returns the number of malformed
 * lines. The process environment is not consulted: each consumer looks a name
 * up there first (the environment wins over every .env file). */
size_t dotenv_read_cluster(struct dotenv *env, const char *cluster_path, dotenv_file_fn *on_file,
			   dotenv_error_fn *on_error, void *ctx);

/* dotenv_read_cluster with errors as dotenv_load_file writes them: returns
 * the number of files read (0, 1 or 2), or -1 with err holding one
 * "path:line:col: reason (hint)" line per malformed line. */
int dotenv_load_cluster(struct dotenv *env, const char *cluster_path, struct strbuf *err);

/* Appends env as .env text that dotenv_parse reads back to the same names
 * and values, in the same order: NAME="value" with \\ \" \n \r \t escaped.
 * out then holds secrets: release it with strbuf_wipe. */
void dotenv_format(const struct dotenv *env, struct strbuf *out);

/* The value of name, or NULL. */
const char *dotenv_get(const struct dotenv *env, const char *name);
/* The value a consumer of the .env files uses: the process environment's,
 * which wins, else env's, else NULL. */
const char *dotenv_lookup(const struct dotenv *env, const char *name);

/* A copy of text without its byte order mark, every value byte replaced by
 * '*' (on each line, what follows the first '=' and its blanks, quotes
 * around it excepted; on a line with no '=', what follows the name), the
 * same length: what a diagnostic may show
 * of a .env file without showing a secret. *out_len receives the length. */
char *dotenv_mask(const char *text, size_t len, size_t *out_len);

/* Frees every name and value, wiping the values first. */
void dotenv_release(struct dotenv *env);

#endif
