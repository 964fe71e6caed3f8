/* model: the resolved model as JSON, the template context of the back end
 * and out/<cluster>/model.json. model_build.c builds it from the blocks that
 * check_schema collected, applying the cross-block rules of check_model.c on
 * the way. */
#ifndef CLUSTERC_MODEL_H
#define CLUSTERC_MODEL_H

#include <jansson.h>

#include "check.h"

/* Returns the model (caller owns it), or NULL when anything was wrong. */
json_t *model_build(struct unit *u, const struct check_blocks *b);

#endif
