/* step_decide: which steps run, which are skipped or blocked, and why.
 *
 * Pure: every answer comes from the step graph (struct step, its after[]
 * indexes, inputs and outputs), the hash the host remembers (struct
 * step_record, filled by the caller from what it read), the selection and the
 * flags passed in. Nothing here reads a file, talks to a host or keeps
 * state between calls; it writes only the steps it is given. */
#ifndef CLUSTERC_STEP_DECIDE_H
#define CLUSTERC_STEP_DECIDE_H

#include "run.h"

#include <stdbool.h>
#include <stddef.h>

/* What a step's host (or, for local and builtin steps, this machine)
 * remembers about it. */
struct step_record {
	bool known;          /* the records were read */
	bool created_here;   /* the host is created by this run: read once it answers */
	const char *hash;    /* the hash of its last successful run; NULL: none */
	const char *where;   /* "this machine" or the host's name, for the reason */
	const char *unknown; /* why the records are not known; NULL: "host state unknown" */
};

/* --only phases and --limit hosts ("local" names local steps); none: all.
 * Sets each step's selected and st (PENDING or UNSELECTED) and returns how
 * many are selected. */
size_t step_select(struct step *steps, size_t n, char *const *only, size_t nonly,
		   char *const *limit, size_t nlimit, bool destroy);

/* Why s runs or not, from its record: sets s->why and s->why_detail. */
void step_decide(struct step *s, const struct step_record *rec, bool force);

/* Values live in memory for one run: a step that will run and needs an input
 * needs the latest step before it that prints that input to run too, even
 * when it is done (WHY_DONE becomes WHY_NEEDED, with the consumer named). */
void step_decide_producers(struct step *steps, size_t n);

/* The same for a step decided after the barrier (its host was created in this
 * run): done, but a selected later step not done takes one of its outputs. */
void step_decide_late_producer(struct step *steps, size_t n, struct step *s);

bool step_terminal(enum step_status st);
/* Finished in a way that lets the steps waiting for it go on. */
bool step_terminal_good(enum step_status st);

enum step_action {
	STEP_PASS,      /* not selected, or already finished: next one */
	STEP_WAIT,      /* something it waits for has not finished */
	STEP_BLOCKED,   /* something it waits for failed or is blocked */
	STEP_CANCELLED, /* interrupted, or something it waits for was cancelled */
	STEP_SKIP,      /* its host has this hash */
	STEP_RUN,
};

/* What to do with s now that its turn on its host has come; steps is the
 * plan's array that s->after indexes. BLOCKED and CANCELLED put the reason in
 * why. */
enum step_action step_next(const struct step *s, const struct step *steps, bool interrupted,
			   struct strbuf *why);

#endif
