/* cmd_disconnect: the disconnect command, which closes the ssh masters that
 * plan and apply keep between runs for one cluster (run/ssh_keep.h). */
#include "build_first.h"
#include "commands.h"
#include "run.h"
#include "ssh_keep.h"
#include "strbuf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void disconnect_help(FILE *out)
{
	fputs("usage: clusterc disconnect OUTDIR/<cluster> | FILE.cluster [-q]\n\n"
	      "Closes the ssh connections that plan and apply keep open between runs\n"
	      "(10 minutes after their last use) for the cluster, and removes their\n"
	      "directory ($XDG_RUNTIME_DIR/clusterc/, else ~/.cache/clusterc-ssh/).\n"
	      "CLUSTERC_SSH_KEEP=0 in the environment makes plan and apply keep none.\n\n"
	      "  -q, --quiet   print nothing but errors\n", out);
}

static int disconnect_dir(const char *dir, bool quiet)
{
	struct run_plan p;
	struct strbuf err = STRBUF_INIT;
	if (run_plan_load(&p, dir, &err) < 0) {
		fprintf(stderr, "clusterc disconnect: %s\n", err.buf);
		strbuf_release(&err);
		return 2;
	}
	int n = keep_disconnect(p.cluster, quiet, &err);
	if (n < 0)
		fprintf(stderr, "clusterc disconnect: %s\n", err.buf);
	else if (!quiet)
		printf("%d connection%s of cluster %s closed\n", n, n == 1 ? "" : "s", p.cluster);
	run_plan_release(&p);
	strbuf_release(&err);
	return n < 0 ? 2 : 0;
}

static int disconnect_built(const char *dir, void *quiet)
{
	return disconnect_dir(dir, *(bool *)quiet);
}

int cmd_disconnect(int argc, char **argv)
{
	const char *target = NULL;
	bool quiet = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (is_help_flag(a)) {
			disconnect_help(stdout);
			return 0;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = true;
		} else if ((a[0] == '-' && a[1]) || target) {
			disconnect_help(stderr);
			return 2;
		} else {
			target = a;
		}
	}
	if (!target) {
		disconnect_help(stderr);
		return 2;
	}
	return on_built_dir("clusterc disconnect", target, disconnect_built, &quiet);
}
