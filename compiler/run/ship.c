/* ship: the bundle, every file the host's steps name, sent as one tar
 * stream into stdlib/runner/ship.sh on the host. */
#include "exec_internal.h"
#include "remote.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool host_needs_ship(struct run *r, struct rhost *h)
{
	if (h->local)
		return false;
	for (size_t k = 0; k < h->nsteps; k++) {
		struct step *s = &r->plan.steps[h->steps[k]];
		if (s->selected && s->st == ST_PENDING && s->why != WHY_DONE && !s->builtin)
			return true;
	}
	return false;
}

/* Files of every step on the host, once each; "dir/" means the folder. */
static void host_files(struct run *r, struct rhost *h, struct strvec *files)
{
	for (size_t i = 0; i < h->nsteps; i++) {
		struct step *s = &r->plan.steps[h->steps[i]];
		for (size_t f = 0; f <= s->nfiles; f++) {
			const char *name = f < s->nfiles ? s->files[f] : s->script;
			if (!name)
				continue;
			char *n = xstrdup(name);
			size_t l = strlen(n);
			while (l > 1 && n[l - 1] == '/')
				n[--l] = '\0';
			bool dup = false;
			for (size_t k = 0; k < files->n; k++)
				if (!strcmp(files->v[k], n))
					dup = true;
			if (!dup)
				strvec_push(files, n);
			free(n);
		}
	}
}

void start_ship(struct run *r, struct rhost *h)
{
	struct strvec files = STRVEC_INIT, tav = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	host_files(r, h, &files);
	int pp[2];
	if (pipe2(pp, O_CLOEXEC) < 0) {
		fail_host(r, h, strerror(errno));
		strvec_clear(&files);
		return;
	}
	strvec_push(&tav, "tar");
	strvec_push(&tav, "-cf");
	strvec_push(&tav, "-");
	strvec_push(&tav, "-C");
	strvec_push(&tav, r->plan.dir);
	strvec_push(&tav, "--");
	for (size_t i = 0; i < files.n; i++)
		strvec_push(&tav, files.v[i]);
	struct job *j = job_new(r, J_SHIP, h, NULL);
	struct proc_opts to = PROC_OPTS_INIT;
	to.argv = (const char *const *)tav.v;
	to.stdout_fd = pp[1];
	to.die_with_parent = true;
	to.new_pgrp = true;
	int ok = proc_start(&j->aux, &to, &err);
	close(pp[1]);
	j->has_aux = ok == 0;
	if (ok == 0) {
		const char *d = r->work_dir;
		const char *args[] = { d, r->log.run_id ? r->log.run_id : "x", NULL };
		struct strvec av = STRVEC_INIT;
		struct strbuf cmd = STRBUF_INIT;
		ssh_argv(&av, &h->ssh, h->ctl, SSH_CLIENT, r->o->connect_timeout, r->ssh_config);
		remote_cmd(&cmd, &h->ssh, remote_script(REMOTE_SHIP), args);
		strvec_push(&av, cmd.buf);
		struct proc_opts po = PROC_OPTS_INIT;
		po.argv = (const char *const *)av.v;
		po.stdin_fd = pp[0];
		po.new_pgrp = true;
		po.die_with_parent = true;
		pp[0] = -1;
		ok = proc_start(&j->p, &po, &err);
		strvec_clear(&av);
		strbuf_release(&cmd);
	}
	if (pp[0] >= 0)
		close(pp[0]);
	if (ok < 0) {
		if (j->has_aux)
			proc_kill(&j->aux, SIGKILL);
		while (j->has_aux && !proc_reap(&j->aux))
			usleep(1000);
		job_free(r, j);
		fail_host(r, h, err.buf);
	} else {
		j->deadline = now_mono() + 600;
		h->job = j;
		h->ph = H_SHIPPING;
	}
	strvec_clear(&files);
	strvec_clear(&tav);
	strbuf_release(&err);
}

void ship_done(struct run *r, struct job *j)
{
	struct rhost *h = j->h;
	h->job = NULL;
	int rc = proc_exit_code(j->p.status), trc = proc_exit_code(j->aux.status);
	if (rc == 0 && trc == 0) {
		h->shipped = true;
		h->ph = H_IDLE;
		run_log_event(&r->log, "host_shipped", NULL, h->name, NULL);
		return;
	}
	struct strbuf m = STRBUF_INIT;
	strbuf_addf(&m, "shipping the bundle failed (tar %d, ssh %d): %s%s", trc, rc,
		    j->aux_err.buf, j->err.buf);
	strbuf_rtrim_newlines(&m);
	fail_host(r, h, m.buf);
	strbuf_release(&m);
}
