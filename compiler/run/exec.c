/* run_exec: the scheduler behind `clusterc plan` and `clusterc apply`.
 *
 * One thread, one poll() loop over every child process (after git's
 * run-command and run_processes_parallel): per-host ssh masters, the state
 * read that also takes the host's lock, the bundle shipped as one tar stream,
 * the steps themselves, and the lock release. Each host is a small state
 * machine (enum hphase); steps move PENDING -> RUNNING -> OK/FAILED, or to
 * SKIPPED/BLOCKED/CANCELLED without running.
 *
 * Nothing is decided before every involved host's state is known (the
 * barrier): a step is skipped when its host remembers the same hash, unless a
 * later step that will run needs a value the skipped step prints, in which
 * case the producer runs again. Then, on a terminal, the plan is shown and
 * confirmed, and the steps run: a step starts when everything it waits for is
 * done and the steps before it on its host are finished, at most -j at once.
 *
 * Remote layout (per cluster): /var/lib/clusterc/<cluster>/
 *   lock/owner      "machine pid user run-id epoch" while an apply holds it
 *   state/<step>    the hash of the last successful run of <step>
 *   run/<step>.pid  the pid of a running step's `timeout` wrapper
 *   bundle ->       bundle.<run-id>, replaced atomically by a symlink rename */
#include "run.h"
#include "builtin.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define REMOTE_BASE "/var/lib/clusterc"

enum hphase {
	H_IDLE_UNUSED,  /* no selected step on this host */
	H_NEW,
	H_DEFERRED,     /* created by a builtin step of this run: connect when needed */
	H_CONNECTING,
	H_RETRY_WAIT,
	H_PREP,
	H_READY,        /* state known, waiting for the barrier */
	H_SHIPPING,
	H_IDLE,         /* ready to start its next step */
	H_BUSY,
	H_REBOOT_DOWN,  /* reboot asked: waiting for the master to go away */
	H_RELEASING,
	H_DONE,
	H_FAILED,
};

enum job_kind { J_PREP, J_SHIP, J_STEP, J_BUILTIN, J_REBOOT, J_RELEASE, J_CANCEL };

struct job {
	enum job_kind kind;
	struct rhost *h;
	struct step *s;
	struct proc p;
	struct proc aux;     /* J_SHIP: the local tar */
	bool has_aux;
	struct strbuf out, err, aux_err;
	struct strbuf log;   /* J_STEP: what goes to the step's log */
	struct strbuf line;  /* J_STEP: partial stdout line */
	bool reboot_asked;
	double deadline, kill_at;
	bool termed, cancel_sent;
	bool take_retry;     /* J_PREP: already a takeover of a stale lock */
	bool lock;           /* J_PREP: takes the lock */
	struct job *next;
};

struct rhost {
	char *name;
	bool local;
	struct ssh_host ssh;
	size_t *steps;
	size_t nsteps, next;
	enum hphase ph;
	struct proc master;
	struct strbuf mout, merr;
	char *ctl;
	int attempts;
	double wait_until;
	double reboot_deadline;
	bool rebooting;
	bool resume;        /* after (re)connecting, go on with steps, no state read */
	json_t *state;      /* step name -> hash the host remembers */
	bool state_known;
	bool locked;
	char *lock_note;    /* plan mode: who holds the lock */
	char *fail;
	bool shipped;
	bool deferred;      /* not connected at the start (see H_DEFERRED) */
	bool late;          /* connecting after the barrier: decide its steps then */
	struct job *job;
};

struct run {
	const struct run_opts *o;
	struct run_plan plan;
	struct rhost *hosts;
	size_t nhosts;
	struct inventory inv;
	bool have_inv;
	json_t *env;      /* secrets from the env file */
	json_t *values;   /* step outputs: name -> base64 */
	struct redactor red;
	struct run_log log;
	char *ctl_dir;
	char *ssh_config;
	char *machine, *owner; /* lock identity: "machine pid user run-id" */
	char *local_dir;
	json_t *local_state; /* state key -> hash, for local and builtin steps */
	struct job *jobs;
	int running;
	bool barrier;
	bool interrupted, aborted;
	double interrupt_at;
	double last_draw;
	bool tty;
	int drawn;
	size_t total_sel, finished;
};

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

/* ------------------------------------------------------------ progress */

static const char *status_word(enum step_status st)
{
	switch (st) {
	case ST_PENDING: return "pending";
	case ST_RUNNING: return "running";
	case ST_OK: return "ok";
	case ST_SKIPPED: return "skipped";
	case ST_FAILED: return "failed";
	case ST_BLOCKED: return "blocked";
	case ST_CANCELLED: return "cancelled";
	case ST_UNSELECTED: return "unselected";
	}
	return "?";
}

static void undraw(struct run *r)
{
	if (r->tty && r->drawn) {
		printf("\033[%dA\033[J", r->drawn);
		r->drawn = 0;
	}
}

static void draw(struct run *r)
{
	if (!r->tty || !r->barrier || r->o->quiet)
		return;
	undraw(r);
	double now = now_mono();
	int shown = 0, more = 0;
	for (struct job *j = r->jobs; j; j = j->next) {
		if ((j->kind != J_STEP && j->kind != J_BUILTIN) || !j->s || j->s->st != ST_RUNNING)
			continue;
		if (shown < 12) {
			printf("  \033[1m%-7s\033[0m %s (%.0fs)\n", "running", j->s->id,
			       now - j->s->t_start);
			shown++;
		} else {
			more++;
		}
	}
	if (more) {
		printf("  ... and %d more\n", more);
		shown++;
	}
	printf("[%zu/%zu] steps finished\n", r->finished, r->total_sel);
	shown++;
	fflush(stdout);
	r->drawn = shown;
	r->last_draw = now;
}

__attribute__((format(printf, 2, 3)))
static void say(struct run *r, const char *fmt, ...)
{
	if (r->o->quiet)
		return;
	undraw(r);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	draw(r);
}

static bool terminal_good(enum step_status st)
{
	return st == ST_OK || st == ST_SKIPPED || st == ST_UNSELECTED;
}

static bool terminal(enum step_status st)
{
	return st != ST_PENDING && st != ST_RUNNING;
}

/* Every step state change goes through here: event, progress line. */
static void set_status(struct run *r, struct step *s, enum step_status st, const char *msg)
{
	s->st = st;
	if (msg) {
		free(s->msg);
		s->msg = xstrdup(msg);
	}
	if (terminal(st) && s->selected)
		r->finished++;
	run_log_event(&r->log, status_word(st), s, s->host, msg);
	if (st == ST_SKIPPED && !r->tty && r->o->quiet)
		return;
	if (st == ST_RUNNING) {
		if (!r->tty)
			say(r, "start   %s", s->id);
		else
			draw(r);
		return;
	}
	if (st == ST_OK)
		say(r, "ok      %s (%.1fs)", s->id, s->t_end - s->t_start);
	else if (st == ST_SKIPPED)
		say(r, "skip    %s (done)", s->id);
	else if (st == ST_FAILED)
		say(r, "FAILED  %s%s%s%s%s%s", s->id, msg ? ": " : "", msg ? msg : "",
		    s->log_path ? " (log: " : "", s->log_path ? s->log_path : "",
		    s->log_path ? ")" : "");
	else if (st == ST_BLOCKED)
		say(r, "blocked %s: %s", s->id, msg ? msg : "");
	else if (st == ST_CANCELLED)
		say(r, "cancel  %s: %s", s->id, msg ? msg : "interrupted");
	if (st == ST_FAILED && s->log_path && r->log.dir && !r->o->quiet) {
		/* The tail of the (already redacted) log helps without opening it. */
		struct strbuf p = STRBUF_INIT, t = STRBUF_INIT;
		strbuf_addf(&p, "%s/%s", r->log.dir, s->log_path);
		if (!strbuf_read_file(&t, p.buf) && t.len) {
			size_t lines = 0, i = t.len;
			if (t.buf[i - 1] == '\n')
				i--;
			while (i > 0 && lines < 5) {
				if (t.buf[i - 1] == '\n')
					lines++;
				if (lines < 5)
					i--;
			}
			undraw(r);
			const char *q = t.buf + i;
			while (*q) {
				const char *nl = strchr(q, '\n');
				size_t n = nl ? (size_t)(nl - q) : strlen(q);
				printf("        | %.*s\n", (int)n, q);
				q += n + (nl ? 1 : 0);
			}
			fflush(stdout);
			draw(r);
		}
		strbuf_release(&p);
		strbuf_release(&t);
	}
}

/* ------------------------------------------------------------ jobs */

static struct job *job_new(struct run *r, enum job_kind k, struct rhost *h, struct step *s)
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
	j->next = r->jobs;
	r->jobs = j;
	return j;
}

static void job_free(struct run *r, struct job *j)
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
	free(j);
}

/* The remote command: one string, every argument quoted. The script runs
 * under bash as root: directly when the login is root, else through sudo -n
 * (never a password prompt). */
static void remote_cmd(struct strbuf *cmd, const struct ssh_host *sh, const char *script,
		       const char *const *args)
{
	if (sh->user && !strcmp(sh->user, "root"))
		strbuf_addstr(cmd, "exec bash -c ");
	else if (sh->user)
		strbuf_addstr(cmd, "exec sudo -n bash -c ");
	else
		strbuf_addstr(cmd, "S=; [ \"$(id -u)\" = 0 ] || S='sudo -n'; exec $S bash -c ");
	sq_quote(cmd, script);
	strbuf_addstr(cmd, " clusterc");
	for (; *args; args++) {
		strbuf_addch(cmd, ' ');
		sq_quote(cmd, *args);
	}
}

static int start_remote(struct run *r, struct job *j, const char *script,
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

/* ------------------------------------------------------------ remote scripts */

static const char PREP_SH[] =
	"D=$1 M=$2 I=$3 K=$4\n"
	"if [ \"$M\" = lock ]; then\n"
	"  mkdir -p \"$D/state\" \"$D/run\" || { echo \"ERR cannot create $D\"; echo END; exit 0; }\n"
	"  if mkdir \"$D/lock\" 2>/dev/null; then\n"
	"    printf '%s %(%s)T\\n' \"$I\" -1 > \"$D/lock/owner\"; echo 'LOCK ok'\n"
	"  else\n"
	"    c=$(cat \"$D/lock/owner\" 2>/dev/null)\n"
	"    if [ -n \"$K\" ] && [ \"=$c\" = \"$K\" ]; then\n"
	"      printf '%s %(%s)T\\n' \"$I\" -1 > \"$D/lock/owner\"; echo 'LOCK ok'\n"
	"    else echo \"LOCK held $c\"; fi\n"
	"  fi\n"
	"elif [ -d \"$D/lock\" ]; then echo \"LOCKINFO $(cat \"$D/lock/owner\" 2>/dev/null)\"\n"
	"fi\n"
	"for f in \"$D\"/state/*; do\n"
	"  [ -f \"$f\" ] || continue\n"
	"  case $f in *.tmp) continue;; esac\n"
	"  h=; IFS= read -r h < \"$f\"; printf 'STATE %s %s\\n' \"${f##*/}\" \"$h\"\n"
	"done\n"
	"printf 'NOW %(%s)T\\n' -1\n"
	"echo END\n";

static const char SHIP_SH[] =
	"D=$1 n=bundle.$2\n"
	"mkdir -p \"$D\" && rm -rf \"${D:?}/$n\" && mkdir \"$D/$n\" &&\n"
	"tar -xf - -C \"$D/$n\" --no-same-owner || exit 1\n"
	"[ ! -e \"$D/bundle\" ] || [ -L \"$D/bundle\" ] || rm -rf \"$D/bundle\"\n"
	"ln -sfn \"$n\" \"$D/bundle.lnk\" && mv -Tf \"$D/bundle.lnk\" \"$D/bundle\" || exit 1\n"
	"for o in \"$D\"/bundle.*; do\n"
	"  case ${o##*/} in \"$n\"|bundle.lnk) ;; *) rm -rf \"$o\";; esac\n"
	"done\n";

/* The step wrapper: the script gets stdin (values), a deadline enforced on
 * the host (TERM, then KILL after the grace), and the hash is recorded only
 * when it exits 0, by rename, so state is never half written. The old record
 * goes first: a forced re-run that fails is not "done" afterwards. */
static const char STEP_SH[] =
	"D=$1 S=$2 H=$3 N=$4 T=$5 G=$6\n"
	"cd \"$D/bundle\" || { echo \"clusterc: no bundle in $D\" >&2; exit 97; }\n"
	/* A step that started and did not finish is not done, whatever ran before. */
	"rm -f \"$D/state/$N\"\n"
	"exec 3<&0\n"
	"timeout -k \"$G\" \"$T\" bash \"$S\" <&3 3<&- 2>&1 &\n"
	"p=$!\n"
	"exec 3<&-\n"
	"printf '%s\\n' \"$p\" > \"$D/run/$N.pid\"\n"
	"wait \"$p\"; rc=$?\n"
	"rm -f \"$D/run/$N.pid\"\n"
	"if [ \"$rc\" -eq 0 ]; then\n"
	"  printf '%s\\n' \"$H\" > \"$D/state/$N.tmp\" && mv -f \"$D/state/$N.tmp\" \"$D/state/$N\" || rc=96\n"
	"fi\n"
	"exit \"$rc\"\n";

static const char CANCEL_SH[] =
	"p=$(cat \"$1/run/$2.pid\" 2>/dev/null) && [ -n \"$p\" ] && kill -TERM \"$p\" 2>/dev/null\n"
	"exit 0\n";

static const char RELEASE_SH[] =
	"c=$(cat \"$1/lock/owner\" 2>/dev/null)\n"
	"case $c in \"$2 \"*) rm -rf \"$1/lock\";; esac\n";

static const char REBOOT_SH[] =
	"setsid -f sh -c 'sleep 2; systemctl reboot' </dev/null >/dev/null 2>&1\n";

static char *remote_dir(struct run *r)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, REMOTE_BASE "/%s", r->plan.cluster);
	return strbuf_detach(&sb, NULL);
}

/* Builtin steps run here, whatever node they name, so their record is kept
 * here too, under the step id (a builtin name repeats once per node). */
static const char *state_key(const struct step *s)
{
	return s->builtin ? s->id : s->name;
}

static bool state_here(const struct step *s)
{
	return s->builtin || s->h->local;
}

/* Decides one step from the record its host (or this machine) keeps. */
static void decide_step(struct run *r, struct step *s)
{
	const json_t *st = state_here(s) ? r->local_state : s->h->state;
	bool known = state_here(s) || s->h->state_known;
	const char *had = known ? json_string_value(json_object_get(st, state_key(s))) : NULL;
	free(s->why_detail);
	s->why_detail = NULL;
	struct strbuf d = STRBUF_INIT;
	if (!known && s->h->deferred) {
		s->why = WHY_NEW;
		strbuf_addf(&d, "%s is created in this run: its state is read once it answers",
			    s->host);
	} else if (!known) {
		s->why = WHY_UNKNOWN;
		strbuf_addstr(&d, s->h->fail ? s->h->fail : "host state unknown");
	} else if (r->o->force) {
		s->why = WHY_FORCED;
		strbuf_addstr(&d, "--force");
	} else if (!had) {
		s->why = WHY_NEW;
		strbuf_addf(&d, "%s has no record of it", state_here(s) ? "this machine" : s->host);
	} else if (strcmp(had, s->hash)) {
		s->why = WHY_CHANGED;
		strbuf_addf(&d, "%s ran %.19s..., now %.19s...",
			    state_here(s) ? "this machine" : s->host, had, s->hash);
	} else {
		s->why = WHY_DONE;
		strbuf_addf(&d, "%s has this hash", state_here(s) ? "this machine" : s->host);
	}
	s->why_detail = strbuf_detach(&d, NULL);
}

/* ------------------------------------------------------------ hosts */

static bool host_needs_ship(struct run *r, struct rhost *h);
static void start_ship(struct run *r, struct rhost *h);

static void fail_host(struct run *r, struct rhost *h, const char *msg)
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

static void start_master(struct run *r, struct rhost *h)
{
	struct strvec av = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	proc_release(&h->master);
	proc_init(&h->master);
	strbuf_reset(&h->mout);
	strbuf_reset(&h->merr);
	unlink(h->ctl);
	ssh_argv(&av, &h->ssh, h->ctl, SSH_MASTER, r->o->connect_timeout, r->ssh_config);
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

/* Reads the host's records; with lock, takes its lock in the same round trip.
 * The first read takes no lock (a no-op re-run never writes to a host); the
 * hosts with work are locked after the barrier, and their records read again
 * under the lock. */
static void start_prep(struct run *r, struct rhost *h, const char *take, bool lock)
{
	char *d = remote_dir(r);
	const char *args[] = { d, lock ? "lock" : "read", r->owner, take ? take : "", NULL };
	struct job *j = job_new(r, J_PREP, h, NULL);
	j->lock = lock;
	struct strbuf err = STRBUF_INIT;
	j->deadline = now_mono() + 60;
	if (start_remote(r, j, PREP_SH, args, &err) < 0) {
		job_free(r, j);
		fail_host(r, h, err.buf);
	} else {
		h->job = j;
		h->ph = H_PREP;
	}
	strbuf_release(&err);
	free(d);
}

static bool pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Decides what to do about a lock another apply left: returns true when it
 * is safe to take over (its owner is dead on this machine, or --break-lock on
 * a stale one); else fills why. owner: "machine pid user run-id epoch". */
static bool lock_takeover(struct run *r, const char *owner, long long now_remote,
			  struct strbuf *why)
{
	char mach[256] = "", user[128] = "", rid[128] = "";
	long pid = 0;
	long long when = 0;
	int n = sscanf(owner, "%255s %ld %127s %127s %lld", mach, &pid, user, rid, &when);
	long long age = n == 5 && now_remote ? now_remote - when : -1;
	if (n != 5) {
		strbuf_addf(why, "locked by an unreadable owner record '%s'", owner);
		if (r->o->break_lock)
			return true;
		strbuf_addstr(why, "; rerun with --break-lock once you are sure no apply is running");
		return false;
	}
	time_t w = (time_t)when;
	struct tm tm;
	char ts[64];
	gmtime_r(&w, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (!strcmp(mach, r->machine) && !pid_alive(pid)) {
		strbuf_addf(why, "taking over a stale lock of %s@%s (pid %ld, run %s, since %s): "
			    "that process is gone", user, mach, pid, rid, ts);
		return true;
	}
	if (age >= 0 && (double)age > r->o->lock_stale) {
		strbuf_addf(why, "locked by %s@%s (pid %ld, run %s) since %s: stale (%lld s old)",
			    user, mach, pid, rid, ts, age);
		if (r->o->break_lock)
			return true;
		strbuf_addstr(why, "; rerun with --break-lock once you are sure no apply is running");
		return false;
	}
	strbuf_addf(why, "locked by %s@%s (pid %ld, run %s) since %s: another apply is running",
		    user, mach, pid, rid, ts);
	if (r->o->break_lock)
		return true;
	return false;
}

static void prep_done(struct run *r, struct job *j)
{
	struct rhost *h = j->h;
	int rc = proc_exit_code(j->p.status);
	if (rc != 0 || !strstr(j->out.buf, "END\n")) {
		struct strbuf m = STRBUF_INIT;
		if (strstr(j->err.buf, "sudo"))
			strbuf_addstr(&m, "cannot become root with 'sudo -n' (passwordless sudo is "
				      "required): ");
		else
			strbuf_addf(&m, "reading state failed (exit %d): ", rc);
		strbuf_add(&m, j->err.buf, j->err.len);
		while (m.len && m.buf[m.len - 1] == '\n')
			strbuf_setlen(&m, m.len - 1);
		fail_host(r, h, m.buf);
		strbuf_release(&m);
		return;
	}
	json_t *fresh = json_object();
	long long now_remote = 0;
	const char *held = NULL;
	char *text = xstrdup(j->out.buf);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "STATE ", 6)) {
			char *sp = strchr(line + 6, ' ');
			if (sp) {
				*sp = '\0';
				json_object_set_new(fresh, line + 6, json_string(sp + 1));
			}
		} else if (!strncmp(line, "NOW ", 4)) {
			now_remote = atoll(line + 4);
		} else if (!strcmp(line, "LOCK ok")) {
			h->locked = true;
		} else if (!strncmp(line, "LOCK held", 9)) {
			held = line[9] ? line + 10 : "";
		} else if (!strncmp(line, "LOCKINFO ", 9)) {
			free(h->lock_note);
			h->lock_note = xstrdup(line + 9);
		} else if (!strncmp(line, "ERR ", 4)) {
			fail_host(r, h, line + 4);
			free(text);
			json_decref(fresh);
			return;
		}
	}
	if (held) {
		struct strbuf why = STRBUF_INIT;
		bool take = lock_takeover(r, held, now_remote, &why);
		if (!strncmp(held, r->owner, strlen(r->owner)) && held[strlen(r->owner)] == ' ') {
			/* Our own lock: we reconnected. */
			h->locked = true;
			take = false;
			held = NULL;
		} else if (take && !j->take_retry) {
			say(r, "host %s: %s", h->name, why.buf);
			run_log_event(&r->log, "lock_takeover", NULL, h->name, why.buf);
			struct strbuf k = STRBUF_INIT;
			strbuf_addf(&k, "=%s", held);
			h->job = NULL;
			start_prep(r, h, k.buf, true);
			/* A second refusal is final. */
			if (h->job)
				h->job->take_retry = true;
			strbuf_release(&k);
		} else {
			fail_host(r, h, why.buf);
		}
		strbuf_release(&why);
		if (held) {
			free(text);
			json_decref(fresh);
			return;
		}
	}
	free(text);
	if (j->lock && h->state_known) {
		/* Locked after the barrier: what was decided must still hold. */
		bool same = true;
		for (size_t i = 0; i < h->nsteps; i++) {
			struct step *s = &r->plan.steps[h->steps[i]];
			if (!s->selected || state_here(s))
				continue;
			const char *a = json_string_value(json_object_get(h->state, s->name));
			const char *b = json_string_value(json_object_get(fresh, s->name));
			if ((!a) != (!b) || (a && strcmp(a, b)))
				same = false;
		}
		json_decref(fresh);
		if (!same) {
			fail_host(r, h, "its records changed between reading and locking (did "
				    "another apply run?); run again");
			return;
		}
		run_log_event(&r->log, "host_locked", NULL, h->name, NULL);
		if (host_needs_ship(r, h) && !r->interrupted)
			start_ship(r, h);
		else
			h->ph = H_IDLE;
		return;
	}
	json_decref(h->state);
	h->state = fresh;
	h->state_known = true;
	h->rebooting = false;
	run_log_event(&r->log, "host_ready", NULL, h->name, NULL);
	if (!h->late) {
		h->ph = H_READY;
		return;
	}
	/* A host created in this run: its steps are decided now. */
	for (size_t i = 0; i < h->nsteps; i++) {
		struct step *s = &r->plan.steps[h->steps[i]];
		if (!s->selected || s->st != ST_PENDING || state_here(s))
			continue;
		decide_step(r, s);
		for (size_t o = 0; o < s->noutputs && s->why == WHY_DONE; o++)
			for (size_t k = s->index + 1; k < r->plan.nsteps; k++) {
				struct step *c = &r->plan.steps[k];
				for (size_t q = 0; q < c->ninputs; q++)
					if (c->selected && c->why != WHY_DONE &&
					    !strcmp(c->inputs[q], s->outputs[o]))
						s->why = WHY_NEEDED;
			}
	}
	if (host_needs_ship(r, h) && !r->interrupted)
		start_ship(r, h);
	else
		h->ph = H_IDLE;
}

static void local_prep(struct run *r, struct rhost *h)
{
	struct strbuf p = STRBUF_INIT;
	bool lock = r->o->apply && !r->o->dry_run;
	strbuf_addf(&p, "%s/state", r->local_dir);
	if (lock && mkdir_p(p.buf, 0700) < 0) {
		struct strbuf m = STRBUF_INIT;
		strbuf_addf(&m, "cannot create %s: %s", p.buf, strerror(errno));
		fail_host(r, h, m.buf);
		strbuf_release(&m);
		strbuf_release(&p);
		return;
	}
	if (lock) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/lock", r->local_dir);
		for (int attempt = 0; attempt < 2; attempt++) {
			if (mkdir(p.buf, 0700) == 0) {
				struct strbuf o = STRBUF_INIT, f = STRBUF_INIT;
				strbuf_addf(&o, "%s %lld\n", r->owner, (long long)time(NULL));
				strbuf_addf(&f, "%s/owner", p.buf);
				write_file_atomic(f.buf, o.buf, o.len);
				strbuf_release(&o);
				strbuf_release(&f);
				h->locked = true;
				break;
			}
			struct strbuf f = STRBUF_INIT, owner = STRBUF_INIT, why = STRBUF_INIT;
			strbuf_addf(&f, "%s/owner", p.buf);
			strbuf_read_file(&owner, f.buf);
			while (owner.len && owner.buf[owner.len - 1] == '\n')
				strbuf_setlen(&owner, owner.len - 1);
			bool take = attempt == 0 &&
				    lock_takeover(r, owner.buf, (long long)time(NULL), &why);
			if (take) {
				say(r, "host local: %s", why.buf);
				rm_rf(p.buf);
			}
			if (!take) {
				fail_host(r, h, why.len ? why.buf : "cannot take the local lock");
				strbuf_release(&f);
				strbuf_release(&owner);
				strbuf_release(&why);
				strbuf_release(&p);
				return;
			}
			strbuf_release(&f);
			strbuf_release(&owner);
			strbuf_release(&why);
		}
	}
	strbuf_release(&p);
	h->state_known = true;
	h->ph = H_READY;
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

static void start_ship(struct run *r, struct rhost *h)
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
		char *d = remote_dir(r);
		const char *args[] = { d, r->log.run_id ? r->log.run_id : "x", NULL };
		struct strvec av = STRVEC_INIT;
		struct strbuf cmd = STRBUF_INIT;
		ssh_argv(&av, &h->ssh, h->ctl, SSH_CLIENT, r->o->connect_timeout, r->ssh_config);
		remote_cmd(&cmd, &h->ssh, SHIP_SH, args);
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
		free(d);
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

static void start_simple(struct run *r, struct rhost *h, enum job_kind k, const char *script,
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

static void start_release(struct run *r, struct rhost *h)
{
	if (!h->locked) {
		h->ph = H_DONE;
		return;
	}
	if (h->local) {
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "%s/lock", r->local_dir);
		rm_rf(p.buf);
		strbuf_release(&p);
		h->locked = false;
		h->ph = H_DONE;
		return;
	}
	char *d = remote_dir(r);
	const char *args[] = { d, r->owner, NULL };
	h->ph = H_RELEASING;
	start_simple(r, h, J_RELEASE, RELEASE_SH, args, 30);
	free(d);
}

/* ------------------------------------------------------------ steps */

static const char *lookup_secret(struct run *r, const char *name)
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

static void start_step(struct run *r, struct rhost *h, struct step *s)
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
		char *d = remote_dir(r);
		struct strbuf t = STRBUF_INIT, g = STRBUF_INIT;
		strbuf_addf(&t, "%ld", s->timeout);
		strbuf_addf(&g, "%.0f", r->o->grace < 1 ? 1 : r->o->grace);
		const char *args[] = { d, s->script, s->hash, s->name, t.buf, g.buf, NULL };
		ok = start_remote(r, j, STEP_SH, args, &err);
		/* The host enforces the deadline; this one is the backstop for a
		 * host that stops answering. */
		if (s->timeout)
			j->deadline = now_mono() + (double)s->timeout + r->o->grace + 15;
		free(d);
		strbuf_release(&t);
		strbuf_release(&g);
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
static void step_stdout_lines(struct run *r, struct job *j, bool flush)
{
	size_t start = 0;
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
				bool declared = false;
				for (size_t k = 0; k < j->s->noutputs; k++)
					if (!strcmp(j->s->outputs[k], name))
						declared = true;
				if (!base64_valid(v)) {
					strbuf_addf(&j->log, "clusterc: output %s is not base64; ignored\n",
						    name);
				} else {
					if (!declared)
						strbuf_addf(&j->log, "clusterc: output %s is not declared "
							    "in plan.json; kept anyway\n", name);
					json_object_set_new(r->values, name, json_string(v));
					redact_add_value(&r->red, name, v);
					strbuf_addf(&j->log, "clusterc: captured output %s\n", name);
				}
			}
		} else if (!strcmp(l, "::clusterc::reboot") || !strncmp(l, "::clusterc::reboot ", 19)) {
			j->reboot_asked = true;
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
}

static void write_step_log(struct run *r, struct step *s, struct strbuf *log)
{
	if (!r->log.dir || !s->log_path)
		return;
	redact_apply(&r->red, log);
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/%s", r->log.dir, s->host);
	mkdir_p(p.buf, 0755);
	strbuf_addf(&p, "/%s.log", s->name);
	write_file_atomic(p.buf, log->buf, log->len);
	strbuf_release(&p);
}

static bool step_declares_output(const struct step *s, const char *name)
{
	for (size_t i = 0; i < s->noutputs; i++)
		if (!strcmp(s->outputs[i], name))
			return true;
	return false;
}

static void step_done(struct run *r, struct job *j)
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
	if (j->termed)
		strbuf_addf(&msg, r->interrupted ? "interrupted" : "timed out after %ld s",
			    s->timeout);
	else if (rc == 124 && !state_here(s))
		strbuf_addf(&msg, "timed out after %ld s", s->timeout);
	else if (rc == 255 && !state_here(s) && (h->master.reaped || h->master.out_fd < 0)) {
		strbuf_addstr(&msg, "connection to the host was lost during the step");
		lost = true;
	} else if (rc == 97)
		strbuf_addstr(&msg, "the bundle is missing on the host");
	else if (rc == 96)
		strbuf_addstr(&msg, "the step succeeded but its state could not be recorded");
	else if (rc != 0)
		strbuf_addf(&msg, "exit status %d", rc);
	if (rc == 0 && !j->termed && state_here(s)) {
		struct strbuf f = STRBUF_INIT, v = STRBUF_INIT;
		strbuf_addf(&f, "%s/state", r->local_dir);
		mkdir_p(f.buf, 0700);
		strbuf_addf(&f, "/%s", state_key(s));
		strbuf_addf(&v, "%s\n", s->hash);
		json_object_set_new(r->local_state, state_key(s), json_string(s->hash));
		if (write_file_atomic(f.buf, v.buf, v.len) < 0) {
			strbuf_addf(&msg, "cannot record state in %s: %s", f.buf, strerror(errno));
			rc = 96;
		}
		strbuf_release(&f);
		strbuf_release(&v);
	}
	if (j->err.len) {
		/* stderr is appended after stdout: per-step buffering keeps parallel
		 * output apart; FIXME: interleave by arrival time. */
		strbuf_addstr(&j->log, j->err.buf);
	}
	if (msg.len)
		strbuf_addf(&j->log, "clusterc: %s\n", msg.buf);
	write_step_log(r, s, &j->log);
	bool ok = rc == 0 && !j->termed;
	set_status(r, s, ok ? ST_OK : ST_FAILED, ok ? NULL : msg.buf);
	if (h->ph == H_FAILED) {
		/* The host failed while the step ran: stays failed. */
	} else if (ok && j->reboot_asked && !state_here(s)) {
		char *d = remote_dir(r);
		const char *args[] = { d, NULL };
		say(r, "reboot  %s (after %s)", h->name, s->id);
		run_log_event(&r->log, "reboot", s, h->name, NULL);
		h->rebooting = true;
		h->resume = true;
		h->reboot_deadline = now_mono() + r->o->reboot_timeout;
		h->ph = H_REBOOT_DOWN;
		start_simple(r, h, J_REBOOT, REBOOT_SH, args, 60);
		free(d);
	} else if (lost) {
		fail_host(r, h, "host unreachable (the connection was lost)");
	} else {
		h->ph = H_IDLE;
	}
	strbuf_release(&msg);
}

/* ------------------------------------------------------------ deciding */

static void decide(struct run *r)
{
	struct run_plan *p = &r->plan;
	for (size_t i = 0; i < p->nsteps; i++)
		if (p->steps[i].selected)
			decide_step(r, &p->steps[i]);
	/* A step that will run and needs a value needs its producer to run too
	 * (values live only in memory, for one run). Latest producer before it. */
	for (size_t i = p->nsteps; i-- > 0;) {
		struct step *s = &p->steps[i];
		if (!s->selected || s->why == WHY_DONE || s->why == WHY_UNKNOWN)
			continue;
		for (size_t k = 0; k < s->ninputs; k++) {
			for (size_t q = i; q-- > 0;) {
				struct step *pr = &p->steps[q];
				bool has = false;
				for (size_t o = 0; o < pr->noutputs; o++)
					if (!strcmp(pr->outputs[o], s->inputs[k]))
						has = true;
				if (!has)
					continue;
				if (pr->selected && pr->why == WHY_DONE) {
					pr->why = WHY_NEEDED;
					free(pr->why_detail);
					struct strbuf d = STRBUF_INIT;
					strbuf_addf(&d, "done, but %s needs its output %s", s->id,
						    s->inputs[k]);
					pr->why_detail = strbuf_detach(&d, NULL);
				}
				break;
			}
		}
	}
}

static const char *why_word(enum step_why w)
{
	switch (w) {
	case WHY_UNKNOWN: return "unknown";
	case WHY_NEW: return "new";
	case WHY_CHANGED: return "changed";
	case WHY_DONE: return "done";
	case WHY_FORCED: return "forced";
	case WHY_NEEDED: return "rerun";
	}
	return "?";
}

static size_t print_plan(struct run *r, FILE *out, bool verbose_done)
{
	size_t torun = 0, done = 0, unknown = 0;
	fprintf(out, "plan for %s (%s):\n", r->plan.cluster, r->plan.dir);
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (!s->selected)
			continue;
		if (s->why == WHY_DONE)
			done++;
		else if (s->why == WHY_UNKNOWN)
			unknown++;
		else
			torun++;
		if (s->why == WHY_DONE && !verbose_done)
			continue;
		fprintf(out, "  %-8s %-40s %s\n", why_word(s->why), s->id,
			s->why_detail ? s->why_detail : "");
	}
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].lock_note)
			fprintf(out, "  note: %s is locked by %s\n", r->hosts[i].name,
				r->hosts[i].lock_note);
	fprintf(out, "%zu to run, %zu done, %zu unknown\n", torun, done, unknown);
	return torun;
}

static bool confirm(struct run *r, size_t torun)
{
	size_t hosts = 0;
	for (size_t i = 0; i < r->nhosts; i++) {
		bool any = false;
		for (size_t k = 0; k < r->hosts[i].nsteps; k++) {
			struct step *s = &r->plan.steps[r->hosts[i].steps[k]];
			if (s->selected && s->why != WHY_DONE && s->why != WHY_UNKNOWN)
				any = true;
		}
		hosts += any;
	}
	printf("apply %zu step%s on %zu host%s? [y/N] ", torun, torun == 1 ? "" : "s", hosts,
	       hosts == 1 ? "" : "s");
	fflush(stdout);
	char buf[64];
	if (!fgets(buf, sizeof(buf), stdin))
		return false;
	return buf[0] == 'y' || buf[0] == 'Y';
}

static bool barrier_ready(struct run *r)
{
	for (size_t i = 0; i < r->nhosts; i++) {
		enum hphase ph = r->hosts[i].ph;
		if (ph != H_IDLE_UNUSED && ph != H_READY && ph != H_FAILED && ph != H_DEFERRED)
			return false;
	}
	return true;
}

static bool host_needs_ship(struct run *r, struct rhost *h)
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

/* ------------------------------------------------------------ the loop */

static bool socket_ready(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static double backoff(int attempt)
{
	double d = 0.5;
	for (int i = 1; i < attempt && d < 8; i++)
		d *= 2;
	return d;
}

/* Moves one host forward; returns true when something changed. */
static bool advance_host(struct run *r, struct rhost *h)
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
		if (socket_ready(h->ctl)) {
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
			enum ssh_failure f = ssh_classify(h->merr.buf);
			struct strbuf m = STRBUF_INIT;
			const char *e = h->merr.buf;
			size_t el = h->merr.len;
			while (el && e[el - 1] == '\n')
				el--;
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
		if (host_needs_ship(r, h) && !r->interrupted)
			start_prep(r, h, NULL, true);
		else
			h->ph = H_IDLE;
		return true;
	case H_IDLE: {
		bool changed = false;
		if (!h->local && h->master.pid > 0 && proc_done(&h->master) && h->next < h->nsteps) {
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
			if (!s->selected || terminal(s->st)) {
				h->next++;
				continue;
			}
			const struct step *bad = NULL;
			bool waiting = false;
			for (size_t a = 0; a < s->nafter; a++) {
				const struct step *d = &r->plan.steps[s->after[a]];
				if (!terminal(d->st))
					waiting = true;
				else if (!terminal_good(d->st) && !bad)
					bad = d;
			}
			if (bad) {
				struct strbuf m = STRBUF_INIT;
				if (bad->st == ST_CANCELLED) {
					strbuf_addf(&m, "%s was cancelled", bad->id);
					set_status(r, s, ST_CANCELLED, m.buf);
				} else {
					strbuf_addf(&m, "waits for %s, which %s", bad->id,
						    bad->st == ST_FAILED ? "failed" : "is blocked");
					set_status(r, s, ST_BLOCKED, m.buf);
				}
				strbuf_release(&m);
				h->next++;
				changed = true;
				continue;
			}
			if (waiting)
				break;
			if (r->interrupted) {
				set_status(r, s, ST_CANCELLED, "interrupted");
				h->next++;
				changed = true;
				continue;
			}
			if (s->why == WHY_DONE) {
				set_status(r, s, ST_SKIPPED, NULL);
				h->next++;
				changed = true;
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
		if (!h->job && proc_done(&h->master)) {
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

static void job_finished(struct run *r, struct job *j)
{
	struct rhost *h = j->h;
	switch (j->kind) {
	case J_PREP:
		h->job = NULL;
		prep_done(r, j);
		break;
	case J_SHIP: {
		h->job = NULL;
		int rc = proc_exit_code(j->p.status), trc = proc_exit_code(j->aux.status);
		if (rc == 0 && trc == 0) {
			h->shipped = true;
			h->ph = H_IDLE;
			run_log_event(&r->log, "host_shipped", NULL, h->name, NULL);
		} else {
			struct strbuf m = STRBUF_INIT;
			strbuf_addf(&m, "shipping the bundle failed (tar %d, ssh %d): %s%s", trc, rc,
				    j->aux_err.buf, j->err.buf);
			while (m.len && m.buf[m.len - 1] == '\n')
				strbuf_setlen(&m, m.len - 1);
			fail_host(r, h, m.buf);
			strbuf_release(&m);
		}
		break;
	}
	case J_STEP:
	case J_BUILTIN:
		step_done(r, j);
		break;
	case J_REBOOT:
		h->job = NULL;
		break;
	case J_RELEASE:
		h->job = NULL;
		if (proc_exit_code(j->p.status) != 0)
			say(r, "warning: %s: could not release the lock (%s)", h->name, j->err.buf);
		h->locked = false;
		h->ph = H_DONE;
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
			char *d = remote_dir(r);
			const char *args[] = { d, j->s->name, NULL };
			j->cancel_sent = true;
			start_simple(r, j->h, J_CANCEL, CANCEL_SH, args, 20);
			free(d);
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
				decide(r);
				size_t torun = 0;
				if (!r->o->apply || r->o->dry_run) {
					print_plan(r, stdout, !r->o->apply || r->o->dry_run);
				} else {
					for (size_t i = 0; i < r->plan.nsteps; i++) {
						struct step *s = &r->plan.steps[i];
						if (s->selected && s->why != WHY_DONE &&
						    s->why != WHY_UNKNOWN)
							torun++;
					}
					if (torun && !r->o->yes && r->tty && isatty(0) &&
					    !r->interrupted) {
						print_plan(r, stdout, false);
						if (!confirm(r, torun)) {
							puts("not applied");
							r->aborted = true;
						}
					}
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

/* The builtin child (see start_step): one request on stdin, one answer. */
int run_builtin_child(void)
{
	struct strbuf in = STRBUF_INIT;
	json_error_t je;
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

/* ------------------------------------------------------------ setup */

static int setup_hosts(struct run *r, struct strbuf *err)
{
	struct run_plan *p = &r->plan;
	const struct run_opts *o = r->o;
	/* Select: --only phases, --limit nodes ("local" names local steps). */
	for (size_t i = 0; i < p->nsteps; i++) {
		struct step *s = &p->steps[i];
		bool sel = true;
		if (o->nonly) {
			sel = false;
			for (size_t k = 0; k < o->nonly; k++)
				if (!strcmp(o->only[k], s->phase))
					sel = true;
		}
		if (sel && o->nlimit) {
			sel = false;
			for (size_t k = 0; k < o->nlimit; k++)
				if (!strcmp(o->limit[k], s->host))
					sel = true;
		}
		s->selected = sel;
		s->st = sel ? ST_PENDING : ST_UNSELECTED;
		if (sel)
			r->total_sel++;
	}
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
		struct strbuf ctl = STRBUF_INIT;
		strbuf_addf(&ctl, "%s/h%zu", r->ctl_dir, k);
		h->ctl = strbuf_detach(&ctl, NULL);
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
			while (v.len && v.buf[v.len - 1] == '\n')
				strbuf_setlen(&v, v.len - 1);
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

static void write_summary(struct run *r, int status)
{
	size_t c[ST_UNSELECTED + 1] = { 0 };
	json_t *steps = json_array();
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (!s->selected)
			continue;
		c[s->st]++;
		json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", s->id, "host", s->host, "phase",
				      s->phase, "status", status_word(s->st));
		if (s->st == ST_OK || s->st == ST_FAILED)
			json_object_set_new(o, "duration", json_real(s->t_end - s->t_start));
		if (s->msg)
			json_object_set_new(o, "message", json_string(s->msg));
		if (s->log_path && (s->st == ST_OK || s->st == ST_FAILED))
			json_object_set_new(o, "log", json_string(s->log_path));
		json_array_append_new(steps, o);
	}
	struct strbuf txt = STRBUF_INIT;
	strbuf_addf(&txt, "%s: %zu ok, %zu skipped, %zu failed, %zu blocked, %zu cancelled\n",
		    r->o->dry_run ? "dry run" : "apply", c[ST_OK], c[ST_SKIPPED], c[ST_FAILED],
		    c[ST_BLOCKED], c[ST_CANCELLED]);
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (s->selected && (s->st == ST_FAILED || s->st == ST_BLOCKED)) {
			strbuf_addf(&txt, "  %-8s %s: %s", status_word(s->st), s->id,
				    s->msg ? s->msg : "");
			if (s->log_path && s->st == ST_FAILED && r->log.dir)
				strbuf_addf(&txt, " (log: %s/%s)", r->log.dir, s->log_path);
			strbuf_addch(&txt, '\n');
		}
	}
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].fail)
			strbuf_addf(&txt, "  host %s: %s\n", r->hosts[i].name, r->hosts[i].fail);
	if (r->log.dir)
		strbuf_addf(&txt, "logs: %s\n", r->log.dir);
	undraw(r);
	fputs(txt.buf, stdout);
	fflush(stdout);
	if (r->log.dir) {
		json_t *sum = json_pack("{s:s,s:s,s:i,s:b,s:{s:i,s:i,s:i,s:i,s:i},s:o}", "run",
					r->log.run_id, "cluster", r->plan.cluster, "exit", status,
					"interrupted", r->interrupted, "counts", "ok", (int)c[ST_OK],
					"skipped", (int)c[ST_SKIPPED], "failed", (int)c[ST_FAILED],
					"blocked", (int)c[ST_BLOCKED], "cancelled",
					(int)c[ST_CANCELLED], "steps", steps);
		json_t *hf = json_object();
		for (size_t i = 0; i < r->nhosts; i++)
			if (r->hosts[i].fail)
				json_object_set_new(hf, r->hosts[i].name, json_string(r->hosts[i].fail));
		json_object_set_new(sum, "host_failures", hf);
		char *js = json_dumps(sum, JSON_INDENT(2) | JSON_SORT_KEYS);
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "%s/summary.json", r->log.dir);
		if (js) {
			write_file_atomic(p.buf, js, strlen(js));
			free(js);
		}
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/summary.txt", r->log.dir);
		write_file_atomic(p.buf, txt.buf, txt.len);
		strbuf_release(&p);
		json_decref(sum);
	} else {
		json_decref(steps);
	}
	strbuf_release(&txt);
}

static void teardown(struct run *r)
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
		if (h->ctl)
			unlink(h->ctl);
	}
	if (r->ssh_config)
		unlink(r->ssh_config);
	if (r->ctl_dir)
		rmdir(r->ctl_dir);
}

static void run_free(struct run *r)
{
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
	free(r->ssh_config);
	free(r->machine);
	free(r->owner);
	free(r->local_dir);
	run_plan_release(&r->plan);
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
	int status = 2;
	if (run_plan_load(&r.plan, dir, &err) < 0)
		goto out;
	r.local_dir = state_home(r.plan.cluster);
	if (o->inventory) {
		if (inventory_load(&r.inv, o->inventory, &err) < 0)
			goto out;
		r.have_inv = true;
	}
	const char *envf = o->env_file;
	struct strbuf envp = STRBUF_INIT;
	if (!envf && r.plan.env_file) {
		if (r.plan.env_file[0] != '/')
			strbuf_addf(&envp, "%s/", dir);
		strbuf_addstr(&envp, r.plan.env_file);
		if (access(envp.buf, R_OK) == 0)
			envf = envp.buf;
	}
	if (envf && env_file_load(r.env, envf, &err) < 0) {
		strbuf_release(&envp);
		goto out;
	}
	strbuf_release(&envp);
	/* Secrets from the env file are redacted even if no step prints them. */
	const char *k;
	json_t *v;
	json_object_foreach(r.env, k, v) {
		for (size_t i = 0; i < r.plan.nsteps; i++)
			for (size_t s = 0; s < r.plan.steps[i].nsecrets; s++)
				if (!strcmp(r.plan.steps[i].secrets[s], k)) {
					const char *val = lookup_secret(&r, k);
					struct strbuf b = STRBUF_INIT;
					base64_encode(&b, (const unsigned char *)val, strlen(val));
					redact_add_value(&r.red, k, b.buf);
					strbuf_release(&b);
				}
	}
	for (size_t i = 0; i < r.plan.nsteps; i++)
		for (size_t s = 0; s < r.plan.steps[i].nsecrets; s++) {
			const char *val = getenv(r.plan.steps[i].secrets[s]);
			if (val) {
				struct strbuf b = STRBUF_INIT;
				base64_encode(&b, (const unsigned char *)val, strlen(val));
				redact_add_value(&r.red, r.plan.steps[i].secrets[s], b.buf);
				strbuf_release(&b);
			}
		}
	struct strbuf cd = STRBUF_INIT;
	strbuf_addf(&cd, "%s/clusterc-XXXXXX", getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 60
							? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(cd.buf)) {
		strbuf_addf(&err, "cannot create a directory for ssh control sockets: %s",
			    strerror(errno));
		strbuf_release(&cd);
		goto out;
	}
	r.ctl_dir = strbuf_detach(&cd, NULL);
	char hn[256] = "";
	gethostname(hn, sizeof(hn) - 1);
	for (char *c = hn; *c; c++)
		if (*c == ' ')
			*c = '_';
	r.machine = xstrdup(*hn ? hn : "unknown");
	if (setup_hosts(&r, &err) < 0) {
		status = 2;
		goto out;
	}
	load_local_state(&r);
	{
		struct ssh_host *sh = xcalloc(r.nhosts + 1, sizeof(*sh));
		size_t nsh = 0;
		for (size_t i = 0; i < r.nhosts; i++)
			if (r.hosts[i].ssh.address)
				sh[nsh++] = r.hosts[i].ssh;
		struct strbuf cf = STRBUF_INIT;
		strbuf_addf(&cf, "%s/ssh_config", r.ctl_dir);
		/* Inventory "ssh_options": {"KexAlgorithms": "curve25519-sha256", ...}
		 * (operator-chosen; the host-key rules cannot be loosened). */
		struct strvec extra = STRVEC_INIT;
		const char *ok;
		json_t *ov;
		json_object_foreach(r.have_inv ? json_object_get(r.inv.root, "ssh_options") : NULL,
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
		if (ssh_write_config(cf.buf, sh, nsh, o->connect_timeout,
				     (const char *const *)extra.v) == 0)
			r.ssh_config = strbuf_detach(&cf, NULL);
		strvec_clear(&extra);
		strbuf_release(&cf);
		free(sh);
	}
	if (o->apply && !o->dry_run) {
		if (run_log_open(&r.log, o->artifacts, o->keep_runs, &err) < 0)
			goto out;
	}
	struct passwd *pw = getpwuid(getuid());
	const char *user = getenv("USER") ? getenv("USER") : pw ? pw->pw_name : "unknown";
	struct strbuf ow = STRBUF_INIT;
	strbuf_addf(&ow, "%s %ld %s %s", r.machine, (long)getpid(), *user ? user : "unknown",
		    r.log.run_id ? r.log.run_id : "plan");
	for (size_t i = 0; i < ow.len; i++)
		if (ow.buf[i] == '\n' || ow.buf[i] == '\'')
			ow.buf[i] = '_';
	r.owner = strbuf_detach(&ow, NULL);
	r.tty = isatty(1) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");

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
	struct sigaction sa, old_int, old_term, old_chld, old_pipe;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
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
	run_log_event(&r.log, "run_start", NULL, NULL, NULL);
	run_loop(&r);
	teardown(&r);

	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
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
	} else {
		status = r.interrupted ? 130 : r.aborted ? 1 : bad ? 1 : 0;
		write_summary(&r, status);
	}
	run_log_event(&r.log, "run_end", NULL, NULL, NULL);
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
