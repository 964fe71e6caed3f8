/* compile: the front end as one call: resolve, check the schema, check the
 * cross-block rules, and return the resolved model (NULL on any error). Shared
 * by check, build, and the fuzzer. */
#ifndef CLUSTERC_COMPILE_H
#define CLUSTERC_COMPILE_H

#include <jansson.h>

#include "diag.h"

/* Returns the model the caller owns, or NULL; every problem is in d. */
json_t *compile_file(const char *path, struct diag *d);
/* The same for text in memory, labelled `name` in diagnostics: no .env file,
 * no import, no file() (see resolve_buffer). For the fuzzer and tests. */
json_t *compile_buffer(const char *name, const char *text, size_t len, struct diag *d);

#endif
