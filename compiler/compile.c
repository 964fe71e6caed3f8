#include "compile.h"
#include "check.h"
#include "resolve.h"

json_t *compile_file(const char *path, struct diag *d)
{
	struct unit u;
	unit_init(&u, d);
	json_t *model = NULL;
	if (resolve_file(&u, path)) {
		struct check_blocks b;
		check_schema(&u, &b);
		/* Cross-block rules run even after schema errors, so one run shows
		 * as much as it can; the model is only handed on when all is clean. */
		model = check_model(&u, &b);
		check_blocks_release(&b);
		if (diag_failed(d)) {
			json_decref(model);
			model = NULL;
		}
	}
	unit_release(&u);
	return model;
}
