/* previous_build: the model.json the last successful build of a cluster left
 * in OUTDIR/<cluster>/, the only record of what the cluster was before this
 * edit: the nodes since removed from the file, the Kubernetes version its
 * machines run. */
#ifndef CLUSTERC_PREVIOUS_BUILD_H
#define CLUSTERC_PREVIOUS_BUILD_H

#include <jansson.h>

#include "diag.h"

/* The previous model, or NULL when there is none (the common case) or it is
 * not JSON; then, with d given, a warning saying what `consequence` is lost.
 * The caller owns the result. */
json_t *previous_model_load(const char *outdir, const char *cluster, struct diag *d,
			    const char *consequence);

#endif
