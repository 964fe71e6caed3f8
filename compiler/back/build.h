/* build: the back half of `clusterc build`: plan, add model.json, emit. */
#ifndef CLUSTERC_BUILD_H
#define CLUSTERC_BUILD_H

#include <jansson.h>

#include "diag.h"
#include "strbuf.h"

/* Returns 0 when OUTDIR/<cluster>/ was replaced, 1 after reporting to d.
 * With summary, appends what the build changed there (build_summary.h). */
int build_model(json_t *model, const char *outdir, struct diag *d, struct strbuf *summary);

#endif
