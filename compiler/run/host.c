/* host: the per-host state machine (enum hphase): connect (with retries and
 * backoff), read the records, wait for the barrier, lock and ship, run the
 * host's steps in order, reboot and reconnect, release. */
#include "exec_internal.h"
#include "ssh_keep.h"
#include "xalloc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fail_host(struct run *r, struct rhost *h, const char *msg)
{
	if (h->ph == H_FAILED)
		return;
	free(h->fail);
	h->fail = xstrdup(msg);
	h->ph = H_FAILED;
	run_log_event(&r->log, "host_failed", NULL, h->name, msg);
	undraw(r);
	fprintf(stderr, "clusterc: host %s: %s\n", h->name, msg);
	draw(r);
	if (h->master.pid > 0 && !h->master.reaped)
		proc_kill(&h->master, SIGTERM);
	for (size_t i = 0; i < h->nsteps; i++) {
		struct step *s = &r->plan.steps[h->steps[i]];
		if (s->st == ST_PENDING)
			set_status(r, s, r->interrupted ? ST_CANCELLED : ST_FAILED,
				   r->interrupted ? "interrupted" : msg);
	}
}

void start_master(struct run *r, struct rhost *h)
{
	struct strvec av = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	proc_release(&h->master);
	proc_init(&h->master);
	strbuf_reset(&h->mout);
	strbuf_reset(&h->merr);
	if (h->kept) {
		/* Named anew at every connect: a pin learned during this run
		 * (a VM's key) gives another socket, never the old master. */
		/* The config's content counts, not its per-run path. */
		ssh_argv(&av, &h->ssh, "-", SSH_MASTER_KEEP, r->o->connect_timeout, NULL);
		struct strbuf ctl = STRBUF_INIT;
		keep_socket_path(&ctl, r->keep_dir, &h->ssh, &av, r->ssh_config);
		strvec_clear(&av);
		free(h->ctl);
		h->ctl = strbuf_detach(&ctl, NULL);
		keep_close_stale(r->keep_dir, &h->ssh, h->ctl);
		ssh_argv(&av, &h->ssh, h->ctl, SSH_MASTER_KEEP, r->o->connect_timeout, r->ssh_config);
	} else {
		unlink(h->ctl);
		ssh_argv(&av, &h->ssh, h->ctl, SSH_MASTER, r->o->connect_timeout, r->ssh_config);
	}
	struct proc_opts po = PROC_OPTS_INIT;
	po.argv = (const char *const *)av.v;
	po.new_pgrp = true;
	po.die_with_parent = true;
	h->attempts++;
	if (proc_start(&h->master, &po, &err) < 0) {
		fail_host(r, h, err.buf);
	} else {
		h->ph = H_CONNECTING;
		if (h->attempts == 1 && !h->rebooting)
			run_log_event(&r->log, "host_connect", NULL, h->name, NULL);
	}
	strvec_clear(&av);
	strbuf_release(&err);
}

bool barrier_ready(struct run *r)
{
	for (size_t i = 0; i < r->nhosts; i++) {
		enum hphase ph = r->hosts[i].ph;
		if (ph != H_IDLE_UNUSED && ph != H_READY && ph != H_FAILED && ph != H_DEFERRED)
			return false;
	}
	return true;
}

static bool socket_ready(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Connected: a per-run master has made its socket; the command that
 * opens (or finds) a kept master has exited 0 and left the socket. */
static bool master_up(struct rhost *h)
{
	if (!h->kept)
		return socket_ready(h->ctl);
	return proc_done(&h->master) && proc_exit_code(h->master.status) == 0 &&
	       socket_ready(h->ctl);
}

/* Gone: a per-run master process has ended; a kept master removes its
 * socket when its connection ends. */
bool master_gone(struct rhost *h)
{
	if (!h->kept)
		return h->master.pid > 0 && proc_done(&h->master);
	return proc_done(&h->master) && !socket_ready(h->ctl);
}

static double backoff(int attempt)
{
	double d = 0.5;
	for (int i = 1; i < attempt && d < 8; i++)
		d *= 2;
	return d;
}

/* Moves one host forward; returns true when something changed. */
bool advance_host(struct run *r, struct rhost *h)
{
	double now = now_mono();
	switch (h->ph) {
	case H_NEW:
		if (r->interrupted) {
			fail_host(r, h, "interrupted before connecting");
			return true;
		}
		if (h->local)
			local_prep(r, h);
		else if (h->deferred)
			h->ph = H_DEFERRED;
		else
			start_master(r, h);
		return true;
	case H_DEFERRED:
		if (!r->barrier)
			return false;
		if (!r->o->apply || r->o->dry_run || r->aborted) {
			h->next = h->nsteps;
			h->ph = H_DONE;
		} else {
			h->ph = H_IDLE;
		}
		return true;
	case H_CONNECTING:
		if (master_up(h)) {
			if (h->resume) {
				if (h->rebooting) {
					say(r, "back    %s", h->name);
					run_log_event(&r->log, "host_back", NULL, h->name, NULL);
				}
				h->rebooting = false;
				h->resume = false;
				h->attempts = 0;
				h->ph = H_IDLE;
			} else {
				start_prep(r, h, NULL, h->late && r->o->apply && !r->o->dry_run);
			}
			return true;
		}
		if (proc_done(&h->master)) {
			if (h->kept && proc_exit_code(h->master.status) == 0 && !h->merr.len)
				strbuf_addstr(&h->merr, "the kept master's socket went away");
			enum ssh_failure f = ssh_classify(h->merr.buf);
			struct strbuf m = STRBUF_INIT;
			strbuf_rtrim_newlines(&h->merr);
			const char *e = h->merr.buf;
			size_t el = h->merr.len;
			if (f == SSH_FAIL_HOSTKEY) {
				struct strbuf fp = STRBUF_INIT;
				strbuf_addf(&m, "host key of %s%s%s not trusted (unknown or changed)",
					    h->ssh.address, h->ssh.proxy_jump ? " or of its jump host " : "",
					    h->ssh.proxy_jump ? h->ssh.proxy_jump : "");
				if (ssh_offered_fingerprint(h->merr.buf, &fp))
					strbuf_addf(&m, "; it offered %s", fp.buf);
				strbuf_addf(&m, ". Nothing is trusted on first use: compare with the key on the "
					    "machine's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and "
					    "put its line in %s",
					    h->ssh.known_hosts ? h->ssh.known_hosts : "known_hosts");
				if (h->ssh.learned_hosts)
					strbuf_addf(&m, "; a VM clusterc creates has its key read through the "
						    "Proxmox API into %s by its infra.hostkey step",
						    h->ssh.learned_hosts);
				strbuf_release(&fp);
			} else if (f == SSH_FAIL_AUTH) {
				strbuf_addf(&m, "authentication failed as %s: %.*s",
					    h->ssh.user ? h->ssh.user : "(default user)", (int)el, e);
			} else if (r->interrupted) {
				strbuf_addstr(&m, "interrupted while connecting");
			} else if (h->rebooting && now < h->reboot_deadline) {
				h->wait_until = now + (backoff(h->attempts) > 5 ? 5 : backoff(h->attempts));
				h->ph = H_RETRY_WAIT;
				strbuf_release(&m);
				return true;
			} else if (!h->rebooting && h->attempts <= r->o->connect_retries) {
				double d = backoff(h->attempts);
				say(r, "retry   %s in %.1fs (%.*s)", h->name, d, (int)el, e);
				run_log_event(&r->log, "host_retry", NULL, h->name, e);
				h->wait_until = now + d;
				h->ph = H_RETRY_WAIT;
				strbuf_release(&m);
				return true;
			} else {
				strbuf_addf(&m, "%sunreachable after %d attempt%s: %.*s",
					    !h->rebooting ? "" : h->late ? "did not answer in time: "
					    : "did not come back after reboot: ",
					    h->attempts, h->attempts == 1 ? "" : "s", (int)el,
					    el ? e : "ssh exited");
			}
			fail_host(r, h, m.buf);
			strbuf_release(&m);
			return true;
		}
		return false;
	case H_RETRY_WAIT:
		if (r->interrupted) {
			fail_host(r, h, "interrupted while waiting to reconnect");
			return true;
		}
		if (now >= h->wait_until) {
			start_master(r, h);
			return true;
		}
		return false;
	case H_READY:
		if (!r->barrier)
			return false;
		if (!r->o->apply || r->o->dry_run || r->aborted) {
			for (size_t k = 0; k < h->nsteps; k++) {
				struct step *s = &r->plan.steps[h->steps[k]];
				if (s->st == ST_PENDING)
					s->st = r->aborted ? ST_CANCELLED : ST_PENDING;
			}
			h->next = h->nsteps;
			start_release(r, h);
			return true;
		}
		if (host_needs_ship(r, h) && !r->interrupted) {
			if (r->o->check)
				start_ship(r, h); /* no lock: see drift.c */
			else
				start_prep(r, h, NULL, true);
		} else {
			h->ph = H_IDLE;
		}
		return true;
	case H_IDLE: {
		bool changed = false;
		if (!h->local && master_gone(h) && h->next < h->nsteps) {
			/* The master went away between steps: reconnect, then go on. */
			say(r, "lost    %s: reconnecting", h->name);
			h->attempts = 0;
			h->resume = true;
			h->wait_until = now;
			h->ph = H_RETRY_WAIT;
			return true;
		}
		while (h->next < h->nsteps) {
			struct step *s = &r->plan.steps[h->steps[h->next]];
			struct strbuf why = STRBUF_INIT;
			enum step_action act = step_next(s, r->plan.steps, r->interrupted, &why);
			if (act == STEP_BLOCKED)
				set_status(r, s, ST_BLOCKED, why.buf);
			else if (act == STEP_CANCELLED)
				set_status(r, s, ST_CANCELLED, why.buf);
			else if (act == STEP_SKIP)
				set_status(r, s, ST_SKIPPED, NULL);
			strbuf_release(&why);
			if (act == STEP_WAIT)
				break;
			if (act != STEP_RUN) {
				changed |= act != STEP_PASS;
				h->next++;
				continue;
			}
			if (!state_here(s) && !h->state_known) {
				/* The first script step on a host created in this run:
				 * wait for it to answer (bounded like a reboot), lock and
				 * read its state, then decide its steps. */
				say(r, "connect %s (created in this run)", h->name);
				h->late = true;
				h->rebooting = true;
				h->resume = false;
				h->attempts = 0;
				h->reboot_deadline = now_mono() + r->o->reboot_timeout;
				start_master(r, h);
				return true;
			}
			if (r->running >= r->o->jobs)
				break;
			start_step(r, h, s);
			h->next++;
			return true;
		}
		if (h->next >= h->nsteps) {
			start_release(r, h);
			return true;
		}
		return changed;
	}
	case H_REBOOT_DOWN:
		if (!h->job && master_gone(h)) {
			say(r, "down    %s (waiting for it to come back)", h->name);
			h->attempts = 0;
			h->wait_until = now + 2;
			h->ph = H_RETRY_WAIT;
			return true;
		}
		if (now > h->reboot_deadline) {
			fail_host(r, h, "the host did not go down after the reboot was asked");
			return true;
		}
		return false;
	default:
		return false;
	}
}
