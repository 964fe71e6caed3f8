/* status_cli: `clusterc status OUTDIR/<cluster> | FILE`: options, then
 * run_status() (compiler/run/status.c). Given FILE, it is built first into a
 * private temporary directory, as plan and apply do. */
#include "build_first.h"
#include "commands.h"
#include "run.h"

#include <stdio.h>
#include <string.h>

static const char STATUS_USAGE[] =
	"usage: clusterc status OUTDIR/<cluster> | FILE.cluster [options]\n"
	"\n"
	"Checks the running cluster against the file, on one screen: nodes Ready with\n"
	"their labels and taints, Cilium and its L2 leases, the storage classes,\n"
	"nvidia.com/gpu allocatable per GPU node, the ArgoCD applications synced and\n"
	"healthy, the alert path (Alertmanager, Matrix bridge, Matrix) up. Reads with\n"
	"kubectl on the first control node over the runner's pinned ssh; changes\n"
	"nothing. Exit status 0 when all is well, 1 when something is wrong, 2 when\n"
	"the cluster could not be read.\n"
	"\n"
	"options: --inventory FILE  --known-hosts FILE  --connect-timeout S\n"
	"         (as for apply; see clusterc apply --help)\n";

static int status_built(const char *dir, void *o)
{
	return run_status(o, dir);
}

int cmd_status(int argc, char **argv)
{
	struct run_opts o = { .connect_timeout = 10, .connect_retries = 0, .grace = 1,
			      .lock_stale = 3600, .reboot_timeout = 60, .jobs = 1 };
	const char *target = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (is_help_flag(a)) {
			fputs(STATUS_USAGE, stdout);
			return 0;
		}
		const char **val = !strcmp(a, "--inventory")     ? &o.inventory
				   : !strcmp(a, "--known-hosts") ? &o.known_hosts
								 : NULL;
		if (val || !strcmp(a, "--connect-timeout")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "clusterc: status: %s needs a value\n", a);
				return 2;
			}
			if (val)
				*val = argv[++i];
			else if ((o.connect_timeout = atoi(argv[++i])) <= 0) {
				fprintf(stderr, "clusterc: status: --connect-timeout needs seconds\n");
				return 2;
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "clusterc: status: unknown option '%s'\n%s", a, STATUS_USAGE);
			return 2;
		} else if (!target) {
			target = a;
		} else {
			fprintf(stderr, "clusterc: status takes one OUTDIR/<cluster> or FILE\n");
			return 2;
		}
	}
	if (!target) {
		fputs(STATUS_USAGE, stderr);
		return 2;
	}
	return on_built_dir("clusterc", target, status_built, &o);
}
