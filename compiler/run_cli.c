/* run_cli: the plan and apply commands. FIXME: placeholder until the runner
 * lands (issue 5); it refuses rather than pretending. */
#include "commands.h"

#include <stdio.h>

int cmd_plan(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("clusterc: plan is not built yet\n", stderr);
	return 2;
}

int cmd_apply(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("clusterc: apply is not built yet\n", stderr);
	return 2;
}
