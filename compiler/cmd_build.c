/* cmd_build: the check and build commands. */
#include "commands.h"
#include "compile.h"
#include "diag.h"
#include "stdlib_data.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fe_opts {
	bool werror;
	size_t max_errors;
	const char *outdir;
	const char *stdlib;
	const char **files;
	size_t nfiles;
};

static int parse_opts(int argc, char **argv, struct fe_opts *o, bool allow_out, void (*help)(FILE *))
{
	memset(o, 0, sizeof(*o));
	o->outdir = "out";
	o->files = calloc((size_t)argc, sizeof(char *));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (is_help_flag(a)) {
			help(stdout);
			return 0;
		} else if (!strcmp(a, "--werror") || !strcmp(a, "-Werror")) {
			o->werror = true;
		} else if (allow_out && (!strcmp(a, "-o") || !strcmp(a, "--out"))) {
			if (++i >= argc)
				goto missing;
			o->outdir = argv[i];
		} else if (!strcmp(a, "--stdlib")) {
			if (++i >= argc)
				goto missing;
			o->stdlib = argv[i];
		} else if (!strcmp(a, "--max-errors")) {
			if (++i >= argc)
				goto missing;
			o->max_errors = strtoul(argv[i], NULL, 10);
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "clusterc %s: unknown option '%s'\n", argv[0], a);
			help(stderr);
			return 2;
		} else {
			o->files[o->nfiles++] = a;
		}
		continue;
	missing:
		fprintf(stderr, "clusterc %s: option '%s' needs a value\n", argv[0], a);
		return 2;
	}
	if (!o->nfiles || (allow_out && o->nfiles > 1)) {
		help(stderr);
		return 2;
	}
	if (o->stdlib)
		stdlib_set_dir(o->stdlib);
	return -1;
}

static void check_help(FILE *out)
{
	fputs("usage: clusterc check FILE... [--werror] [--stdlib DIR] [--max-errors N]\n\n"
	      "Parses, resolves and checks each .cluster file and reports every problem\n"
	      "as FILE:LINE:COL. Exit status: 0 clean, 1 problems found, 2 usage.\n", out);
}

static void build_help(FILE *out)
{
	fputs("usage: clusterc build FILE [-o OUTDIR] [--werror] [--stdlib DIR]\n\n"
	      "Compiles FILE into OUTDIR/<cluster>/ (default OUTDIR: out): plan.json,\n"
	      "model.json and every artifact its steps need. A failed build writes\n"
	      "nothing; a successful one replaces OUTDIR/<cluster>/ atomically.\n", out);
}

static struct diag *new_diag(const struct fe_opts *o)
{
	struct diag *d = malloc(sizeof(*d));
	if (!d)
		exit(2);
	diag_init(d);
	diag_set_color_auto(d, stderr);
	d->werror = o->werror;
	d->max_errors = o->max_errors;
	return d;
}

int cmd_check(int argc, char **argv)
{
	struct fe_opts o;
	int rc = parse_opts(argc, argv, &o, false, check_help);
	if (rc >= 0) {
		free(o.files);
		return rc;
	}
	rc = 0;
	for (size_t i = 0; i < o.nfiles; i++) {
		struct diag *d = new_diag(&o);
		json_t *model = compile_file(o.files[i], d);
		diag_print(d, stderr);
		if (!model)
			rc = 1;
		json_decref(model);
		diag_release(d);
		free(d);
	}
	free(o.files);
	stdlib_set_dir(NULL);
	return rc;
}

int build_model(json_t *model, const char *outdir, struct diag *d);

int cmd_build(int argc, char **argv)
{
	struct fe_opts o;
	int rc = parse_opts(argc, argv, &o, true, build_help);
	if (rc >= 0) {
		free(o.files);
		return rc;
	}
	struct diag *d = new_diag(&o);
	json_t *model = compile_file(o.files[0], d);
	rc = 1;
	if (model)
		rc = build_model(model, o.outdir, d);
	diag_print(d, stderr);
	json_decref(model);
	diag_release(d);
	free(d);
	free(o.files);
	stdlib_set_dir(NULL);
	return rc;
}
