/* step_hash: a step's "hash" in plan.json, computed once here for the build
 * that writes it (back/step_graph.c) and the runner that checks it before
 * running anything (run/plan_verify.c): what was reviewed is what runs.
 * It covers the step's plan.json object without "hash" (sorted keys,
 * compact), then for every file it names (folders expanded, in path order)
 * its path, NUL, mode in octal, NUL, length in decimal, NUL, and its bytes. */
#ifndef CLUSTERC_STEP_HASH_H
#define CLUSTERC_STEP_HASH_H

#include <stddef.h>

#include <jansson.h>

#include "sha256.h"
#include "strbuf.h"

/* Starts c with the step's object (a "hash" member in it is left out). */
void step_hash_begin(struct sha256 *c, const json_t *step);
/* Adds one file the step names, after those before it in path order. */
void step_hash_file(struct sha256 *c, const char *path, unsigned mode, const void *data,
		    size_t len);
/* Appends "sha256:" and the hex digest to out. */
void step_hash_finish(struct sha256 *c, struct strbuf *out);

#endif
