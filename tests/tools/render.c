/* render: prints one stdlib template rendered against a model, for template
 * authors working before the whole compiler does.
 *   render [--stdlib DIR] --context model.json TEMPLATE_PATH [--set NAME=FILE.json]...
 * TEMPLATE_PATH is relative to the stdlib (templates/...). Each --set binds
 * NAME to the JSON in FILE (e.g. --set node=node.json); NAME=@nodes.0 binds
 * NAME to a value of the context instead, so --set node=@nodes.1 renders a
 * per-node template for the second node. Exit status: 0 ok, 1 template
 * errors, 2 usage or unreadable input. */
#include "diag.h"
#include "stdlib_data.h"
#include "strbuf.h"
#include "tmpl.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	fputs("usage: render [--stdlib DIR] --context MODEL.json TEMPLATE_PATH "
	      "[--set NAME=FILE.json | --set NAME=@PATH]...\n", stderr);
}

static json_t *load_json(const char *path)
{
	json_error_t err;
	json_t *j = json_load_file(path, JSON_DECODE_ANY, &err);
	if (!j)
		fprintf(stderr, "render: %s:%d:%d: %s\n", path, err.line, err.column, err.text);
	return j;
}

int main(int argc, char **argv)
{
	const char *ctx_path = NULL, *tpath = NULL;
	char **set_names = xcalloc((size_t)argc, sizeof(*set_names));
	char **set_values = xcalloc((size_t)argc, sizeof(*set_values));
	size_t nset = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--stdlib") && i + 1 < argc) {
			stdlib_set_dir(argv[++i]);
		} else if (!strcmp(argv[i], "--context") && i + 1 < argc) {
			ctx_path = argv[++i];
		} else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
			char *eq = strchr(argv[++i], '=');
			if (!eq || eq == argv[i]) {
				usage();
				return 2;
			}
			set_names[nset] = xstrndup(argv[i], (size_t)(eq - argv[i]));
			set_values[nset++] = eq + 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage();
			return 0;
		} else if (argv[i][0] == '-' || tpath) {
			usage();
			return 2;
		} else {
			tpath = argv[i];
		}
	}
	if (!ctx_path || !tpath) {
		usage();
		return 2;
	}
	json_t *model = load_json(ctx_path);
	if (!model)
		return 2;
	int rc = 0;
	struct diag d;
	diag_init(&d);
	diag_set_color_auto(&d, stderr);
	struct tmpl_engine *e = tmpl_engine_new();
	struct tmpl_binding *vars = xcalloc(nset + 1, sizeof(*vars));
	json_t **owned = xcalloc(nset + 1, sizeof(*owned));
	for (size_t i = 0; i < nset && !rc; i++) {
		if (set_values[i][0] == '@') {
			struct tmpl_scope sc = { .root = model };
			if (tmpl_eval(e, "--set", set_values[i] + 1, &sc, &owned[i], &d))
				rc = 1;
			else if (!owned[i]) {
				fprintf(stderr, "render: --set %s: '%s' is not in the context\n",
					set_names[i], set_values[i] + 1);
				rc = 2;
			}
		} else {
			owned[i] = load_json(set_values[i]);
			if (!owned[i])
				rc = 2;
		}
		vars[i].name = set_names[i];
		vars[i].value = owned[i];
	}
	struct strbuf out = STRBUF_INIT;
	if (!rc) {
		struct tmpl_scope sc = { .root = model, .vars = vars, .nvars = nset };
		if (tmpl_render(e, tpath, &sc, &out, &d))
			rc = 1;
		else
			fwrite(out.buf, 1, out.len, stdout);
	}
	if (diag_failed(&d))
		diag_print(&d, stderr);
	strbuf_release(&out);
	for (size_t i = 0; i < nset; i++) {
		json_decref(owned[i]);
		free(set_names[i]);
	}
	free(owned);
	free(vars);
	free(set_names);
	free(set_values);
	tmpl_engine_free(e);
	diag_release(&d);
	json_decref(model);
	stdlib_set_dir(NULL);
	return rc;
}
