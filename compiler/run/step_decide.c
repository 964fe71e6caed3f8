/* step_decide: run, skip or blocked, and why (see step_decide.h). */
#include "step_decide.h"

#include <stdlib.h>
#include <string.h>

static bool listed(char *const *names, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(names[k], name))
			return true;
	return false;
}

size_t step_select(struct step *steps, size_t n, char *const *only, size_t nonly,
		   char *const *limit, size_t nlimit, bool destroy)
{
	size_t selected = 0;
	for (size_t i = 0; i < n; i++) {
		struct step *s = &steps[i];
		bool sel = (!nonly || listed(only, nonly, s->phase)) &&
			   (!nlimit || listed(limit, nlimit, s->host));
		/* Destroying a VM is never a side effect of converging: it takes
		 * --destroy, and the plan says what waits for it. */
		s->held = sel && s->destroys && !destroy;
		sel = sel && !s->held;
		s->selected = sel;
		s->st = sel ? ST_PENDING : ST_UNSELECTED;
		selected += sel;
	}
	return selected;
}

void step_decide(struct step *s, const struct step_record *rec, bool force)
{
	const char *had = rec->known ? rec->hash : NULL;
	free(s->why_detail);
	s->why_detail = NULL;
	struct strbuf d = STRBUF_INIT;
	if (!rec->known && rec->created_here) {
		s->why = WHY_NEW;
		strbuf_addf(&d, "%s is created in this run: its state is read once it answers",
			    s->host);
	} else if (!rec->known) {
		s->why = WHY_UNKNOWN;
		strbuf_addstr(&d, rec->unknown ? rec->unknown : "host state unknown");
	} else if (force) {
		s->why = WHY_FORCED;
		strbuf_addstr(&d, "--force");
	} else if (!had) {
		s->why = WHY_NEW;
		strbuf_addf(&d, "%s has no record of it", rec->where);
	} else if (strcmp(had, s->hash)) {
		s->why = WHY_CHANGED;
		strbuf_addf(&d, "%s ran %.19s..., now %.19s...", rec->where, had, s->hash);
	} else {
		s->why = WHY_DONE;
		strbuf_addf(&d, "%s has this hash", rec->where);
	}
	s->why_detail = strbuf_detach(&d, NULL);
	s->impact = s->why == WHY_NEW && s->impact_new < IMPACT_COUNT ? s->impact_new : s->impact_planned;
}

static bool prints(const struct step *s, const char *name)
{
	for (size_t o = 0; o < s->noutputs; o++)
		if (!strcmp(s->outputs[o], name))
			return true;
	return false;
}

void step_decide_producers(struct step *steps, size_t n)
{
	/* From the last step back, so a producer re-run for one consumer is
	 * itself a step that runs when it needs a value (its own producer). */
	for (size_t i = n; i-- > 0;) {
		struct step *s = &steps[i];
		if (!s->selected || s->why == WHY_DONE || s->why == WHY_UNKNOWN)
			continue;
		for (size_t k = 0; k < s->ninputs; k++) {
			for (size_t q = i; q-- > 0;) {
				struct step *pr = &steps[q];
				if (!prints(pr, s->inputs[k]))
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

void step_decide_late_producer(struct step *steps, size_t n, struct step *s)
{
	for (size_t o = 0; o < s->noutputs && s->why == WHY_DONE; o++)
		for (size_t k = s->index + 1; k < n; k++) {
			const struct step *c = &steps[k];
			for (size_t q = 0; q < c->ninputs; q++)
				if (c->selected && c->why != WHY_DONE &&
				    !strcmp(c->inputs[q], s->outputs[o]))
					s->why = WHY_NEEDED;
		}
}

bool step_terminal(enum step_status st)
{
	return st != ST_PENDING && st != ST_RUNNING;
}

bool step_terminal_good(enum step_status st)
{
	return st == ST_OK || st == ST_SKIPPED || st == ST_UNSELECTED;
}

enum step_action step_next(const struct step *s, const struct step *steps, bool interrupted,
			   struct strbuf *why)
{
	if (!s->selected || step_terminal(s->st))
		return STEP_PASS;
	const struct step *bad = NULL;
	bool waiting = false;
	for (size_t a = 0; a < s->nafter; a++) {
		const struct step *d = &steps[s->after[a]];
		if (!step_terminal(d->st))
			waiting = true;
		else if (!step_terminal_good(d->st) && !bad)
			bad = d;
	}
	if (bad && bad->st == ST_CANCELLED) {
		strbuf_addf(why, "%s was cancelled", bad->id);
		return STEP_CANCELLED;
	}
	if (bad) {
		strbuf_addf(why, "waits for %s, which %s", bad->id,
			    bad->st == ST_FAILED ? "failed" : "is blocked");
		return STEP_BLOCKED;
	}
	if (waiting)
		return STEP_WAIT;
	if (interrupted) {
		strbuf_addstr(why, "interrupted");
		return STEP_CANCELLED;
	}
	return s->why == WHY_DONE ? STEP_SKIP : STEP_RUN;
}
