/* host_state: what a host remembers (state/<step>: the hash of its last
 * successful run) and its lock, read and taken in one round trip
 * (stdlib/runner/prep.sh) and released at the end; for local and builtin
 * steps the same records and lock on this machine. The decisions taken from
 * the records are step_decide.c's. */
#include "exec_internal.h"
#include "remote.h"
#include "ssh_keep.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

/* Builtin steps run here, whatever node they name, so their record is kept
 * here too, under the step id (a builtin name repeats once per node). */
const char *state_key(const struct step *s)
{
	return s->builtin ? s->id : s->name;
}

bool state_here(const struct step *s)
{
	return s->builtin || s->h->local;
}

/* Decides one step from the record its host (or this machine) keeps. */
static void decide_one(struct run *r, struct step *s)
{
	bool here = state_here(s);
	struct step_record rec = {
		.known = here || s->h->state_known,
		.created_here = s->h->deferred,
		.where = here ? "this machine" : s->host,
		.unknown = s->h->fail,
	};
	const json_t *st = here ? r->local_state : s->h->state;
	if (rec.known)
		rec.hash = json_string_value(json_object_get(st, state_key(s)));
	/* drift checks, and reset runs, every step, whatever the host remembers. */
	step_decide(s, &rec, r->o->force || r->o->check || r->o->reset);
}

void decide_steps(struct run *r)
{
	struct run_plan *p = &r->plan;
	for (size_t i = 0; i < p->nsteps; i++)
		if (p->steps[i].selected)
			decide_one(r, &p->steps[i]);
	step_decide_producers(p->steps, p->nsteps);
}

/* Reads the host's records; with lock, takes its lock in the same round trip.
 * The first read takes no lock (a no-op re-run never writes to a host); the
 * hosts with work are locked after the barrier, and their records read again
 * under the lock. */
void start_prep(struct run *r, struct rhost *h, const char *take, bool lock)
{
	char *d = remote_dir(r->plan.cluster);
	const char *args[] = { d, lock ? "lock" : "read", r->owner, take ? take : "", NULL };
	struct job *j = job_new(r, J_PREP, h, NULL);
	j->lock = lock;
	struct strbuf err = STRBUF_INIT;
	j->deadline = now_mono() + 60;
	if (start_remote(r, j, remote_script(REMOTE_PREP), args, &err) < 0) {
		job_free(r, j);
		fail_host(r, h, err.buf);
	} else {
		h->job = j;
		h->ph = H_PREP;
	}
	strbuf_release(&err);
	free(d);
}

/* Decides what to do about a lock another apply left: returns true when it
 * is safe to take over; else fills why. owner: "machine pid user run-id
 * [token] epoch ...". live says what the lock's host knows of its holder
 * (prep.sh, or this machine's flock): "LIVE why", "DEAD why", or "UNSURE"
 * for an owner record of an older clusterc that the host cannot judge, left
 * to its age. Never a pid of this machine: an apply in another PID namespace
 * or on another machine of the same name is alive where this one cannot see. */
static bool lock_takeover(struct run *r, const char *owner, const char *live,
			  long long now_remote, struct strbuf *why)
{
	char mach[256] = "", user[128] = "", rid[128] = "", tok[80] = "";
	long pid = 0;
	long long when = 0;
	bool dead = !strncmp(live, "DEAD ", 5), alive = !strncmp(live, "LIVE ", 5);
	if (!*owner) {
		strbuf_addf(why, "%s a lock with an empty owner record: %s",
			    dead ? "taking over" : "locked:", live + (dead || alive ? 5 : 0));
		if (dead || r->o->break_lock)
			return true;
		strbuf_addstr(why, "; rerun in a moment");
		return false;
	}
	int n = sscanf(owner, "%255s %ld %127s %127s %79s", mach, &pid, user, rid, tok);
	if (n == 5)
		n = !strncmp(tok, "tok-", 4)
			    ? sscanf(owner, "%*s %*s %*s %*s %*s %lld", &when) + 4
			    : sscanf(owner, "%*s %*s %*s %*s %lld", &when) + 4;
	if (n != 5) {
		strbuf_addf(why, "locked by an unreadable owner record '%s'", owner);
		if (r->o->break_lock)
			return true;
		strbuf_addstr(why, "; rerun with --break-lock once you are sure no apply is running");
		return false;
	}
	long long age = now_remote ? now_remote - when : -1;
	time_t w = (time_t)when;
	struct tm tm;
	char ts[64];
	gmtime_r(&w, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (dead) {
		strbuf_addf(why, "taking over a stale lock of %s@%s (pid %ld, run %s, since %s): %s",
			    user, mach, pid, rid, ts, live + 5);
		return true;
	}
	if (!alive && age >= 0 && (double)age > r->o->lock_stale) {
		strbuf_addf(why, "locked by %s@%s (pid %ld, run %s) since %s: stale (%lld s old)",
			    user, mach, pid, rid, ts, age);
		if (r->o->break_lock)
			return true;
		strbuf_addstr(why, "; rerun with --break-lock once you are sure no apply is running");
		return false;
	}
	strbuf_addf(why, "locked by %s@%s (pid %ld, run %s) since %s: another apply is running",
		    user, mach, pid, rid, ts);
	if (alive)
		strbuf_addf(why, " (%s)", live + 5);
	if (r->o->break_lock)
		return true;
	return false;
}

/* The host says the lock's holder lives because its connection is open;
 * when that connection is the one this run's kept master holds (conn, what
 * prep.sh saw above itself), the holder ran from here through the same
 * master, and the file it holds while it lives says whether it still does.
 * owner: "machine pid user run-id token epoch boot-id conn". */
static bool kept_holder_gone(struct run *r, const char *owner, const char *conn)
{
	char tok[80] = "", oconn[80] = "";
	if (sscanf(owner, "%*s %*s %*s %*s %79s %*s %*s %79s", tok, oconn) != 2 ||
	    strncmp(tok, "tok-", 4) || strcmp(oconn, conn))
		return false;
	return !keep_run_alive(r->keep_dir, tok);
}

void prep_done(struct run *r, struct job *j)
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
		strbuf_rtrim_newlines(&m);
		fail_host(r, h, m.buf);
		strbuf_release(&m);
		return;
	}
	json_t *fresh = json_object();
	long long now_remote = 0;
	const char *held = NULL, *live = "UNSURE", *conn = NULL;
	char *text = xstrdup(j->out.buf);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "STATE ", 6)) {
			char *sp = strchr(line + 6, ' ');
			if (sp) {
				*sp = '\0';
				json_object_set_new(fresh, line + 6, json_string(sp + 1));
			}
		} else if (!strncmp(line, "CONN ", 5)) {
			conn = line + 5;
		} else if (!strncmp(line, "NOW ", 4)) {
			now_remote = atoll(line + 4);
		} else if (!strcmp(line, "LOCK ok")) {
			h->locked = true;
		} else if (!strncmp(line, "LOCK held", 9)) {
			held = line[9] ? line + 10 : "";
		} else if (!strncmp(line, "LIVE ", 5) || !strncmp(line, "DEAD ", 5)) {
			live = line;
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
	if (held && h->kept && conn && !strncmp(live, "LIVE its connection", 19) &&
	    kept_holder_gone(r, held, conn))
		live = "DEAD its apply is gone (it ran through this machine's kept connection, "
		       "which is still open)";
	if (held) {
		struct strbuf why = STRBUF_INIT;
		bool take = lock_takeover(r, held, live, now_remote, &why);
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
		decide_one(r, s);
		step_decide_late_producer(r->plan.steps, r->plan.nsteps, s);
	}
	if (host_needs_ship(r, h) && !r->interrupted)
		start_ship(r, h);
	else
		h->ph = H_IDLE;
}

/* What this machine knows of the holder of its lock: the holder flock()s
 * lock/owner before it is published, and keeps it locked while it runs,
 * which another PID namespace sees too. A written owner nobody holds is dead;
 * a missing or empty one is dead once a few seconds old (younger, it is
 * being taken). */
static void local_holder(const char *lockdir, bool written, struct strbuf *live)
{
	struct strbuf f = STRBUF_INIT;
	strbuf_addf(&f, "%s/owner", lockdir);
	int fd = open(f.buf, O_RDONLY | O_CLOEXEC);
	struct stat st;
	long long age = stat(lockdir, &st) == 0 ? (long long)(time(NULL) - st.st_mtime) : 0;
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		strbuf_addstr(live, "LIVE its apply still holds it");
	else if (written)
		strbuf_addstr(live, "DEAD the apply that took it is gone");
	else if (age > 5)
		strbuf_addf(live, "DEAD no apply holds it (%lld s old)", age);
	else
		strbuf_addstr(live, "LIVE it is being taken");
	if (fd >= 0)
		close(fd);
	strbuf_release(&f);
}

/* Takes this machine's lock: lock/ by mkdir, its owner record written and
 * kept flock()ed until released. Returns 0, 1 when it is held (lockdir
 * exists), -1 on an error (in err). */
static int take_local_lock(struct run *r, const char *lockdir, struct strbuf *err)
{
	if (mkdir(lockdir, 0700) < 0) {
		if (errno == EEXIST)
			return 1;
		strbuf_addf(err, "cannot create %s: %s", lockdir, strerror(errno));
		return -1;
	}
	struct strbuf o = STRBUF_INIT, f = STRBUF_INIT, t = STRBUF_INIT;
	strbuf_addf(&o, "%s %lld\n", r->owner, (long long)time(NULL));
	strbuf_addf(&f, "%s/owner", lockdir);
	strbuf_addf(&t, "%s/owner.tmp", lockdir);
	/* Locked before it is published: a written owner is always held. */
	int fd = open(t.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 ||
	    write(fd, o.buf, o.len) != (ssize_t)o.len || fsync(fd) < 0 ||
	    rename(t.buf, f.buf) < 0) {
		strbuf_addf(err, "cannot write %s: %s", f.buf, strerror(errno));
		if (fd >= 0)
			close(fd);
		rm_rf(lockdir);
		fd = -1;
	}
	strbuf_release(&t);
	strbuf_release(&o);
	strbuf_release(&f);
	if (fd < 0)
		return -1;
	r->local_lock_fd = fd;
	return 0;
}

void local_prep(struct run *r, struct rhost *h)
{
	struct strbuf p = STRBUF_INIT, err = STRBUF_INIT;
	bool lock = r->o->apply && !r->o->dry_run;
	strbuf_addf(&p, "%s/state", r->local_dir);
	if (lock && mkdir_p(p.buf, 0700) < 0)
		strbuf_addf(&err, "cannot create %s: %s", p.buf, strerror(errno));
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/lock", r->local_dir);
	for (int attempt = 0; lock && !err.len && !h->locked; attempt++) {
		int got = take_local_lock(r, p.buf, &err);
		if (got == 0) {
			h->locked = true;
			break;
		}
		if (got < 0)
			break;
		struct strbuf f = STRBUF_INIT, owner = STRBUF_INIT, live = STRBUF_INIT;
		strbuf_addf(&f, "%s/owner", p.buf);
		strbuf_read_file(&owner, f.buf);
		strbuf_rtrim_newlines(&owner);
		local_holder(p.buf, owner.len > 0, &live);
		struct strbuf why = STRBUF_INIT;
		bool take = attempt == 0 &&
			    lock_takeover(r, owner.buf, live.buf, (long long)time(NULL), &why);
		if (take) {
			say(r, "host local: %s", why.buf);
			rm_rf(p.buf);
		} else {
			strbuf_addstr(&err, why.len ? why.buf : "cannot take the local lock");
		}
		strbuf_release(&f);
		strbuf_release(&owner);
		strbuf_release(&live);
		strbuf_release(&why);
	}
	strbuf_release(&p);
	if (err.len) {
		fail_host(r, h, err.buf);
		strbuf_release(&err);
		return;
	}
	strbuf_release(&err);
	h->state_known = true;
	h->ph = H_READY;
}

void start_release(struct run *r, struct rhost *h)
{
	if (r->o->check && !h->local && h->shipped) {
		/* A check-only run holds no lock; it removes its own folder. */
		char *d = remote_dir(r->plan.cluster);
		const char *args[] = { d, r->owner, r->work_dir, NULL };
		h->ph = H_RELEASING;
		start_simple(r, h, J_RELEASE, remote_script(REMOTE_RELEASE), args, 30);
		free(d);
		return;
	}
	if (!h->locked) {
		h->ph = H_DONE;
		return;
	}
	if (h->local) {
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "%s/lock", r->local_dir);
		rm_rf(p.buf);
		strbuf_release(&p);
		if (r->local_lock_fd > 0)
			close(r->local_lock_fd);
		r->local_lock_fd = 0;
		h->locked = false;
		h->ph = H_DONE;
		return;
	}
	char *d = remote_dir(r->plan.cluster);
	const char *args[] = { d, r->owner, NULL };
	h->ph = H_RELEASING;
	start_simple(r, h, J_RELEASE, remote_script(REMOTE_RELEASE), args, 30);
	free(d);
}

void release_done(struct run *r, struct job *j)
{
	struct rhost *h = j->h;
	h->job = NULL;
	if (proc_exit_code(j->p.status) != 0)
		say(r, "warning: %s: could not release the lock (%s)", h->name, j->err.buf);
	h->locked = false;
	h->ph = H_DONE;
}
