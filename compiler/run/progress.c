/* progress: what the operator sees of a run: one line per step event, the
 * live "running" lines on a terminal, the plan and its confirmation. */
#include "exec_internal.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

const char *status_word(enum step_status st)
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

void undraw(struct run *r)
{
	if (r->tty && r->drawn) {
		printf("\033[%dA\033[J", r->drawn);
		r->drawn = 0;
	}
}

/* Most hosts shown at once: a screen, not a scroll. */
#define DRAW_MAX_HOSTS 12

static int term_columns(void)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

struct host_progress {
	size_t total, finished;
	const struct step *running;
};

static struct host_progress host_progress(const struct run *r, const struct rhost *h)
{
	struct host_progress p = { 0, 0, NULL };
	for (size_t k = 0; k < h->nsteps; k++) {
		const struct step *s = &r->plan.steps[h->steps[k]];
		if (!s->selected)
			continue;
		p.total++;
		if (step_terminal(s->st))
			p.finished++;
		else if (s->st == ST_RUNNING && !p.running)
			p.running = s;
	}
	return p;
}

/* What a host does now, when it runs no step. */
static const char *host_doing(const struct rhost *h, const struct host_progress *p)
{
	if (h->fail || h->ph == H_FAILED)
		return "failed";
	if (h->rebooting || h->ph == H_REBOOT_DOWN)
		return "rebooting";
	switch (h->ph) {
	case H_DEFERRED: return "not created yet";
	case H_NEW: case H_CONNECTING: case H_RETRY_WAIT: case H_PREP: return "connecting";
	case H_SHIPPING: return "shipping the bundle";
	case H_RELEASING: case H_DONE: return "done";
	default: break;
	}
	return p->finished == p->total ? "done" : "waiting";
}

/* One line per host: done/total of its selected steps, the step it runs and
 * for how long (or what it waits for), then the run's own count and time.
 * Lines are cut to the terminal's width: a wrapped line would break undraw. */
void draw(struct run *r)
{
	if (!r->tty || !r->barrier || r->o->quiet)
		return;
	undraw(r);
	double now = now_mono();
	int cols = term_columns(), shown = 0;
	size_t involved = 0, hidden = 0;
	for (size_t i = 0; i < r->nhosts; i++)
		involved += host_progress(r, &r->hosts[i]).total > 0;
	for (size_t i = 0; i < r->nhosts; i++) {
		struct rhost *h = &r->hosts[i];
		struct host_progress p = host_progress(r, h);
		if (!p.total)
			continue;
		/* Many hosts: the finished ones make room for those still at work. */
		if (shown >= DRAW_MAX_HOSTS || (involved > DRAW_MAX_HOSTS && p.finished == p.total)) {
			hidden++;
			continue;
		}
		char line[512];
		if (p.running)
			snprintf(line, sizeof(line), "  %-16s %3zu/%-3zu %s (%.0fs)", h->name, p.finished,
				 p.total, p.running->id, now - p.running->t_start);
		else
			snprintf(line, sizeof(line), "  %-16s %3zu/%-3zu %s", h->name, p.finished,
				 p.total, host_doing(h, &p));
		printf("%.*s\n", cols - 1, line);
		shown++;
	}
	if (hidden) {
		printf("  ... and %zu more host%s\n", hidden, hidden == 1 ? "" : "s");
		shown++;
	}
	printf("[%zu/%zu] steps finished, %.0fs\n", r->finished, r->total_sel, now - r->t_begin);
	shown++;
	fflush(stdout);
	r->drawn = shown;
	r->last_draw = now;
}

__attribute__((format(printf, 2, 3)))
void say(struct run *r, const char *fmt, ...)
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

/* Every step state change goes through here: event, progress line. */
void set_status(struct run *r, struct step *s, enum step_status st, const char *msg)
{
	s->st = st;
	if (msg) {
		free(s->msg);
		s->msg = xstrdup(msg);
	}
	if (step_terminal(st) && s->selected)
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

const char *why_word(enum step_why w)
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

size_t print_plan(struct run *r, FILE *out, bool verbose_done)
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
		fprintf(out, "  %-8s %-40s %s", why_word(s->why), s->id,
			s->why_detail ? s->why_detail : "");
		/* Only what touches running workloads is worth a word per line. */
		if (s->why != WHY_DONE && s->impact >= IMPACT_RESTART)
			fprintf(out, " [%s]", step_impact_word(s->impact));
		fputc('\n', out);
	}
	size_t held = 0;
	for (size_t i = 0; i < r->plan.nsteps; i++)
		if (r->plan.steps[i].held) {
			fprintf(out, "  %-8s %-40s %s\n", "held", r->plan.steps[i].id,
				"destroys a VM: runs only with --destroy");
			held++;
		}
	for (size_t i = 0; i < r->nhosts; i++)
		if (r->hosts[i].lock_note)
			fprintf(out, "  note: %s is locked by %s\n", r->hosts[i].name,
				r->hosts[i].lock_note);
	fprintf(out, "%zu to run, %zu done, %zu unknown", torun, done, unknown);
	if (held)
		fprintf(out, ", %zu held (--destroy)", held);
	fputc('\n', out);
	struct strbuf sum = STRBUF_INIT;
	if (impact_sum(r, &sum, false))
		fprintf(out, "impact: %s\n", sum.buf);
	strbuf_release(&sum);
	return torun;
}

bool impact_sum(struct run *r, struct strbuf *out, bool disruptive_only)
{
	size_t n[IMPACT_COUNT] = { 0 };
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (s->selected && s->why != WHY_DONE && s->why != WHY_UNKNOWN)
			n[s->impact]++;
	}
	bool any = false;
	/* Most disruptive first: that is what a reader must see. */
	for (int i = IMPACT_COUNT - 1; i >= IMPACT_RESTART; i--) {
		if (!n[i] || (disruptive_only && !step_impact_disrupts((enum impact)i)))
			continue;
		strbuf_addf(out, "%s%zu %s", any ? ", " : "", n[i],
			    n[i] == 1 ? step_impact_word((enum impact)i) : step_impact_plural((enum impact)i));
		any = true;
	}
	return any;
}

bool confirm(struct run *r, size_t torun)
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
	struct strbuf sum = STRBUF_INIT;
	bool any = impact_sum(r, &sum, false);
	printf("apply %zu step%s on %zu host%s%s%s%s? [y/N] ", torun, torun == 1 ? "" : "s", hosts,
	       hosts == 1 ? "" : "s", any ? " (" : "", any ? sum.buf : "", any ? ")" : "");
	strbuf_release(&sum);
	fflush(stdout);
	char buf[64];
	if (!fgets(buf, sizeof(buf), stdin))
		return false;
	return buf[0] == 'y' || buf[0] == 'Y';
}
