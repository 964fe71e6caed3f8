/* execute: run_execute, the public entry of `clusterc plan` and `clusterc
 * apply`, and the one poll() loop over every child process (the design is in
 * exec_internal.h, the files in compiler/run/README.md). */
#include "exec_internal.h"
#include "remote.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static volatile sig_atomic_t sig_count;
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	(void)sig;
	int e = errno;
	sig_count++;
	if (sig_pipe[1] >= 0) {
		ssize_t w = write(sig_pipe[1], "x", 1);
		(void)w;
	}
	errno = e;
}

static void on_child(int sig)
{
	(void)sig;
	int e = errno;
	if (sig_pipe[1] >= 0) {
		ssize_t w = write(sig_pipe[1], "c", 1);
		(void)w;
	}
	errno = e;
}

static void job_finished(struct run *r, struct job *j)
{
	struct rhost *h = j->h;
	switch (j->kind) {
	case J_PREP:
		h->job = NULL;
		prep_done(r, j);
		break;
	case J_SHIP:
		ship_done(r, j);
		break;
	case J_STEP:
	case J_BUILTIN:
		step_done(r, j);
		break;
	case J_REBOOT:
		h->job = NULL;
		break;
	case J_RELEASE:
		release_done(r, j);
		break;
	case J_CANCEL:
		break;
	}
}

static void on_deadline(struct run *r, struct job *j, double now)
{
	if (!j->termed) {
		if ((j->kind == J_STEP) && !j->h->local && j->s && !j->cancel_sent) {
			/* Killing our ssh client does not stop the remote step: ask
			 * the host to TERM it (its timeout wrapper KILLs after the
			 * grace), then end the client. */
			const char *args[] = { r->work_dir, j->s->name, NULL };
			j->cancel_sent = true;
			start_simple(r, j->h, J_CANCEL, remote_script(REMOTE_CANCEL), args, 20);
		}
		proc_kill(&j->p, SIGTERM);
		if (j->has_aux)
			proc_kill(&j->aux, SIGTERM);
		j->termed = true;
		j->kill_at = now + (r->o->grace < 1 ? 1 : r->o->grace);
	} else if (now >= j->kill_at) {
		proc_kill(&j->p, SIGKILL);
		if (j->has_aux)
			proc_kill(&j->aux, SIGKILL);
		j->kill_at = now + 5;
	}
}

static void handle_interrupt(struct run *r)
{
	double now = now_mono();
	if (!r->interrupted) {
		r->interrupted = true;
		r->interrupt_at = now;
		undraw(r);
		fprintf(stderr, "clusterc: interrupted: no new steps start; running steps get "
			"%.0fs to finish (interrupt again to stop them now)\n", r->o->grace);
		run_log_event(&r->log, "interrupt", NULL, NULL, NULL);
		for (struct job *j = r->jobs; j; j = j->next)
			if ((j->kind == J_STEP || j->kind == J_BUILTIN) &&
			    (!j->deadline || j->deadline > now + r->o->grace))
				j->deadline = now + r->o->grace;
	} else {
		for (struct job *j = r->jobs; j; j = j->next)
			if (j->kind == J_STEP || j->kind == J_BUILTIN)
				j->deadline = now;
	}
}

static void run_loop(struct run *r)
{
	struct pollfd *fds = NULL;
	size_t fcap = 0;
	int seen_sigs = 0;
	for (;;) {
		bool changed = true;
		while (changed) {
			changed = false;
			for (size_t i = 0; i < r->nhosts; i++)
				if (advance_host(r, &r->hosts[i]))
					changed = true;
			if (!r->barrier && barrier_ready(r)) {
				r->barrier = true;
				decide_steps(r);
				size_t torun = 0;
				if (!r->o->apply || r->o->dry_run) {
					print_plan(r, stdout, !r->o->apply || r->o->dry_run);
				} else if (r->o->check) {
					/* Changes nothing: nothing to confirm. */
				} else {
					for (size_t i = 0; i < r->plan.nsteps; i++) {
						struct step *s = &r->plan.steps[i];
						if (s->selected && s->why != WHY_DONE &&
						    s->why != WHY_UNKNOWN)
							torun++;
					}
					struct strbuf dis = STRBUF_INIT;
					bool ask = r->tty && isatty(0);
					if (r->o->reset && torun && !r->o->yes)
						reset_warning(r, ask ? stdout : stderr);
					if (torun && !r->o->yes && ask && !r->interrupted) {
						print_plan(r, stdout, false);
						if (!confirm(r, torun)) {
							puts("not applied");
							r->aborted = true;
						}
					} else if (torun && !r->o->yes && !r->interrupted &&
						   impact_sum(r, &dis, true)) {
						/* As terraform does for destroy: nobody can answer, so a
						 * run that takes nodes away from their workloads needs
						 * the operator's word on the command line. */
						fprintf(stderr, "apply: this run has %s, and there is no terminal "
							"to ask: see `clusterc plan`, then apply with --yes\n", dis.buf);
						puts("not applied");
						r->aborted = true;
					}
					strbuf_release(&dis);
				}
				changed = true;
				draw(r);
			}
		}
		bool busy = r->jobs != NULL;
		for (size_t i = 0; i < r->nhosts && !busy; i++)
			if (r->hosts[i].ph != H_DONE && r->hosts[i].ph != H_FAILED &&
			    r->hosts[i].ph != H_IDLE_UNUSED)
				busy = true;
		if (!busy)
			break;

		size_t nf = 0;
		size_t want = 1 + 3 * r->nhosts;
		for (struct job *j = r->jobs; j; j = j->next)
			want += 6;
		XGROW(fds, fcap, want);
		fds[nf++] = (struct pollfd){ .fd = sig_pipe[0], .events = POLLIN };
		double now = now_mono(), wake = now + 0.5;
		for (struct job *j = r->jobs; j; j = j->next) {
			nf += proc_pollfds(&j->p, fds + nf);
			if (j->has_aux)
				nf += proc_pollfds(&j->aux, fds + nf);
			double d = j->termed ? j->kill_at : j->deadline;
			if (d && d < wake)
				wake = d;
		}
		bool connecting = false;
		for (size_t i = 0; i < r->nhosts; i++) {
			struct rhost *h = &r->hosts[i];
			if (h->master.pid > 0)
				nf += proc_pollfds(&h->master, fds + nf);
			if (h->ph == H_CONNECTING)
				connecting = true;
			if (h->ph == H_RETRY_WAIT && h->wait_until < wake)
				wake = h->wait_until;
		}
		if (connecting && wake > now + 0.01)
			wake = now + 0.01;
		if (r->tty && wake > r->last_draw + 1)
			wake = r->last_draw + 1;
		int timeout = wake > now ? (int)((wake - now) * 1000) + 1 : 0;
		int pr = poll(fds, nf, timeout);
		if (pr < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN) {
			char buf[64];
			while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
				;
		}
		while (seen_sigs < sig_count) {
			seen_sigs++;
			handle_interrupt(r);
		}
		for (size_t i = 0; i < r->nhosts; i++) {
			struct rhost *h = &r->hosts[i];
			if (h->master.pid > 0) {
				proc_pump(&h->master, &h->mout, &h->merr);
				proc_reap(&h->master);
			}
		}
		now = now_mono();
		for (struct job *j = r->jobs, *next; j; j = next) {
			next = j->next;
			if (j->has_aux) {
				struct strbuf dummy = STRBUF_INIT;
				proc_pump(&j->aux, &dummy, &j->aux_err);
				strbuf_release(&dummy);
				proc_reap(&j->aux);
			}
			if (j->kind == J_STEP) {
				proc_pump(&j->p, &j->line, &j->err);
				step_stdout_lines(r, j, false);
			} else {
				proc_pump(&j->p, &j->out, &j->err);
			}
			proc_reap(&j->p);
			if (proc_done(&j->p) && (!j->has_aux || proc_done(&j->aux))) {
				job_finished(r, j);
				job_free(r, j);
				continue;
			}
			double d = j->termed ? j->kill_at : j->deadline;
			if (d && now >= d) {
				if (j->kind == J_PREP || j->kind == J_SHIP || j->kind == J_RELEASE ||
				    j->kind == J_REBOOT || j->kind == J_CANCEL) {
					/* Housekeeping that hangs: the host stopped answering. */
					proc_kill(&j->p, SIGKILL);
					if (j->has_aux)
						proc_kill(&j->aux, SIGKILL);
					j->termed = true;
					j->kill_at = now + 5;
					j->deadline = 0;
				} else {
					on_deadline(r, j, now);
				}
			}
		}
		if (r->tty && now >= r->last_draw + 1)
			draw(r);
	}
	free(fds);
	undraw(r);
}

int run_execute(const struct run_opts *o, const char *dir)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.env = json_object();
	r.values = json_object();
	r.local_state = json_object();
	struct strbuf err = STRBUF_INIT;
	int status = o->check ? 1 : 2; /* drift's 2 means drift */
	protect_secrets();
	if (run_setup(&r, dir, &err) < 0)
		goto out;

	/* Two pipes per ssh master and three per running job: a few hundred
	 * hosts need more than the usual soft limit of 1024 descriptors. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		strbuf_addf(&err, "pipe: %s", strerror(errno));
		goto out;
	}
	/* A closed terminal (HUP) or ^\ (QUIT) stops a run the way ^C does: no
	 * new steps, running ones get the grace, locks are released. QUIT's
	 * default would dump core, and this process holds secrets. */
	static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	enum { NSTOP = sizeof(stop_signals) / sizeof(stop_signals[0]) };
	struct sigaction sa, old_stop[NSTOP], old_chld, old_pipe;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NSTOP; i++)
		sigaction(stop_signals[i], &sa, &old_stop[i]);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, &old_chld);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, &old_pipe);
	sig_count = 0;

	if (r.log.dir && !o->quiet)
		printf("run %s: %zu step%s selected, logs in %s\n", r.log.run_id, r.total_sel,
		       r.total_sel == 1 ? "" : "s", r.log.dir);
	r.t_begin = now_mono();
	run_log_event(&r.log, "run_start", NULL, NULL, NULL);
	run_loop(&r);
	if (o->apply && !o->dry_run && !o->check && !r.interrupted && !r.aborted)
		access_read_address(&r);
	run_teardown(&r);

	for (size_t i = 0; i < NSTOP; i++)
		sigaction(stop_signals[i], &old_stop[i], NULL);
	sigaction(SIGCHLD, &old_chld, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;

	bool bad = false;
	for (size_t i = 0; i < r.plan.nsteps; i++) {
		struct step *s = &r.plan.steps[i];
		if (s->selected && (s->st == ST_FAILED || s->st == ST_BLOCKED ||
				    s->st == ST_CANCELLED))
			bad = true;
	}
	bool unknown = false;
	for (size_t i = 0; i < r.nhosts; i++)
		if (r.hosts[i].fail)
			unknown = true;
	if (!o->apply || o->dry_run) {
		status = unknown ? 1 : 0;
		for (size_t i = 0; i < r.nhosts; i++)
			if (r.hosts[i].fail)
				fprintf(stderr, "clusterc: %s: %s\n", r.hosts[i].name, r.hosts[i].fail);
	} else if (o->check) {
		status = r.interrupted ? 130 : drift_report(&r);
	} else {
		status = r.interrupted ? 130 : r.aborted ? 1 : bad ? 1 : 0;
		write_summary(&r, status);
	}
	run_log_event(&r.log, "run_end", NULL, NULL, NULL);
	/* Steps that did their work but left no log, or no summary, are not a
	 * clean run: whoever reads artifacts/ later would find nothing. */
	if (r.log.lost && status == 0) {
		fprintf(stderr, "clusterc: the steps went well, but %s: this run exits 1 so that its missing logs "
			"are noticed; free space in %s and run again (steps that are done are skipped)\n",
			r.log.lost, o->artifacts);
		status = 1;
	}
out:
	if (err.len)
		fprintf(stderr, "clusterc: %s\n", err.buf);
	strbuf_release(&err);
	if (r.ssh_config)
		unlink(r.ssh_config);
	if (r.ctl_dir)
		rmdir(r.ctl_dir);
	run_free(&r);
	return status;
}
