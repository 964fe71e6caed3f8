/* commands: one entry point per CLI command, each in its own file. Each takes
 * the arguments after the command name (argv[0] is the command) and returns the
 * process exit status: 0 ok, 1 diagnostics or a failed run, 2 usage or system. */
#ifndef CLUSTERC_COMMANDS_H
#define CLUSTERC_COMMANDS_H

int cmd_check(int argc, char **argv);   /* check_build.c */
int cmd_build(int argc, char **argv);   /* check_build.c */
int cmd_plan(int argc, char **argv);    /* plan_apply.c */
int cmd_apply(int argc, char **argv);   /* plan_apply.c */
int cmd_drift(int argc, char **argv);   /* plan_apply.c */
int cmd_reset(int argc, char **argv);   /* plan_apply.c */
int cmd_fmt(int argc, char **argv);     /* fmt.c */
int cmd_graph(int argc, char **argv);   /* graph.c */
int cmd_import_env(int argc, char **argv); /* import_env.c */
int cmd_explain(int argc, char **argv); /* explain.c */
int cmd_status(int argc, char **argv);  /* status.c */
int cmd_disconnect(int argc, char **argv); /* disconnect.c */

/* Shared option parsing helper: returns 1 when arg is -h/--help. */
int is_help_flag(const char *arg);

#endif
