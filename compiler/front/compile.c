#include "compile.h"
#include "check.h"
#include "model.h"
#include "resolve.h"

static json_t *compile_unit(struct unit *u, bool resolved)
{
	struct diag *d = u->diag;
	json_t *model = NULL;
	if (resolved) {
		struct check_blocks b;
		check_schema(u, &b);
		/* Cross-block rules run even after schema errors, so one run shows
		 * as much as it can; the model is only handed on when all is clean. */
		model = model_build(u, &b);
		check_blocks_release(&b);
		if (diag_failed(d)) {
			json_decref(model);
			model = NULL;
		}
	}
	unit_release(u);
	return model;
}

json_t *compile_file_over(const char *path, const char *outdir, struct diag *d)
{
	struct unit u;
	unit_init(&u, d);
	u.previous_dir = outdir;
	bool ok = resolve_file(&u, path);
	return compile_unit(&u, ok);
}

json_t *compile_file(const char *path, struct diag *d)
{
	return compile_file_over(path, NULL, d);
}

json_t *compile_buffer(const char *name, const char *text, size_t len, struct diag *d)
{
	struct unit u;
	unit_init(&u, d);
	bool ok = resolve_buffer(&u, name, text, len);
	return compile_unit(&u, ok);
}
