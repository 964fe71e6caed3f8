/* compile: the front end as one call: resolve, check the schema, check the
 * cross-block rules, and return the resolved model (NULL on any error). Shared
 * by check, build, and the fuzzer. */
#ifndef CLUSTERC_COMPILE_H
#define CLUSTERC_COMPILE_H

#include <jansson.h>

#include "diag.h"

/* Returns the model the caller owns, or NULL; every problem is in d. */
json_t *compile_file(const char *path, struct diag *d);
/* The same, checked also against the cluster's previous build in outdir
 * (OUTDIR/<cluster>/model.json, when there is one): what a change from it
 * would ask of the running machines that they cannot do, such as skipping a
 * Kubernetes minor version, is an error at the attribute. */
json_t *compile_file_over(const char *path, const char *outdir, struct diag *d);
/* The same for text in memory, labelled `name` in diagnostics: no .env file,
 * no import, no file() (see resolve_buffer). For the fuzzer and tests. */
json_t *compile_buffer(const char *name, const char *text, size_t len, struct diag *d);

#endif
