/* build: from a checked model to OUTDIR/<cluster>/: the planner renders every
 * component's files and the step graph, model.json joins them, and the whole
 * set is written atomically. FIXME: wired to the planner once plan.c lands. */
#include "diag.h"

#include <jansson.h>

int build_model(json_t *model, const char *outdir, struct diag *d);

int build_model(json_t *model, const char *outdir, struct diag *d)
{
	(void)model;
	(void)outdir;
	diag_error(d, LOC_NONE, "build is not wired to the planner yet");
	return 1;
}
