/* setup: struct run from plan.json, the inventory and the options (the
 * selection, one struct rhost per host, this machine's records, the ssh
 * config, the lock identity), and its teardown. */
#include "exec_internal.h"
#include "remote.h"
#include "ssh_keep.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

static int setup_hosts(struct run *r, struct strbuf *err)
{
	struct run_plan *p = &r->plan;
	const struct run_opts *o = r->o;
	/* Select: --only phases, --limit nodes ("local" names local steps). */
	r->total_sel = step_select(p->steps, p->nsteps, o->only, o->nonly, o->limit, o->nlimit,
				   o->destroy);
	if (o->check)
		drift_select(r);
	for (size_t k = 0; k < o->nonly; k++) {
		bool known = false;
		json_t *ph = json_object_get(p->root, "phases");
		size_t i;
		json_t *v;
		json_array_foreach(ph, i, v) if (!strcmp(json_string_value(v) ? json_string_value(v)
									      : "", o->only[k])) known = true;
		for (size_t s = 0; s < p->nsteps; s++)
			if (!strcmp(p->steps[s].phase, o->only[k]))
				known = true;
		if (!known) {
			strbuf_addf(err, "--only: unknown phase '%s'", o->only[k]);
			return -1;
		}
	}
	for (size_t k = 0; k < o->nlimit; k++)
		if (strcmp(o->limit[k], "local") && !json_object_get(p->hosts, o->limit[k])) {
			strbuf_addf(err, "--limit: unknown node '%s'", o->limit[k]);
			return -1;
		}
	/* One rhost per host name that any step uses, in first-use order. */
	r->hosts = xcalloc(p->nsteps + 1, sizeof(struct rhost));
	for (size_t i = 0; i < p->nsteps; i++) {
		struct step *s = &p->steps[i];
		struct rhost *h = NULL;
		for (size_t k = 0; k < r->nhosts; k++)
			if (!strcmp(r->hosts[k].name, s->host))
				h = &r->hosts[k];
		if (!h) {
			h = &r->hosts[r->nhosts++];
			h->name = xstrdup(s->host);
			h->local = !strcmp(s->host, "local");
			h->state = json_object();
			h->steps = xcalloc(p->nsteps, sizeof(size_t));
			proc_init(&h->master);
			strbuf_init(&h->mout);
			strbuf_init(&h->merr);
		}
		/* Builtin steps run in this process, whatever host they name. */
		h->steps[h->nsteps++] = i;
		s->h = h;
	}
	for (size_t k = 0; k < r->nhosts; k++) {
		struct rhost *h = &r->hosts[k];
		bool any = false;
		for (size_t i = 0; i < h->nsteps; i++)
			if (p->steps[h->steps[i]].selected)
				any = true;
		h->ph = any ? H_NEW : H_IDLE_UNUSED;
		/* Two steps with one name on one host would share a state file. */
		for (size_t i = 0; i < h->nsteps; i++)
			for (size_t j = i + 1; j < h->nsteps; j++)
				if (!strcmp(p->steps[h->steps[i]].name, p->steps[h->steps[j]].name)) {
					strbuf_addf(err, "plan.json: two steps named '%s' on host '%s'",
						    p->steps[h->steps[i]].name, h->name);
					return -1;
				}
		if (h->local || !any)
			continue;
		if (r->have_inv) {
			int rc = inventory_host(&r->inv, h->name, &h->ssh, err);
			if (rc < 0)
				return -1;
			if (rc > 0) {
				strbuf_addf(err, "node '%s' has no entry in the inventory %s (nothing "
					    "was contacted)", h->name, r->inv.path);
				return -1;
			}
		} else {
			json_t *e = json_object_get(p->hosts, h->name);
			const char *a = json_string_value(json_object_get(e, "address"));
			if (!a || !*a || a[0] == '-') {
				strbuf_addf(err, "plan.json: host '%s' has no usable address", h->name);
				return -1;
			}
			h->ssh.name = xstrdup(h->name);
			h->ssh.address = xstrdup(a);
			json_t *port = json_object_get(e, "port");
			h->ssh.port = json_is_integer(port) ? (int)json_integer_value(port) : 0;
			const char *u = json_string_value(json_object_get(e, "user"));
			const char *key = json_string_value(json_object_get(e, "key"));
			const char *pj = json_string_value(json_object_get(e, "proxy_jump"));
			h->ssh.user = u ? xstrdup(u) : NULL;
			h->ssh.key = key ? expand_home(key) : NULL;
			h->ssh.proxy_jump = pj ? xstrdup(pj) : NULL;
		}
		if (!h->ssh.known_hosts) {
			if (o->known_hosts) {
				h->ssh.known_hosts = xstrdup(o->known_hosts);
			} else if (p->known_hosts) {
				struct strbuf kh = STRBUF_INIT;
				if (p->known_hosts[0] != '/')
					strbuf_addf(&kh, "%s/", p->dir);
				strbuf_addstr(&kh, p->known_hosts);
				h->ssh.known_hosts = strbuf_detach(&kh, NULL);
			} else {
				struct strbuf kh = STRBUF_INIT;
				strbuf_addf(&kh, "%s/known_hosts", r->local_dir);
				h->ssh.known_hosts = strbuf_detach(&kh, NULL);
			}
		}
		h->kept = r->keep_dir && !(h->ssh.proxy_jump && *h->ssh.proxy_jump);
		if (!h->kept) {
			struct strbuf ctl = STRBUF_INIT;
			strbuf_addf(&ctl, "%s/h%zu", r->ctl_dir, k);
			h->ctl = strbuf_detach(&ctl, NULL);
		}
		if (!h->local) {
			struct strbuf lk = STRBUF_INIT;
			strbuf_addf(&lk, "%s/known_hosts.learned", r->local_dir);
			h->ssh.learned_hosts = strbuf_detach(&lk, NULL);
		}
	}
	return 0;
}

/* Loads this machine's records (local steps, builtin steps), then defers the
 * connection to every host that a builtin step of this run creates, or that
 * has no script step to run at all. */
static void load_local_state(struct run *r)
{
	struct strbuf d = STRBUF_INIT;
	strbuf_addf(&d, "%s/state", r->local_dir);
	DIR *dir = opendir(d.buf);
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		if (!safe_name(e->d_name))
			continue;
		struct strbuf f = STRBUF_INIT, v = STRBUF_INIT;
		strbuf_addf(&f, "%s/%s", d.buf, e->d_name);
		if (!strbuf_read_file(&v, f.buf)) {
			strbuf_rtrim_newlines(&v);
			json_object_set_new(r->local_state, e->d_name, json_string(v.buf));
		}
		strbuf_release(&f);
		strbuf_release(&v);
	}
	if (dir)
		closedir(dir);
	strbuf_release(&d);
	for (size_t k = 0; k < r->nhosts; k++) {
		struct rhost *h = &r->hosts[k];
		bool scripts = false, creates = false;
		if (h->local || h->ph != H_NEW)
			continue;
		for (size_t i = 0; i < h->nsteps; i++) {
			struct step *s = &r->plan.steps[h->steps[i]];
			if (!s->selected)
				continue;
			if (!s->builtin) {
				scripts = true;
				continue;
			}
			const char *had = json_string_value(json_object_get(r->local_state, s->id));
			if (r->o->force || !had || strcmp(had, s->hash))
				creates = true;
		}
		h->deferred = creates || !scripts;
	}
}

void run_teardown(struct run *r)
{
	/* Masters are our children: end them by pid, then wait. */
	for (size_t i = 0; i < r->nhosts; i++) {
		struct rhost *h = &r->hosts[i];
		if (h->master.pid > 0 && !h->master.reaped)
			proc_kill(&h->master, SIGTERM);
	}
	double until = now_mono() + 3;
	for (size_t i = 0; i < r->nhosts; i++) {
		struct rhost *h = &r->hosts[i];
		while (h->master.pid > 0 && !proc_reap(&h->master)) {
			if (now_mono() > until)
				proc_kill(&h->master, SIGKILL);
			usleep(2000);
		}
		proc_release(&h->master);
		/* A kept master outlives the run (clusterc disconnect ends it). */
		if (h->ctl && !h->kept)
			unlink(h->ctl);
	}
	if (r->ssh_config)
		unlink(r->ssh_config);
	if (r->ctl_dir)
		rmdir(r->ctl_dir);
	if (r->keep_fd > 0) {
		keep_run_release(r->keep_dir, r->keep_token, r->keep_fd);
		r->keep_fd = 0;
	}
}

void run_free(struct run *r)
{
	if (r->local_lock_fd > 0) {
		/* Still held: a path that failed the local host after locking it.
		 * What this run took, it releases. */
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "%s/lock", r->local_dir);
		rm_rf(p.buf);
		strbuf_release(&p);
		close(r->local_lock_fd);
	}
	for (size_t i = 0; i < r->nhosts; i++) {
		struct rhost *h = &r->hosts[i];
		free(h->name);
		ssh_host_release(&h->ssh);
		free(h->steps);
		strbuf_release(&h->mout);
		strbuf_release(&h->merr);
		free(h->ctl);
		json_decref(h->state);
		free(h->lock_note);
		free(h->fail);
	}
	free(r->hosts);
	while (r->jobs)
		job_free(r, r->jobs);
	if (r->have_inv)
		inventory_release(&r->inv);
	json_decref(r->env);
	json_decref(r->values);
	json_decref(r->local_state);
	redact_release(&r->red);
	run_log_close(&r->log);
	free(r->ctl_dir);
	free(r->keep_dir);
	free(r->lb_address);
	free(r->lb_unread);
	free(r->keep_token);
	free(r->ssh_config);
	free(r->machine);
	free(r->owner);
	free(r->work_dir);
	free(r->local_dir);
	run_plan_release(&r->plan);
}

/* Appends "tok-" and 32 random hex digits. */
static int add_run_token(struct strbuf *sb, struct strbuf *err)
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		strbuf_addf(err, "cannot make a lock token: %s", strerror(errno));
		return -1;
	}
	strbuf_addstr(sb, "tok-");
	for (size_t i = 0; i < sizeof(b); i++)
		strbuf_addf(sb, "%02x", b[i]);
	return 0;
}

static void redact_secret(struct run *r, const char *name, const char *value)
{
	redact_add_secret(&r->red, name, value, strlen(value));
}

/* Every secret a step declares is redacted from logs even if no step prints
 * it: its env-file value (or the environment's, which wins) and its value
 * in the environment. */
static void redact_secrets(struct run *r)
{
	const char *k;
	json_t *v;
	json_object_foreach(r->env, k, v) {
		for (size_t i = 0; i < r->plan.nsteps; i++)
			for (size_t s = 0; s < r->plan.steps[i].nsecrets; s++)
				if (!strcmp(r->plan.steps[i].secrets[s], k))
					redact_secret(r, k, lookup_secret(r, k));
	}
	for (size_t i = 0; i < r->plan.nsteps; i++)
		for (size_t s = 0; s < r->plan.steps[i].nsecrets; s++) {
			const char *val = getenv(r->plan.steps[i].secrets[s]);
			if (val)
				redact_secret(r, r->plan.steps[i].secrets[s], val);
		}
}

/* A secret in the operator's environment reaches the step that declares it
 * on its stdin, and nothing else: ssh, tar, local steps and builtins would
 * inherit it from this process's environment. Its value (the environment
 * wins over the env file) moves to r->env, where lookup_secret finds it. */
static void keep_secrets_from_children(struct run *r)
{
	for (size_t i = 0; i < r->plan.nsteps; i++)
		for (size_t s = 0; s < r->plan.steps[i].nsecrets; s++) {
			const char *k = r->plan.steps[i].secrets[s];
			const char *val = getenv(k);
			if (!val)
				continue;
			json_object_set_new(r->env, k, json_stringn_nocheck(val, strlen(val)));
			unsetenv(k);
		}
}

/* One ssh_config for every host of the run, with the inventory's
 * "ssh_options": {"KexAlgorithms": "curve25519-sha256", ...} (operator-chosen;
 * the host-key rules cannot be loosened). */
static void write_ssh_config(struct run *r)
{
	struct ssh_host *sh = xcalloc(r->nhosts + 1, sizeof(*sh));
	size_t nsh = 0;
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].ssh.address)
			sh[nsh++] = r->hosts[i].ssh;
	struct strbuf cf = STRBUF_INIT;
	strbuf_addf(&cf, "%s/ssh_config", r->ctl_dir);
	struct strvec extra = STRVEC_INIT;
	const char *ok;
	json_t *ov;
	json_object_foreach(r->have_inv ? json_object_get(r->inv.root, "ssh_options") : NULL,
			    ok, ov) {
		const char *val = json_string_value(ov);
		bool bad = !val || strpbrk(val, "\n\"") || strpbrk(ok, " \t\n=\"");
		if (!bad && (!strcasecmp(ok, "StrictHostKeyChecking") ||
			     !strcasecmp(ok, "UserKnownHostsFile") ||
			     !strcasecmp(ok, "GlobalKnownHostsFile") ||
			     !strcasecmp(ok, "BatchMode") || !strcasecmp(ok, "ProxyCommand") ||
			     !strcasecmp(ok, "LocalCommand") || !strcasecmp(ok, "Include") ||
			     !strcasecmp(ok, "Match") || !strcasecmp(ok, "Host") ||
			     !strcasecmp(ok, "KnownHostsCommand") ||
			     !strcasecmp(ok, "HostKeyAlias") ||
			     !strcasecmp(ok, "VerifyHostKeyDNS") ||
			     !strcasecmp(ok, "RemoteCommand") ||
			     !strcasecmp(ok, "PermitLocalCommand")))
			bad = true;
		if (bad) {
			fprintf(stderr, "clusterc: inventory ssh_options: '%s' ignored\n", ok);
			continue;
		}
		strvec_pushf(&extra, "%s \"%s\"", ok, val);
	}
	if (ssh_write_config(cf.buf, sh, nsh, r->o->connect_timeout,
			     (const char *const *)extra.v) == 0)
		r->ssh_config = strbuf_detach(&cf, NULL);
	strvec_clear(&extra);
	strbuf_release(&cf);
	free(sh);
}

/* Everything before the loop; returns -1 with a message in err. */
int run_setup(struct run *r, const char *dir, struct strbuf *err)
{
	const struct run_opts *o = r->o;
	if (run_plan_load(&r->plan, dir, err) < 0 || run_plan_verify(&r->plan, err) < 0 ||
	    (o->reset && reset_plan(r, err) < 0))
		return -1;
	r->local_dir = state_home(r->plan.cluster);
	if (o->inventory) {
		if (inventory_load(&r->inv, o->inventory, err) < 0)
			return -1;
		r->have_inv = true;
	}
	const char *envf = o->env_file;
	struct strbuf envp = STRBUF_INIT;
	if (!envf && r->plan.env_file) {
		if (r->plan.env_file[0] != '/')
			strbuf_addf(&envp, "%s/", dir);
		strbuf_addstr(&envp, r->plan.env_file);
		if (access(envp.buf, R_OK) == 0)
			envf = envp.buf;
	}
	if (envf && env_file_load(r->env, envf, err) < 0) {
		strbuf_release(&envp);
		return -1;
	}
	strbuf_release(&envp);
	redact_secrets(r);
	keep_secrets_from_children(r);
	struct strbuf cd = STRBUF_INIT;
	strbuf_addf(&cd, "%s/clusterc-XXXXXX", getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 60
							? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(cd.buf)) {
		strbuf_addf(err, "cannot create a directory for ssh control sockets: %s",
			    strerror(errno));
		strbuf_release(&cd);
		return -1;
	}
	r->ctl_dir = strbuf_detach(&cd, NULL);
	struct strbuf why = STRBUF_INIT;
	r->keep_dir = keep_dir(r->plan.cluster, &why);
	if (!r->keep_dir && why.len)
		fprintf(stderr, "clusterc: ssh connections are not kept for the next run: %s\n",
			why.buf);
	strbuf_release(&why);
	char hn[256] = "";
	gethostname(hn, sizeof(hn) - 1);
	for (char *c = hn; *c; c++)
		if (*c == ' ')
			*c = '_';
	r->machine = xstrdup(*hn ? hn : "unknown");
	if (setup_hosts(r, err) < 0)
		return -1;
	load_local_state(r);
	write_ssh_config(r);
	if (o->apply && !o->dry_run) {
		if (run_log_open(&r->log, o->artifacts, o->keep_runs, err) < 0)
			return -1;
	}
	struct passwd *pw = getpwuid(getuid());
	const char *user = getenv("USER") ? getenv("USER") : pw ? pw->pw_name : "unknown";
	struct strbuf ow = STRBUF_INIT;
	strbuf_addf(&ow, "%s %ld %s %s ", r->machine, (long)getpid(), *user ? user : "unknown",
		    r->log.run_id ? r->log.run_id : "plan");
	/* The owner's identity: a host name and a pid repeat across machines
	 * and PID namespaces, this does not. */
	if (add_run_token(&ow, err) < 0) {
		strbuf_release(&ow);
		return -1;
	}
	for (size_t i = 0; i < ow.len; i++)
		if (ow.buf[i] == '\n' || ow.buf[i] == '\'')
			ow.buf[i] = '_';
	r->owner = strbuf_detach(&ow, NULL);
	if (r->keep_dir) {
		/* What a later run through the same kept master asks to tell
		 * whether this one still lives (host_state.c). */
		const char *t = strrchr(r->owner, ' ');
		r->keep_token = xstrdup(t ? t + 1 : r->owner);
		r->keep_fd = keep_run_hold(r->keep_dir, r->keep_token, err);
		if (r->keep_fd < 0) {
			r->keep_fd = 0;
			return -1;
		}
	}
	r->work_dir = remote_dir(r->plan.cluster);
	if (o->check) {
		/* Its own folder: shipping into the shared one would swap the bundle
		 * under a running apply's steps (drift.c says why it takes no lock). */
		struct strbuf wd = STRBUF_INIT;
		strbuf_addf(&wd, "%s/check/%s", r->work_dir, r->log.run_id ? r->log.run_id : "run");
		free(r->work_dir);
		r->work_dir = strbuf_detach(&wd, NULL);
	}
	r->tty = isatty(1) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
	return 0;
}
