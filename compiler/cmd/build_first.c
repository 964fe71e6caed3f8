/* build_first: the build a command runs when given a .cluster FILE where it
 * wants OUTDIR/<cluster> (plan, apply, drift, reset, graph, status, disconnect),
 * and on_built_dir, the folder-or-FILE dispatch those commands share. */
#include "build_first.h"
#include "commands.h"
#include "fsutil.h"
#include "strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *build_first(const char *file, char **tmpdir)
{
	struct strbuf t = STRBUF_INIT;
	const char *td = getenv("TMPDIR");
	td = td && *td ? td : "/tmp";
	/* A killed command leaves its build (it may hold rendered secrets);
	 * each build holds a lock on its own, so only the leftovers go. */
	rm_stale_trees(td, "clusterc-build-", 10);
	strbuf_addf(&t, "%s/clusterc-build-XXXXXX", td);
	if (!mkdtemp(t.buf)) {
		fprintf(stderr, "clusterc: cannot create a build directory: %s\n", strerror(errno));
		strbuf_release(&t);
		return NULL;
	}
	*tmpdir = strbuf_detach(&t, NULL);
	/* Held until this process ends (not closed on purpose): while it
	 * lives, no other command takes the folder for a leftover. */
	(void)lock_tree(*tmpdir);
	/* Quiet: against an empty folder the build summary says only "all new". */
	char *argv[] = { "build", (char *)file, "-o", *tmpdir, "--quiet", NULL };
	int rc = cmd_build(5, argv);
	if (rc != 0)
		return NULL;
	DIR *d = opendir(*tmpdir);
	char *found = NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "%s/%s/plan.json", *tmpdir, e->d_name);
		if (access(p.buf, R_OK) == 0 && !found) {
			strbuf_setlen(&p, p.len - strlen("/plan.json"));
			found = strbuf_detach(&p, NULL);
		}
		strbuf_release(&p);
	}
	if (d)
		closedir(d);
	if (!found)
		fprintf(stderr, "clusterc: the build of %s wrote no plan.json\n", file);
	return found;
}


int on_built_dir(const char *who, const char *target, built_dir_fn fn, void *arg)
{
	struct stat st;
	if (stat(target, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", who, target, strerror(errno));
		return 2;
	}
	if (S_ISDIR(st.st_mode))
		return fn(target, arg);
	char *tmp = NULL;
	char *dir = build_first(target, &tmp);
	int rc = dir ? fn(dir, arg) : 1;
	free(dir);
	if (tmp) {
		rm_rf(tmp);
		free(tmp);
	}
	return rc;
}
