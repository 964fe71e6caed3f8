/* model-dump: prints the resolved model of a .cluster file (compile_file), so
 * tests/addons can render the add-on templates against the real front end's
 * model before `clusterc build` writes model.json itself.
 *   model-dump FILE.cluster > model.json      exit 1 on diagnostics */
#include <jansson.h>
#include <stdio.h>

#include "compile.h"
#include "diag.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: model-dump FILE.cluster\n", stderr);
		return 2;
	}
	struct diag d;
	diag_init(&d);
	json_t *model = compile_file(argv[1], &d);
	diag_print(&d, stderr);
	int rc = 1;
	if (model) {
		rc = json_dumpf(model, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) ? 1 : 0;
		fputc('\n', stdout);
		json_decref(model);
	}
	diag_release(&d);
	return rc;
}
