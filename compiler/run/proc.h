/* proc: child processes the way git's run-command does it: argv vectors (never
 * system() or a shell string built here), pipes that are close-on-exec and
 * non-blocking, read by the caller's poll() loop, and a process group per
 * child so a deadline can signal everything the child started.
 *
 * The caller owns struct proc and the strbufs inside it. proc_start() fills in
 * pid and the pipe ends; the caller polls out_fd/err_fd (proc_pump reads what
 * is there), writes `in` to in_fd (proc_pump does that too), and reaps with
 * proc_reap(). A proc is finished when both output pipes are closed and the
 * child has been reaped. */
#ifndef CLUSTERC_PROC_H
#define CLUSTERC_PROC_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "strbuf.h"

/* A NULL-terminated argument vector that owns its strings. */
struct strvec {
	char **v;
	size_t n, cap;
};
#define STRVEC_INIT { NULL, 0, 0 }
void strvec_push(struct strvec *sv, const char *s);
__attribute__((format(printf, 2, 3)))
void strvec_pushf(struct strvec *sv, const char *fmt, ...);
void strvec_clear(struct strvec *sv);

struct proc {
	pid_t pid;          /* 0 before start and after reap */
	int in_fd;          /* our end of the child's stdin pipe, or -1 */
	int out_fd, err_fd; /* our ends of stdout/stderr, -1 once closed */
	struct strbuf in;   /* bytes to feed on stdin, then EOF */
	size_t in_off;
	int status;         /* wait status once reaped */
	bool reaped;
};

struct proc_opts {
	const char *const *argv;
	const char *cwd;        /* NULL: ours */
	int stdin_fd;           /* >= 0: the child's stdin (we close our copy) */
	bool pipe_stdin;        /* else: feed p->in through a pipe; else /dev/null */
	int stdout_fd;          /* >= 0: the child's stdout instead of a pipe */
	bool merge_stderr;      /* stderr goes where stdout goes */
	bool new_pgrp;          /* the child leads its own session and process group */
	bool die_with_parent;   /* PR_SET_PDEATHSIG SIGTERM */
	const char *const *setenv; /* NAME=VALUE strings added to the environment */
};
#define PROC_OPTS_INIT { .stdin_fd = -1, .stdout_fd = -1 }

void proc_init(struct proc *p);
/* Returns 0, or -1 with a message in err. */
int proc_start(struct proc *p, const struct proc_opts *o, struct strbuf *err);
/* Adds the proc's open fds to fds (caller sized it: at most 3 per proc). */
size_t proc_pollfds(const struct proc *p, struct pollfd *fds);
/* Moves whatever is readable into out/err and writes pending stdin. Never
 * blocks. Returns true when something happened. */
bool proc_pump(struct proc *p, struct strbuf *out, struct strbuf *err);
/* Reaps without blocking; true once reaped. */
bool proc_reap(struct proc *p);
/* True when the output pipes are closed and the child reaped. */
bool proc_done(const struct proc *p);
/* Signals the child's process group (or the child alone). */
void proc_kill(const struct proc *p, int sig);
/* Closes our fds (after done or after giving up on the child). */
void proc_release(struct proc *p);
/* Exit code for a wait status: the code, 128+signal, or -1. */
int proc_exit_code(int status);

/* Runs argv to completion, capturing stdout+stderr (merged) into out, feeding
 * in (may be NULL). Used for small synchronous helpers. Returns exit code. */
int proc_run_sync(const char *const *argv, const char *cwd, const char *in, struct strbuf *out);

#endif
