/* jobs: the child processes the loop watches (struct job), and starting
 * one as an ssh client that runs a remote script on its host's master. */
#include "exec_internal.h"
#include "remote.h"
#include "xalloc.h"

#include <stdlib.h>

struct job *job_new(struct run *r, enum job_kind k, struct rhost *h, struct step *s)
{
	struct job *j = xcalloc(1, sizeof(*j));
	j->kind = k;
	j->h = h;
	j->s = s;
	proc_init(&j->p);
	proc_init(&j->aux);
	strbuf_init(&j->out);
	strbuf_init(&j->err);
	strbuf_init(&j->aux_err);
	strbuf_init(&j->log);
	strbuf_init(&j->line);
	strbuf_init(&j->forged);
	j->next = r->jobs;
	r->jobs = j;
	return j;
}

void job_free(struct run *r, struct job *j)
{
	for (struct job **pp = &r->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	proc_release(&j->p);
	proc_release(&j->aux);
	strbuf_release(&j->out);
	strbuf_release(&j->err);
	strbuf_release(&j->aux_err);
	strbuf_release(&j->log);
	strbuf_release(&j->line);
	strbuf_release(&j->forged);
	free(j);
}

int start_remote(struct run *r, struct job *j, const char *script,
			const char *const *args, struct strbuf *err)
{
	struct strvec av = STRVEC_INIT;
	struct strbuf cmd = STRBUF_INIT;
	ssh_argv(&av, &j->h->ssh, j->h->ctl, SSH_CLIENT, r->o->connect_timeout, r->ssh_config);
	remote_cmd(&cmd, &j->h->ssh, script, args);
	strvec_push(&av, cmd.buf);
	struct proc_opts po = PROC_OPTS_INIT;
	po.argv = (const char *const *)av.v;
	po.pipe_stdin = true;
	po.new_pgrp = true;
	po.die_with_parent = true;
	int rc = proc_start(&j->p, &po, err);
	strvec_clear(&av);
	strbuf_release(&cmd);
	return rc;
}

void start_simple(struct run *r, struct rhost *h, enum job_kind k, const char *script,
			 const char *const *args, double limit)
{
	struct job *j = job_new(r, k, h, NULL);
	struct strbuf err = STRBUF_INIT;
	j->deadline = now_mono() + limit;
	if (start_remote(r, j, script, args, &err) < 0) {
		job_free(r, j);
		if (k == J_RELEASE)
			h->ph = H_DONE;
		else
			fail_host(r, h, err.buf);
	} else if (k != J_CANCEL) {
		h->job = j;
	}
	strbuf_release(&err);
}
