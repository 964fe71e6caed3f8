/* step_run: one step's process (a script over ssh through
 * stdlib/runner/step.sh, a local script, or a builtin in a child of this
 * binary), its stdin of values, the protocol lines of its stdout, its log,
 * and what its exit means. */
#include "exec_internal.h"
#include "builtin.h"
#include "remote.h"
#include "xalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *lookup_secret(struct run *r, const char *name)
{
	const char *v = getenv(name);
	if (v)
		return v;
	return json_string_value(json_object_get(r->env, name));
}

/* The stdin of a step: NAME=BASE64 per secret and input. Returns -1 with a
 * message when a value is missing. */
static int step_stdin(struct run *r, struct step *s, struct strbuf *in, json_t *plain,
		      struct strbuf *err)
{
	for (size_t i = 0; i < s->nsecrets; i++) {
		const char *v = lookup_secret(r, s->secrets[i]);
		if (!v) {
			strbuf_addf(err, "secret %s is not set: export it or put it in the env file "
				    "(--env FILE)", s->secrets[i]);
			return -1;
		}
		strbuf_addf(in, "%s=", s->secrets[i]);
		base64_encode(in, (const unsigned char *)v, strlen(v));
		strbuf_addch(in, '\n');
		if (plain)
			json_object_set_new(plain, s->secrets[i], json_string(v));
	}
	for (size_t i = 0; i < s->ninputs; i++) {
		const char *v = json_string_value(json_object_get(r->values, s->inputs[i]));
		if (!v) {
			strbuf_addf(err, "input %s was not produced in this run (the step that "
				    "prints it did not run: is it outside --only/--limit?)",
				    s->inputs[i]);
			return -1;
		}
		strbuf_addf(in, "%s=%s\n", s->inputs[i], v);
		if (plain) {
			struct strbuf d = STRBUF_INIT;
			base64_decode(&d, v, strlen(v));
			json_object_set_new(plain, s->inputs[i], json_stringn(d.buf, d.len));
			strbuf_release(&d);
		}
	}
	return 0;
}

static void step_log_path(struct step *s)
{
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/%s.log", s->host, s->name);
	free(s->log_path);
	s->log_path = strbuf_detach(&p, NULL);
}

void start_step(struct run *r, struct rhost *h, struct step *s)
{
	struct strbuf err = STRBUF_INIT;
	struct job *j = job_new(r, s->builtin ? J_BUILTIN : J_STEP, h, s);
	json_t *plain = s->builtin ? json_object() : NULL;
	s->t_start = now_mono();
	step_log_path(s);
	if (step_stdin(r, s, &j->p.in, plain, &err) < 0) {
		job_free(r, j);
		json_decref(plain);
		s->t_end = now_mono();
		free(s->log_path);
		s->log_path = NULL;
		set_status(r, s, ST_FAILED, err.buf);
		strbuf_release(&err);
		return;
	}
	int ok;
	if (state_here(s)) {
		/* A step that started and did not finish is not done. */
		struct strbuf f = STRBUF_INIT;
		strbuf_addf(&f, "%s/state/%s", r->local_dir, state_key(s));
		unlink(f.buf);
		json_object_del(r->local_state, state_key(s));
		strbuf_release(&f);
	}
	if (s->builtin) {
		/* A builtin talks to an API and may take minutes: it runs in a child
		 * (this same binary, `apply --builtin-child`, a fresh process) so the
		 * loop stays responsive and the deadline can kill it. Its request
		 * ({name, args, values, overrides}) goes on stdin, never argv; it
		 * answers {rc, outputs, log} as JSON on stdout. */
		json_error_t je;
		struct strbuf ap = STRBUF_INIT;
		strbuf_addf(&ap, "%s/%s", r->plan.dir, s->args ? s->args : "/dev/null");
		json_t *args = s->args ? json_load_file(ap.buf, 0, &je) : json_object();
		strbuf_release(&ap);
		ok = -1;
		char self[4096];
		ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (!args) {
			strbuf_addf(&err, "cannot read builtin arguments %s: %s", s->args, je.text);
		} else if (sl <= 0) {
			strbuf_addf(&err, "cannot find this program (/proc/self/exe): %s", strerror(errno));
		} else {
			self[sl] = '\0';
			json_t *ov = r->have_inv ? inventory_overrides(&r->inv) : NULL;
			json_t *req = json_pack("{s:s,s:O,s:O,s:O}", "name", s->builtin, "args", args,
						"values", plain, "overrides", ov ? ov : json_null());
			char *txt = req ? json_dumps(req, JSON_COMPACT) : NULL;
			/* The values go inside the request, not as NAME=B64 lines. */
			strbuf_reset(&j->p.in);
			if (txt)
				strbuf_addstr(&j->p.in, txt);
			free(txt);
			json_decref(req);
			json_decref(ov);
			const char *av[] = { self, "apply", "--builtin-child", NULL };
			struct proc_opts po = PROC_OPTS_INIT;
			po.argv = av;
			/* As for local steps: relative paths in args (ISO files) are
			 * relative to OUTDIR/<cluster>. */
			po.cwd = r->plan.dir;
			po.pipe_stdin = true;
			po.new_pgrp = true;
			po.die_with_parent = true;
			ok = proc_start(&j->p, &po, &err);
		}
		json_decref(args);
		json_decref(plain);
		if (s->timeout)
			j->deadline = now_mono() + (double)s->timeout;
	} else if (h->local) {
		struct strvec av = STRVEC_INIT;
		strvec_push(&av, "bash");
		strvec_push(&av, s->script);
		struct proc_opts po = PROC_OPTS_INIT;
		po.argv = (const char *const *)av.v;
		po.cwd = r->plan.dir;
		po.pipe_stdin = true;
		po.merge_stderr = true;
		po.new_pgrp = true;
		po.die_with_parent = true;
		ok = proc_start(&j->p, &po, &err);
		strvec_clear(&av);
		if (s->timeout)
			j->deadline = now_mono() + (double)s->timeout;
	} else {
		struct strbuf t = STRBUF_INIT, g = STRBUF_INIT;
		strbuf_addf(&t, "%ld", s->timeout);
		strbuf_addf(&g, "%.0f", r->o->grace < 1 ? 1 : r->o->grace);
		struct strbuf outs = STRBUF_INIT;
		for (size_t i = 0; i < s->noutputs; i++)
			strbuf_addf(&outs, "%s%s", i ? "," : "", s->outputs[i]);
		const char *args[] = { r->work_dir, s->script, s->hash, s->name, t.buf, g.buf, outs.buf,
				       r->o->check ? "check" : r->o->reset ? "once" : "run", NULL };
		ok = start_remote(r, j, remote_script(REMOTE_STEP), args, &err);
		/* The host enforces the deadline; this one is the backstop for a
		 * host that stops answering. */
		if (s->timeout)
			j->deadline = now_mono() + (double)s->timeout + r->o->grace + 15;
		strbuf_release(&t);
		strbuf_release(&g);
		strbuf_release(&outs);
	}
	if (ok < 0) {
		job_free(r, j);
		s->t_end = now_mono();
		set_status(r, s, ST_FAILED, err.buf);
	} else {
		h->job = j;
		h->ph = H_BUSY;
		r->running++;
		set_status(r, s, ST_RUNNING, NULL);
		if (r->interrupted)
			j->deadline = r->interrupt_at + r->o->grace;
	}
	strbuf_release(&err);
}

/* Splits stdout into lines: protocol lines are taken out, the rest logged. */
void step_stdout_lines(struct run *r, struct job *j, bool flush)
{
	size_t start = 0;
	/* A line longer than a log keeps is no protocol line: log what came. */
	if (j->line.len > LOG_KEEP && !memchr(j->line.buf, '\n', j->line.len))
		flush = true;
	for (;;) {
		char *nl = memchr(j->line.buf + start, '\n', j->line.len - start);
		if (!nl && !(flush && start < j->line.len))
			break;
		size_t end = nl ? (size_t)(nl - j->line.buf) : j->line.len;
		char *l = xstrndup(j->line.buf + start, end - start);
		if (!strncmp(l, "::clusterc::output ", 19)) {
			char *name = l + 19, *sp = strchr(name, ' ');
			if (sp) {
				*sp = '\0';
				char *v = sp + 1;
				size_t vl = strlen(v);
				while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
					v[--vl] = '\0';
				if (!step_declares_output(j->s, name)) {
					/* A value meant for other hosts (a join token, a
					 * kubeconfig) is taken only from the step plan.json
					 * names as its producer: anything else is a forgery. */
					strbuf_addf(&j->log, "clusterc: output %s is not one this step "
						    "produces in plan.json; refused\n", name);
					strbuf_addf(&j->forged, "%s%s", j->forged.len ? ", " : "", name);
				} else if (!base64_valid(v)) {
					strbuf_addf(&j->log, "clusterc: output %s is not base64; ignored\n",
						    name);
				} else {
					json_object_set_new(r->values, name, json_string(v));
					if (!step_output_public(j->s, name))
						redact_add_value(&r->red, name, v);
					strbuf_addf(&j->log, "clusterc: captured output %s\n", name);
				}
			}
		} else if (!strncmp(l, "::clusterc::drift ", 18)) {
			/* Only a check-only run reports; from any other it is a log line. */
			if (r->o->check)
				strbuf_addf(&j->s->drift, "%s\n", l + 18);
			strbuf_addf(&j->log, "%s: %s\n", r->o->check ? "differs" : "drift", l + 18);
		} else if (!strcmp(l, "::clusterc::reboot") || !strncmp(l, "::clusterc::reboot ", 19)) {
			j->reboot_asked = !r->o->check;
			strbuf_addstr(&j->log, "clusterc: the step asks for a reboot\n");
		} else {
			strbuf_addstr(&j->log, l);
			strbuf_addch(&j->log, '\n');
		}
		free(l);
		start = nl ? end + 1 : j->line.len;
	}
	memmove(j->line.buf, j->line.buf + start, j->line.len - start);
	strbuf_setlen(&j->line, j->line.len - start);
	log_bound(&r->red, &j->log, &j->log_cut, LOG_CAP);
	log_bound(&r->red, &j->err, &j->err_cut, LOG_CAP);
}

static void write_step_log(struct run *r, struct step *s, struct strbuf *log)
{
	if (!r->log.dir || !s->log_path)
		return;
	redact_apply(&r->red, log);
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/%s", r->log.dir, s->host);
	if (mkdir_p(p.buf, 0755) < 0) {
		run_log_lost(&r->log, p.buf, errno);
	} else {
		strbuf_addf(&p, "/%s.log", s->name);
		if (write_file_atomic(p.buf, log->buf, log->len) < 0)
			run_log_lost(&r->log, p.buf, errno);
	}
	strbuf_release(&p);
}

void step_done(struct run *r, struct job *j)
{
	struct step *s = j->s;
	struct rhost *h = j->h;
	int rc = proc_exit_code(j->p.status);
	s->t_end = now_mono();
	s->rc = rc;
	r->running--;
	h->job = NULL;
	struct strbuf msg = STRBUF_INIT;
	bool lost = false;
	if (j->kind == J_BUILTIN) {
		json_error_t je;
		json_t *res = json_loadb(j->out.buf, j->out.len, 0, &je);
		json_t *outs = json_object_get(res, "outputs");
		const char *k;
		json_t *v;
		json_object_foreach(outs, k, v) {
			if (!json_is_string(v))
				continue;
			/* A host key read through the verified Proxmox API: pinned for
			 * the step's host before anything connects to it. Only from a
			 * step that declares it, and only for its own host. */
			if (!strcmp(k, "host_key") && rc == 0 && !h->local && step_declares_output(s, k)) {
				struct strbuf e = STRBUF_INIT;
				if (mkdir_p(r->local_dir, 0700) ||
				    ssh_learn_host_key(h->ssh.learned_hosts, h->ssh.address, h->ssh.port,
						       json_string_value(v), &e)) {
					strbuf_addf(&j->log, "error: cannot pin the host key of %s: %s\n", h->name,
						    e.len ? e.buf : strerror(errno));
					rc = 1;
				} else {
					strbuf_addf(&j->log, "pinned the host key of %s (%s) in %s\n", h->name,
						    h->ssh.address, h->ssh.learned_hosts);
				}
				strbuf_release(&e);
				continue;
			}
			struct strbuf b = STRBUF_INIT;
			base64_encode(&b, (const unsigned char *)json_string_value(v),
				   json_string_length(v));
			json_object_set_new(r->values, k, json_string(b.buf));
			if (!step_output_public(s, k))
				redact_add_value(&r->red, k, b.buf);
			strbuf_release(&b);
		}
		const char *lg = json_string_value(json_object_get(res, "log"));
		if (lg)
			strbuf_addstr(&j->log, lg);
		if (!res && rc == 0)
			rc = 1;
		json_decref(res);
	} else {
		step_stdout_lines(r, j, true);
	}
	if (j->forged.len)
		strbuf_addf(&msg, "printed output %s, which plan.json does not name it the producer "
			    "of: refused (a step may hand only the values it declares)", j->forged.buf);
	else if (j->termed)
		strbuf_addf(&msg, r->interrupted ? "interrupted" : "timed out after %ld s",
			    s->timeout);
	else if (rc == 124 && !state_here(s))
		strbuf_addf(&msg, "timed out after %ld s", s->timeout);
	else if (rc == 128 + SIGKILL && !state_here(s) && s->timeout > 0 &&
		 s->t_end - s->t_start >= (double)s->timeout)
		/* timeout(1) KILLs after the grace a script that ignored TERM. */
		strbuf_addf(&msg, "timed out after %ld s (killed: it ignored TERM)", s->timeout);
	else if (rc == 255 && !state_here(s) &&
		 (h->kept ? master_gone(h) || strstr(j->err.buf, "mux_client")
			      : h->master.reaped || h->master.out_fd < 0)) {
		strbuf_addstr(&msg, "connection to the host was lost during the step");
		lost = true;
	} else if (rc == REMOTE_EXIT_NO_BUNDLE)
		strbuf_addstr(&msg, "the bundle is missing on the host");
	else if (rc == REMOTE_EXIT_FORGED)
		strbuf_addstr(&msg, "the host saw an output line the step does not declare; "
			    "not recorded");
	else if (rc == REMOTE_EXIT_NOT_RECORDED)
		strbuf_addstr(&msg, "the step succeeded but its state could not be recorded");
	else if (rc != 0)
		strbuf_addf(&msg, "exit status %d", rc);
	if (rc == 0 && !j->termed && !j->forged.len && state_here(s)) {
		struct strbuf f = STRBUF_INIT, v = STRBUF_INIT;
		strbuf_addf(&f, "%s/state", r->local_dir);
		mkdir_p(f.buf, 0700);
		strbuf_addf(&f, "/%s", state_key(s));
		strbuf_addf(&v, "%s\n", s->hash);
		json_object_set_new(r->local_state, state_key(s), json_string(s->hash));
		if (write_file_atomic(f.buf, v.buf, v.len) < 0) {
			strbuf_addf(&msg, "cannot record state in %s: %s", f.buf, strerror(errno));
			rc = REMOTE_EXIT_NOT_RECORDED;
		}
		strbuf_release(&f);
		strbuf_release(&v);
	}
	log_bound(&r->red, &j->log, &j->log_cut, 2 * LOG_KEEP);
	log_bound(&r->red, &j->err, &j->err_cut, 2 * LOG_KEEP);
	if (j->err.len) {
		/* stderr is appended after stdout: per-step buffering keeps parallel
		 * output apart; FIXME: interleave by arrival time. */
		strbuf_addstr(&j->log, j->err.buf);
	}
	if (j->log_cut.dropped || j->err_cut.dropped)
		strbuf_addf(&j->log, "clusterc: %zu bytes of this step's output were dropped from the middle of "
			    "its standard output and error (a log keeps the first and the last %zu MiB of each)\n",
			    j->log_cut.dropped + j->err_cut.dropped, LOG_KEEP >> 20);
	if (msg.len)
		strbuf_addf(&j->log, "clusterc: %s\n", msg.buf);
	write_step_log(r, s, &j->log);
	bool ok = rc == 0 && !j->termed && !j->forged.len;
	set_status(r, s, ok ? ST_OK : ST_FAILED, ok ? NULL : msg.buf);
	if (h->ph == H_FAILED) {
		/* The host failed while the step ran: stays failed. */
	} else if (ok && j->reboot_asked && !state_here(s)) {
		char *d = remote_dir(r->plan.cluster);
		const char *args[] = { d, NULL };
		say(r, "reboot  %s (after %s)", h->name, s->id);
		run_log_event(&r->log, "reboot", s, h->name, NULL);
		h->rebooting = true;
		h->resume = true;
		h->reboot_deadline = now_mono() + r->o->reboot_timeout;
		h->ph = H_REBOOT_DOWN;
		start_simple(r, h, J_REBOOT, remote_script(REMOTE_REBOOT), args, 60);
		free(d);
	} else if (lost) {
		fail_host(r, h, "host unreachable (the connection was lost)");
	} else {
		h->ph = H_IDLE;
	}
	strbuf_release(&msg);
}

/* The builtin child (see start_step): one request on stdin, one answer. */
int run_builtin_child(void)
{
	struct strbuf in = STRBUF_INIT;
	json_error_t je;
	/* Its request carries the step's secrets. */
	protect_secrets();
	if (strbuf_read_fd(&in, 0) < 0)
		return 2;
	json_t *req = json_loadb(in.buf, in.len, 0, &je);
	strbuf_release(&in);
	const char *name = json_string_value(json_object_get(req, "name"));
	if (!name) {
		json_decref(req);
		fputs("clusterc: --builtin-child: malformed request\n", stderr);
		return 2;
	}
	json_t *ov = json_object_get(req, "overrides");
	json_t *outs = json_object();
	struct strbuf lg = STRBUF_INIT;
	int rc = builtin_run(name, json_object_get(req, "args"), json_object_get(req, "values"),
			     json_is_object(ov) ? ov : NULL, outs, &lg);
	json_t *res = json_pack("{s:i,s:o,s:s%}", "rc", rc, "outputs", outs, "log", lg.buf, lg.len);
	char *txt = res ? json_dumps(res, JSON_COMPACT) : NULL;
	if (txt)
		fputs(txt, stdout);
	fflush(stdout);
	free(txt);
	json_decref(res);
	json_decref(req);
	strbuf_release(&lg);
	return rc ? 1 : 0;
}
