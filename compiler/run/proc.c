#include "proc.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

void strvec_push(struct strvec *sv, const char *s)
{
	XGROW(sv->v, sv->cap, sv->n + 2);
	sv->v[sv->n++] = xstrdup(s);
	sv->v[sv->n] = NULL;
}

void strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	XGROW(sv->v, sv->cap, sv->n + 2);
	sv->v[sv->n++] = strbuf_detach(&sb, NULL);
	sv->v[sv->n] = NULL;
}

void strvec_clear(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

void proc_init(struct proc *p)
{
	memset(p, 0, sizeof(*p));
	p->in_fd = p->out_fd = p->err_fd = -1;
	strbuf_init(&p->in);
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		while (close(*fd) < 0 && errno == EINTR)
			;
		*fd = -1;
	}
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* In the child: the message was built before fork; the parent learns of the
 * failure from stderr and exit status 127. The parent never waits for the
 * exec: on a loaded machine that wait serialises every spawn behind the
 * scheduler (50 ssh masters took seconds to start). */
static void child_fail(const char *msg)
{
	const char *e = strerror(errno);
	ssize_t w = write(2, msg, strlen(msg));
	w = write(2, e, strlen(e));
	w = write(2, "\n", 1);
	(void)w;
	_exit(127);
}

int proc_start(struct proc *p, const struct proc_opts *o, struct strbuf *err)
{
	int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	if (o->stdin_fd < 0 && o->pipe_stdin && pipe2(inp, O_CLOEXEC) < 0)
		goto fail;
	if (o->stdout_fd < 0 && pipe2(outp, O_CLOEXEC) < 0)
		goto fail;
	if (!o->merge_stderr && pipe2(errp, O_CLOEXEC) < 0)
		goto fail;

	/* Build the environment before fork: no allocation in the child. */
	char **envp = NULL;
	if (o->setenv) {
		extern char **environ;
		size_t n = 0, m = 0;
		while (environ[n])
			n++;
		while (o->setenv[m])
			m++;
		envp = xcalloc(n + m + 1, sizeof(*envp));
		size_t k = 0;
		for (size_t i = 0; i < m; i++)
			envp[k++] = (char *)o->setenv[i];
		for (size_t i = 0; i < n; i++) {
			bool overridden = false;
			const char *eq = strchr(environ[i], '=');
			size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
			for (size_t j = 0; j < m; j++)
				if (!strncmp(o->setenv[j], environ[i], nl) && o->setenv[j][nl] == '=')
					overridden = true;
			if (!overridden)
				envp[k++] = environ[i];
		}
	}

	if (getenv("CLUSTERC_TRACE_ARGV")) {
		/* Tests check that no secret ever reaches a command line. */
		FILE *f = fopen(getenv("CLUSTERC_TRACE_ARGV"), "ae");
		if (f) {
			for (size_t i = 0; o->argv[i]; i++)
				fprintf(f, "%s%s", i ? " " : "", o->argv[i]);
			fputc('\n', f);
			fclose(f);
		}
	}
	struct strbuf emsg = STRBUF_INIT;
	strbuf_addf(&emsg, "clusterc: cannot run '%s': ", o->argv[0]);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		free(envp);
		strbuf_release(&emsg);
		goto fail;
	}
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		/* A session of its own (also a process group of its own, so a
		 * deadline signals everything it started): no controlling
		 * terminal, so nothing can prompt, and on a busy machine the
		 * autogroup scheduler gives each child its own share. */
		if (o->new_pgrp && setsid() < 0)
			setpgid(0, 0);
		if (o->die_with_parent) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(127);
		}
		int fd0 = o->stdin_fd >= 0 ? o->stdin_fd : inp[0];
		if (fd0 < 0) {
			fd0 = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fd0 < 0)
				child_fail(emsg.buf);
		}
		if (dup2(fd0, 0) < 0)
			child_fail(emsg.buf);
		int fd1 = o->stdout_fd >= 0 ? o->stdout_fd : outp[1];
		if (dup2(fd1, 1) < 0)
			child_fail(emsg.buf);
		if (dup2(o->merge_stderr ? fd1 : errp[1], 2) < 0)
			child_fail(emsg.buf);
		if (o->cwd && chdir(o->cwd) < 0)
			child_fail(emsg.buf);
		if (envp)
			execvpe(o->argv[0], (char *const *)o->argv, envp);
		else
			execvp(o->argv[0], (char *const *)o->argv);
		child_fail(emsg.buf);
	}
	free(envp);
	strbuf_release(&emsg);
	close_fd(&inp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	if (o->stdin_fd >= 0) {
		int fd = o->stdin_fd;
		close_fd(&fd);
	}
	p->pid = pid;
	p->reaped = false;
	p->in_fd = inp[1];
	p->out_fd = outp[0];
	p->err_fd = errp[0];
	p->in_off = 0;
	if (p->in_fd >= 0) {
		set_nonblock(p->in_fd);
		if (!p->in.len)
			close_fd(&p->in_fd);
	}
	if (p->out_fd >= 0)
		set_nonblock(p->out_fd);
	if (p->err_fd >= 0)
		set_nonblock(p->err_fd);
	return 0;
fail:
	strbuf_addf(err, "cannot start '%s': %s", o->argv[0], strerror(errno));
	close_fd(&inp[0]);
	close_fd(&inp[1]);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	return -1;
}

size_t proc_pollfds(const struct proc *p, struct pollfd *fds)
{
	size_t n = 0;
	if (p->out_fd >= 0)
		fds[n++] = (struct pollfd){ .fd = p->out_fd, .events = POLLIN };
	if (p->err_fd >= 0)
		fds[n++] = (struct pollfd){ .fd = p->err_fd, .events = POLLIN };
	if (p->in_fd >= 0)
		fds[n++] = (struct pollfd){ .fd = p->in_fd, .events = POLLOUT };
	return n;
}

static bool drain(int *fd, struct strbuf *sb)
{
	bool any = false;
	while (*fd >= 0) {
		strbuf_grow(sb, 8192);
		ssize_t r = read(*fd, sb->buf + sb->len, 8192);
		if (r > 0) {
			strbuf_setlen(sb, sb->len + (size_t)r);
			any = true;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		close_fd(fd); /* EOF or error */
		any = true;
	}
	return any;
}

bool proc_pump(struct proc *p, struct strbuf *out, struct strbuf *err)
{
	bool any = false;
	while (p->in_fd >= 0 && p->in_off < p->in.len) {
		ssize_t w = write(p->in_fd, p->in.buf + p->in_off, p->in.len - p->in_off);
		if (w > 0) {
			p->in_off += (size_t)w;
			any = true;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			close_fd(&p->in_fd); /* EPIPE: the child does not read stdin */
			any = true;
		}
	}
	if (p->in_fd >= 0 && p->in_off >= p->in.len) {
		close_fd(&p->in_fd);
		any = true;
	}
	if (drain(&p->out_fd, out))
		any = true;
	if (drain(&p->err_fd, err))
		any = true;
	return any;
}

bool proc_reap(struct proc *p)
{
	if (p->reaped)
		return true;
	if (p->pid <= 0)
		return false;
	int st;
	pid_t r;
	while ((r = waitpid(p->pid, &st, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == p->pid || (r < 0 && errno == ECHILD)) {
		p->status = r == p->pid ? st : (255 << 8);
		p->reaped = true;
		return true;
	}
	return false;
}

bool proc_done(const struct proc *p)
{
	return p->reaped && p->out_fd < 0 && p->err_fd < 0;
}

void proc_kill(const struct proc *p, int sig)
{
	if (p->pid <= 0 || p->reaped)
		return;
	/* The child may not have called setpgid yet; signal both ways. */
	kill(-p->pid, sig);
	kill(p->pid, sig);
}

void proc_release(struct proc *p)
{
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	strbuf_release(&p->in);
}

int proc_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int proc_run_sync(const char *const *argv, const char *cwd, const char *in, struct strbuf *out)
{
	struct proc p;
	proc_init(&p);
	struct proc_opts o = PROC_OPTS_INIT;
	o.argv = argv;
	o.cwd = cwd;
	o.merge_stderr = true;
	if (in) {
		o.pipe_stdin = true;
		strbuf_addstr(&p.in, in);
	}
	struct strbuf err = STRBUF_INIT;
	if (proc_start(&p, &o, out) < 0) {
		proc_release(&p);
		return -1;
	}
	while (!proc_done(&p)) {
		struct pollfd fds[3];
		size_t n = proc_pollfds(&p, fds);
		if (n) {
			int r = poll(fds, n, 100);
			if (r < 0 && errno != EINTR)
				break;
		} else {
			usleep(2000);
		}
		proc_pump(&p, out, &err);
		proc_reap(&p);
	}
	strbuf_release(&err);
	proc_release(&p);
	return proc_exit_code(p.status);
}
