/* build: from a checked model to OUTDIR/<cluster>/: the planner renders every
 * component's files and the step graph, model.json joins them, and the whole
 * set is written atomically. Nothing is written unless every step succeeded. */
#include "build.h"
#include "build_summary.h"
#include "emit.h"
#include "fileset.h"
#include "plan.h"
#include "previous_build.h"
#include "removed_features.h"
#include "removed_nodes.h"
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

int build_model(json_t *model, const char *outdir, struct diag *d, struct strbuf *summary)
{
	struct fileset fs;
	fileset_init(&fs);
	int rc = 1;
	/* Under --werror the warnings below (C0612-C0614) are errors: stop before
	 * anything is written, as check does for the file's own warnings. */
	size_t errors_before = d->errors;
	/* Read once: the only record of the nodes and feature blocks since removed. */
	const char *cname = json_string_value(json_object_get(json_object_get(model, "cluster"), "name"));
	json_t *prev = previous_model_load(outdir, cname, d, "nodes and feature blocks removed from the file "
					   "since are not planned for removal");
	removed_nodes_add(model, prev, outdir, d);
	removed_features_add(model, prev);
	json_decref(prev);
	if (d->errors == errors_before && plan_build(model, &fs, d) == 0) {
		/* Sorted keys and a fixed indent: the same input gives the same bytes. */
		char *text = json_dumps(model, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_ENSURE_ASCII);
		struct strbuf sb = STRBUF_INIT, err = STRBUF_INIT;
		strbuf_addstr(&sb, text ? text : "null");
		strbuf_addch(&sb, '\n');
		free(text);
		size_t len;
		char *data = strbuf_detach(&sb, &len);
		if (fileset_add(&fs, "model.json", data, len, 0644, &err) < 0) {
			diag_error(d, LOC_NONE, "C0601", "cannot add model.json: %s", err.buf);
		} else {
			const char *name = json_string_value(json_object_get(json_object_get(model, "cluster"), "name"));
			fileset_sort(&fs);
			/* Against the old folder, so before the swap replaces it. */
			struct strbuf what = STRBUF_INIT, dir = STRBUF_INIT;
			strbuf_addf(&dir, "%s/%s", outdir, name ? name : "");
			if (summary)
				build_summary(dir.buf, &fs, &what);
			if (emit_write(outdir, name ? name : "", &fs, d) == 0) {
				rc = 0;
				if (summary)
					strbuf_add(summary, what.buf, what.len);
			}
			strbuf_release(&what);
			strbuf_release(&dir);
		}
		strbuf_release(&err);
	}
	fileset_release(&fs);
	return rc;
}
