/* cmd_build: the check and build commands. */
#include "build.h"
#include "commands.h"
#include "compile.h"
#include "diag.h"
#include "stdlib_data.h"
#include "strbuf.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fe_opts {
	bool werror;
	bool quiet;            /* build: no summary of what changed */
	size_t max_errors;
	const char *outdir;
	const char *stdlib;
	const char **files;
	size_t nfiles;
};

static int parse_opts(int argc, char **argv, struct fe_opts *o, bool one_file, void (*help)(FILE *))
{
	memset(o, 0, sizeof(*o));
	o->outdir = "out";
	o->files = xcalloc((size_t)argc, sizeof(char *));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (is_help_flag(a)) {
			help(stdout);
			return 0;
		} else if (!strcmp(a, "--werror") || !strcmp(a, "-Werror")) {
			o->werror = true;
		} else if (one_file && (!strcmp(a, "-q") || !strcmp(a, "--quiet"))) {
			o->quiet = true;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
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
	if (!o->nfiles || (one_file && o->nfiles > 1)) {
		help(stderr);
		return 2;
	}
	if (o->stdlib)
		stdlib_set_dir(o->stdlib);
	return -1;
}

static void check_help(FILE *out)
{
	fputs("usage: clusterc check FILE... [-o OUTDIR] [--werror] [--stdlib DIR] [--max-errors N]\n\n"
	      "Parses, resolves and checks each .cluster file and reports every problem\n"
	      "as FILE:LINE:COL, also against the cluster's previous build in OUTDIR\n"
	      "(default: out), as build does: a Kubernetes version change goes one minor\n"
	      "up at a time. Exit status: 0 clean, 1 problems found, 2 usage.\n", out);
}

static void build_help(FILE *out)
{
	fputs("usage: clusterc build FILE [-o OUTDIR] [--werror] [--stdlib DIR] [-q|--quiet]\n\n"
	      "Compiles FILE into OUTDIR/<cluster>/ (default OUTDIR: out): plan.json,\n"
	      "PLAN.md, model.json and every artifact its steps need. A failed build\n"
	      "writes nothing; a successful one replaces OUTDIR/<cluster>/ atomically\n"
	      "and prints what changed there: files added, changed and removed, and the\n"
	      "steps whose hash changed (--quiet: nothing).\n", out);
}

/* Compiles one file (checked against its previous build in previous_dir),
 * and builds it into outdir when outdir is given; prints every diagnostic. Returns the exit status. */
static int compile_one(const struct fe_opts *o, const char *file, const char *outdir,
		       const char *previous_dir)
{
	struct diag d;
	diag_init(&d);
	diag_set_color_auto(&d, stderr);
	d.werror = o->werror;
	d.max_errors = o->max_errors;
	/* check compares with the default or named OUTDIR too, so a file that
	 * checks clean also builds. */
	json_t *model = compile_file_over(file, previous_dir, &d);
	int rc = 1;
	struct strbuf summary = STRBUF_INIT;
	if (model)
		rc = outdir ? build_model(model, outdir, &d, o->quiet ? NULL : &summary) : 0;
	diag_print(&d, stderr);
	fputs(summary.buf, stdout);
	strbuf_release(&summary);
	json_decref(model);
	diag_release(&d);
	return rc;
}

static void finish_opts(struct fe_opts *o)
{
	free(o->files);
	stdlib_set_dir(NULL);
}

int cmd_check(int argc, char **argv)
{
	struct fe_opts o;
	int rc = parse_opts(argc, argv, &o, false, check_help);
	if (rc < 0) {
		rc = 0;
		for (size_t i = 0; i < o.nfiles; i++)
			if (compile_one(&o, o.files[i], NULL, o.outdir))
				rc = 1;
	}
	finish_opts(&o);
	return rc;
}

int cmd_build(int argc, char **argv)
{
	struct fe_opts o;
	int rc = parse_opts(argc, argv, &o, true, build_help);
	if (rc < 0)
		rc = compile_one(&o, o.files[0], o.outdir, o.outdir);
	finish_opts(&o);
	return rc;
}
