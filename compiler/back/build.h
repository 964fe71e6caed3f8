/* build: the back half of `clusterc build`: plan, add model.json, emit. */
#ifndef CLUSTERC_BUILD_H
#define CLUSTERC_BUILD_H

#include <jansson.h>

#include "diag.h"

/* Returns 0 when OUTDIR/<cluster>/ was replaced, 1 after reporting to d. */
int build_model(json_t *model, const char *outdir, struct diag *d);

#endif
