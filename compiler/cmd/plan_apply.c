/* run_cli: the `plan`, `apply`, `drift` and `reset` commands: options, then run_execute().
 *
 * Given a .cluster FILE instead of OUTDIR/<cluster>, both build it first into
 * a private temporary directory (cmd_build), run from there, and remove it:
 * the committed out/ is never rewritten behind the reviewer's back.
 *
 * Confirmation: on a terminal (stdin and stdout are ttys), apply shows the
 * steps it would run and asks before changing anything, unless --yes. Without
 * a terminal it proceeds, so CI and scripts need no flag; --dry-run shows the
 * plan and changes nothing. */
#include "apply_env.h"
#include "build_first.h"
#include "commands.h"
#include "run.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char PLAN_USAGE[] =
	"usage: clusterc plan OUTDIR/<cluster> | FILE.cluster [options]\n"
	"\n"
	"Shows what apply would run and why: each step is new (the host has no\n"
	"record of it), changed (the host ran another version), done (the host\n"
	"remembers this hash: apply skips it), rerun (done, but a later step needs a\n"
	"value it prints) or unknown (the host could not be read). Reads host state\n"
	"over SSH; takes no lock and changes nothing.\n"
	"\n"
	"options: --only PHASE,...  --limit NODE,...  --force  --inventory FILE\n"
	"         --known-hosts FILE  --connect-timeout S  --retries N\n"
	"         (as for apply; see clusterc apply --help)\n";

static const char APPLY_USAGE[] =
	"usage: clusterc apply OUTDIR/<cluster> | FILE.cluster [options]\n"
	"\n"
	"Runs the built cluster's steps over SSH in dependency order, in parallel,\n"
	"skipping steps whose hash the host remembers. A failing step stops only what\n"
	"depends on it; the run ends with a summary and exit status 1. A re-run resumes.\n"
	"\n"
	"  -j, --jobs N           at most N steps at once (default 32)\n"
	"  --only PHASE,...       only steps of these phases (e.g. --only apps)\n"
	"  --limit NODE,...       only steps on these nodes ('local' for local steps)\n"
	"  --force                run steps even when the host has their hash\n"
	"  --destroy              also run the steps that stop and destroy the VMs of\n"
	"                         nodes removed from the file (without it they are held)\n"
	"  --inventory FILE       how to reach each node (address, port, user, key,\n"
	"                         known_hosts, proxy_jump); every node must be listed\n"
	"  --known-hosts FILE     pinned host keys when the inventory names none\n"
	"                         (default: plan.json \"known_hosts\", else\n"
	"                         $XDG_STATE_HOME/clusterc/<cluster>/known_hosts)\n"
	"  --env FILE             secrets as KEY=VALUE lines (the environment wins;\n"
	"                         given FILE.cluster, default: what build reads, .env\n"
	"                         then <stem>.env beside it, the second winning)\n"
	"  --dry-run              show the plan, change nothing\n"
	"  -y, --yes              do not ask on a terminal (never asked without one)\n"
	"  --artifacts DIR        where run logs go (default ./artifacts)\n"
	"  --keep-runs N          keep the N newest runs there (default 10)\n"
	"  --grace S              seconds between TERM and KILL, and for running steps\n"
	"                         to finish after Ctrl-C (default 10)\n"
	"  --connect-timeout S    ssh ConnectTimeout (default 10)\n"
	"  --retries N            reconnect attempts for an unreachable host (default 3)\n"
	"  --reboot-timeout S     how long a rebooting host may take (default 600)\n"
	"  --lock-stale S         a host lock older than this is stale (default 21600)\n"
	"  --break-lock           take over a lock another apply holds\n"
	"  -q, --quiet            print only failures and the summary\n";

static const char DRIFT_USAGE[] =
	"usage: clusterc drift OUTDIR/<cluster> | FILE.cluster [options]\n"
	"\n"
	"Runs every node and cluster step's checks on its host without changing\n"
	"anything (check-only mode), whatever the host remembers, and reports per\n"
	"host what differs from the built artifacts: files, packages, services,\n"
	"node labels and taints, firewall rules, Kubernetes objects. Takes no lock\n"
	"and records nothing; local and builtin steps are not checked.\n"
	"Exit status: 0 no drift, 2 drift, 1 a check could not run.\n"
	"\n"
	"options: --only PHASE,...  --limit NODE,...  -j N  --inventory FILE\n"
	"         --known-hosts FILE  --env FILE  --artifacts DIR  --keep-runs N\n"
	"         --grace S  --connect-timeout S  --retries N  -q\n"
	"         (as for apply; see clusterc apply --help)\n";

static const char RESET_USAGE[] =
	"usage: clusterc reset OUTDIR/<cluster> | FILE.cluster NODE... | --all [options]\n"
	"\n"
	"Undoes kubeadm on the nodes named (every node with --all): kubeadm reset -f,\n"
	"the CNI configuration, the iptables and IPVS rules, root's kubeconfig, and\n"
	"clusterc's records there, so the next apply sets them up from the start.\n"
	"Workers first, then the control nodes. It says what is lost and asks on a\n"
	"terminal; without one it is refused unless --yes.\n"
	"\n"
	"options: --all  -y, --yes  --inventory FILE  --known-hosts FILE  --env FILE\n"
	"         --artifacts DIR  --keep-runs N  --grace S  --connect-timeout S\n"
	"         --retries N  --lock-stale S  --break-lock  -q\n"
	"         (as for apply; see clusterc apply --help)\n";

enum run_cmd { RUN_PLAN, RUN_APPLY, RUN_DRIFT, RUN_RESET };

static void split_list(const char *arg, char ***out, size_t *n)
{
	char *copy = xstrdup(arg);
	for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
		*out = xrealloc(*out, (*n + 1) * sizeof(char *));
		(*out)[(*n)++] = xstrdup(tok);
	}
	free(copy);
}

static int parse_num(const char *opt, const char *v, double min, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v ? v : "", &end);
	if (!v || !*v || *end || errno || d < min) {
		fprintf(stderr, "clusterc: %s needs a number >= %g\n", opt, min);
		return -1;
	}
	*out = d;
	return 0;
}

static int run_cmd(int argc, char **argv, enum run_cmd which)
{
	bool apply = which != RUN_PLAN;
	const char *usage = which == RUN_DRIFT ? DRIFT_USAGE : which == RUN_RESET ? RESET_USAGE
			    : apply ? APPLY_USAGE : PLAN_USAGE;
	struct run_opts o;
	memset(&o, 0, sizeof(o));
	o.apply = apply;
	o.check = which == RUN_DRIFT;
	o.reset = which == RUN_RESET;
	bool limited = false; /* --only or --limit given */
	o.jobs = 32;
	o.artifacts = "artifacts";
	o.keep_runs = 10;
	o.connect_timeout = 10;
	o.connect_retries = 3;
	o.grace = 10;
	o.lock_stale = 6 * 3600;
	o.reboot_timeout = 600;
	const char *target = NULL;
	/* drift's 2 means drift: a cron job must not read a usage error as one */
	int bad_use = which == RUN_DRIFT ? 1 : 2, status = bad_use;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		double d;
#define NEEDV()                                                                   \
	do {                                                                      \
		if (!v) {                                                         \
			fprintf(stderr, "clusterc: %s needs a value\n", a);       \
			goto out;                                                 \
		}                                                                 \
		i++;                                                              \
	} while (0)
		if (is_help_flag(a)) {
			fputs(usage, stdout);
			status = 0;
			goto out;
		} else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
			NEEDV();
			if (parse_num(a, v, 1, &d) < 0)
				goto out;
			o.jobs = (int)d;
		} else if (!strncmp(a, "-j", 2) && a[2]) {
			if (parse_num("-j", a + 2, 1, &d) < 0)
				goto out;
			o.jobs = (int)d;
		} else if (!strcmp(a, "--only")) {
			NEEDV();
			split_list(v, &o.only, &o.nonly);
			limited = true;
		} else if (!strcmp(a, "--limit")) {
			NEEDV();
			split_list(v, &o.limit, &o.nlimit);
			limited = true;
		} else if (o.reset && !strcmp(a, "--all")) {
			o.all_nodes = true;
		} else if (!strcmp(a, "--force")) {
			o.force = true;
		} else if (!strcmp(a, "--destroy")) {
			o.destroy = true;
		} else if (!strcmp(a, "--inventory")) {
			NEEDV();
			o.inventory = v;
		} else if (!strcmp(a, "--known-hosts")) {
			NEEDV();
			o.known_hosts = v;
		} else if (!strcmp(a, "--env")) {
			NEEDV();
			o.env_file = v;
		} else if (!strcmp(a, "--dry-run")) {
			o.dry_run = true;
		} else if (!strcmp(a, "--yes") || !strcmp(a, "-y")) {
			o.yes = true;
		} else if (!strcmp(a, "--artifacts")) {
			NEEDV();
			o.artifacts = v;
		} else if (!strcmp(a, "--keep-runs")) {
			NEEDV();
			if (parse_num(a, v, 1, &d) < 0)
				goto out;
			o.keep_runs = (int)d;
		} else if (!strcmp(a, "--grace")) {
			NEEDV();
			if (parse_num(a, v, 0, &o.grace) < 0)
				goto out;
		} else if (!strcmp(a, "--connect-timeout")) {
			NEEDV();
			if (parse_num(a, v, 1, &d) < 0)
				goto out;
			o.connect_timeout = (int)d;
		} else if (!strcmp(a, "--retries")) {
			NEEDV();
			if (parse_num(a, v, 0, &d) < 0)
				goto out;
			o.connect_retries = (int)d;
		} else if (!strcmp(a, "--reboot-timeout")) {
			NEEDV();
			if (parse_num(a, v, 1, &o.reboot_timeout) < 0)
				goto out;
		} else if (!strcmp(a, "--lock-stale")) {
			NEEDV();
			if (parse_num(a, v, 0, &o.lock_stale) < 0)
				goto out;
		} else if (!strcmp(a, "--break-lock")) {
			o.break_lock = true;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o.quiet = true;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "clusterc: %s: unknown option '%s' (see clusterc %s --help)\n",
				argv[0], a, argv[0]);
			goto out;
		} else if (!target) {
			target = a;
		} else if (o.reset) {
			split_list(a, &o.nodes, &o.nnodes); /* the nodes to reset */
		} else {
			fprintf(stderr, "clusterc: %s takes one OUTDIR/<cluster> or FILE\n", argv[0]);
			goto out;
		}
#undef NEEDV
	}
	if (!target) {
		fputs(usage, stderr);
		goto out;
	}
	if (o.reset && (limited || o.force || o.destroy || o.dry_run)) {
		fprintf(stderr, "clusterc: reset takes the nodes as arguments: --only, --limit, "
			"--force, --destroy and --dry-run are apply's options\n");
		goto out;
	}
	if (o.reset && !o.all_nodes == !o.nnodes) {
		fprintf(stderr, "clusterc: reset needs the nodes to reset, or --all (not both)\n");
		goto out;
	}
	if (o.check && (o.force || o.destroy || o.dry_run || o.yes || o.break_lock)) {
		fprintf(stderr, "clusterc: drift changes nothing: --force, --destroy, --dry-run, "
			"--yes and --break-lock are apply's options\n");
		goto out;
	}
	struct stat st;
	if (stat(target, &st) < 0) {
		fprintf(stderr, "clusterc: %s: %s\n", target, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		status = run_execute(&o, target);
	} else {
		char *tmp = NULL;
		char *dir = build_first(target, &tmp);
		/* Secrets come from the same .env files the build read (the
		 * environment still wins), unless --env names another file. */
		struct apply_env env = APPLY_ENV_INIT;
		struct strbuf err = STRBUF_INIT;
		if (dir && !o.env_file && apply_env_open(&env, target, &err) < 0) {
			fprintf(stderr, "clusterc: %s\n", err.buf);
			status = bad_use;
		} else if (dir) {
			if (env.path)
				o.env_file = env.path;
			status = run_execute(&o, dir);
		} else {
			status = 1;
		}
		apply_env_close(&env);
		strbuf_release(&err);
		free(dir);
		if (tmp) {
			rm_rf(tmp);
			free(tmp);
		}
	}
out:
	for (size_t i = 0; i < o.nonly; i++)
		free(o.only[i]);
	free(o.only);
	for (size_t i = 0; i < o.nlimit; i++)
		free(o.limit[i]);
	free(o.limit);
	for (size_t i = 0; i < o.nnodes; i++)
		free(o.nodes[i]);
	free(o.nodes);
	return status;
}

int cmd_plan(int argc, char **argv)
{
	return run_cmd(argc, argv, RUN_PLAN);
}

int cmd_drift(int argc, char **argv)
{
	return run_cmd(argc, argv, RUN_DRIFT);
}

int cmd_reset(int argc, char **argv)
{
	return run_cmd(argc, argv, RUN_RESET);
}

int cmd_apply(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--builtin-child"))
		return run_builtin_child();
	return run_cmd(argc, argv, RUN_APPLY);
}
