/* clusterc: compile a .cluster file into reviewable artifacts and apply them. */
#include "commands.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

static const struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
	{ "check", cmd_check, "parse, resolve and check .cluster files" },
	{ "build", cmd_build, "compile a cluster into OUTDIR/<cluster>/" },
	{ "plan", cmd_plan, "show what apply would run, and why" },
	{ "apply", cmd_apply, "run a built cluster's steps over SSH" },
	{ "status", cmd_status, "check the running cluster against the file" },
	{ "disconnect", cmd_disconnect, "close the ssh connections kept for a cluster" },
	{ "drift", cmd_drift, "report what differs on the hosts, changing nothing" },
	{ "reset", cmd_reset, "undo kubeadm on nodes and forget them (asks first)" },
	{ "fmt", cmd_fmt, "write .cluster files in the canonical layout" },
	{ "graph", cmd_graph, "draw a cluster's step graph (Graphviz DOT, SVG, PNG)" },
	{ "import-env", cmd_import_env, "write a .cluster from the Ansible project's .env" },
	{ "explain", cmd_explain, "say what a diagnostic code means and how to fix it" },
};

int is_help_flag(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

static void usage(FILE *out)
{
	fputs("usage: clusterc COMMAND [ARGS]\n\ncommands:\n", out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fputs("  version     print the version\n\n"
	      "Run 'clusterc COMMAND --help' for a command's options.\n", out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (is_help_flag(cmd) || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("clusterc %s\n", CLUSTERC_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "clusterc: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
