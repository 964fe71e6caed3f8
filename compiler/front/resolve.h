/* resolve: turns a .cluster file into one flat, evaluated list of top-level
 * blocks. Follows imports (relative to the importing file, each file once,
 * cycles rejected), reads the .env files beside the cluster file (the process
 * environment wins), and evaluates env(), file(), secret() and string '+' in
 * place, so later passes see only literals, references and secrets. */
#ifndef CLUSTERC_RESOLVE_H
#define CLUSTERC_RESOLVE_H

#include <stdbool.h>

#include "arena.h"
#include "ast.h"
#include "diag.h"
#include "dotenv.h"
#include "parse.h"

struct unit {
	struct arena arena;
	struct diag *diag;
	struct ast_node **blocks;   /* top-level blocks in file order, imports expanded */
	size_t nblocks, blocks_cap;
	char *main_path;            /* the cluster file as named */
	char *main_dir;             /* its directory, for ~relative paths */
	struct dotenv dotenv;       /* from the .env files */
	char **env_files;           /* the .env files read */
	size_t nenv_files;
	char **missing_env;         /* env() names with no value and no default */
	size_t nmissing, missing_cap;
	bool no_disk;               /* resolve_buffer: no imports, no file() */
	const char *previous_dir;   /* OUTDIR of the previous build, or NULL */
};

void unit_init(struct unit *u, struct diag *d);
void unit_release(struct unit *u);
/* Loads, parses and evaluates path and everything it imports. Returns false
 * when the file cannot be read at all (other problems are diagnostics). */
bool resolve_file(struct unit *u, const char *path);
/* Like resolve_file for text held in memory (the fuzzer): name labels the
 * diagnostics; no .env file is read, and import and file() are refused, so
 * nothing on disk is touched. text need not be NUL-terminated. */
bool resolve_buffer(struct unit *u, const char *name, const char *text, size_t len);
/* Looks a name up as env() does: the process environment, then .env. */
const char *unit_getenv(const struct unit *u, const char *name);

#endif
