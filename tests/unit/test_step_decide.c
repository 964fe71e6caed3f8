/* Unit tests for run/step_decide: which steps run, are skipped, blocked or
 * cancelled, and why, on small hand-made step graphs. No hosts, no lab. */
#include "step_decide.h"
#include "strbuf.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define MAXSTEPS 8

/* A plan of up to MAXSTEPS steps; every string points at a literal. */
struct graph {
	struct step s[MAXSTEPS];
	size_t after[MAXSTEPS][MAXSTEPS];
	size_t n;
};

static struct step *add(struct graph *g, const char *id, const char *phase, const char *host,
			const char *hash)
{
	struct step *s = &g->s[g->n];
	memset(s, 0, sizeof(*s));
	s->id = s->name = (char *)id;
	s->phase = (char *)phase;
	s->host = (char *)host;
	s->hash = (char *)hash;
	s->index = g->n;
	s->after = g->after[g->n];
	s->selected = true;
	s->st = ST_PENDING;
	s->impact_new = IMPACT_COUNT;
	g->n++;
	return s;
}

static void waits_for(struct graph *g, struct step *s, size_t dep)
{
	g->after[s->index][s->nafter++] = dep;
}

static void release(struct graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->s[i].why_detail);
}

static struct step_record rec_of(const char *hash)
{
	return (struct step_record){ .known = true, .hash = hash, .where = "n1" };
}

static void test_same_hash_is_skipped(void)
{
	struct graph g = { .n = 0 };
	struct step *s = add(&g, "os.base@n1", "os", "n1", "sha256:aaa");
	struct step_record rec = rec_of("sha256:aaa");
	step_decide(s, &rec, false);
	CHECK(s->why == WHY_DONE, "why %d", s->why);
	CHECK(!strcmp(s->why_detail, "n1 has this hash"), "detail '%s'", s->why_detail);
	struct strbuf why = STRBUF_INIT;
	CHECK(step_next(s, g.s, false, &why) == STEP_SKIP, "a done step is skipped");
	strbuf_release(&why);
	step_decide(s, &rec, true);
	CHECK(s->why == WHY_FORCED && !strcmp(s->why_detail, "--force"), "--force runs it");
	CHECK(step_next(s, g.s, false, &why) == STEP_RUN, "a forced step runs");
	strbuf_release(&why);
	release(&g);
}

static void test_changed_or_new_runs(void)
{
	struct graph g = { .n = 0 };
	struct step *s = add(&g, "os.base@n1", "os", "n1", "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	struct step_record rec = rec_of("sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	step_decide(s, &rec, false);
	CHECK(s->why == WHY_CHANGED, "why %d", s->why);
	CHECK(!strcmp(s->why_detail, "n1 ran sha256:aaaaaaaaaaaa..., now sha256:bbbbbbbbbbbb..."),
	      "detail '%s'", s->why_detail);
	struct strbuf why = STRBUF_INIT;
	CHECK(step_next(s, g.s, false, &why) == STEP_RUN, "a changed step runs");
	rec.hash = NULL;
	step_decide(s, &rec, false);
	CHECK(s->why == WHY_NEW && !strcmp(s->why_detail, "n1 has no record of it"),
	      "no record: new (%s)", s->why_detail);
	CHECK(step_next(s, g.s, false, &why) == STEP_RUN, "a new step runs");
	strbuf_release(&why);
	release(&g);
}

static void test_unknown_and_created_here(void)
{
	struct graph g = { .n = 0 };
	struct step *s = add(&g, "os.base@n1", "os", "n1", "sha256:aaa");
	/* A hash passed with known false is not looked at. */
	struct step_record rec = { .known = false, .hash = "sha256:aaa", .where = "n1",
				   .unknown = "unreachable after 3 attempts" };
	step_decide(s, &rec, true);
	CHECK(s->why == WHY_UNKNOWN && !strcmp(s->why_detail, "unreachable after 3 attempts"),
	      "unknown beats --force (%d, %s)", s->why, s->why_detail);
	rec.unknown = NULL;
	step_decide(s, &rec, false);
	CHECK(!strcmp(s->why_detail, "host state unknown"), "default reason '%s'", s->why_detail);
	rec.created_here = true;
	step_decide(s, &rec, false);
	CHECK(s->why == WHY_NEW && strstr(s->why_detail, "n1 is created in this run"),
	      "a host this run creates: new (%s)", s->why_detail);
	release(&g);
}

/* init prints JOIN; join takes it. join will run, init is done: init runs
 * again, because values live only in memory for one run. */
static void test_producer_reruns_for_consumer(void)
{
	struct graph g = { .n = 0 };
	char *outs[] = { "JOIN" }, *ins[] = { "JOIN" };
	struct step *init = add(&g, "k.init@n1", "kubernetes", "n1", "h1");
	init->outputs = outs;
	init->noutputs = 1;
	struct step *other = add(&g, "k.other@n1", "kubernetes", "n1", "h2");
	struct step *join = add(&g, "k.join@n2", "kubernetes", "n2", "h3");
	join->inputs = ins;
	join->ninputs = 1;
	waits_for(&g, join, init->index);
	struct step_record done1 = rec_of("h1"), done2 = rec_of("h2"), changed = rec_of("old");
	step_decide(init, &done1, false);
	step_decide(other, &done2, false);
	step_decide(join, &changed, false);
	step_decide_producers(g.s, g.n);
	CHECK(init->why == WHY_NEEDED, "producer re-run (why %d)", init->why);
	CHECK(!strcmp(init->why_detail, "done, but k.join@n2 needs its output JOIN"),
	      "detail '%s'", init->why_detail);
	CHECK(other->why == WHY_DONE, "an unrelated done step stays done");
	struct strbuf why = STRBUF_INIT;
	CHECK(step_next(init, g.s, false, &why) == STEP_RUN, "the producer runs");
	strbuf_release(&why);

	/* Consumer done too: nobody needs the value, the producer stays done. */
	step_decide(init, &done1, false);
	struct step_record done3 = rec_of("h3");
	step_decide(join, &done3, false);
	step_decide_producers(g.s, g.n);
	CHECK(init->why == WHY_DONE, "no running consumer: producer skipped");

	/* Decided late (its host created in this run): same rule. */
	step_decide(join, &changed, false);
	step_decide_late_producer(g.s, g.n, init);
	CHECK(init->why == WHY_NEEDED, "late: producer re-run for a running consumer");
	release(&g);
}

/* a -> b -> c on one chain: the latest producer before a consumer is the one
 * that runs, and a producer made to run needs its own producer. */
static void test_producer_chain(void)
{
	struct graph g = { .n = 0 };
	char *x[] = { "X" }, *y[] = { "Y" };
	struct step *a = add(&g, "a", "p", "n1", "ha");
	a->outputs = x;
	a->noutputs = 1;
	struct step *b = add(&g, "b", "p", "n1", "hb");
	b->inputs = x;
	b->ninputs = 1;
	b->outputs = y;
	b->noutputs = 1;
	struct step *c = add(&g, "c", "p", "n1", "hc");
	c->inputs = y;
	c->ninputs = 1;
	struct step_record ra = rec_of("ha"), rb = rec_of("hb"), rc = rec_of("changed");
	step_decide(a, &ra, false);
	step_decide(b, &rb, false);
	step_decide(c, &rc, false);
	step_decide_producers(g.s, g.n);
	CHECK(b->why == WHY_NEEDED, "b re-runs for c");
	CHECK(a->why == WHY_NEEDED, "a re-runs for b, which re-runs");
	release(&g);
}

static void test_blocked_and_cancelled(void)
{
	struct graph g = { .n = 0 };
	struct step *base = add(&g, "os.base@n1", "os", "n1", "h1");
	struct step *next = add(&g, "os.next@n1", "os", "n1", "h2");
	waits_for(&g, next, base->index);
	struct strbuf why = STRBUF_INIT;
	next->why = WHY_NEW;
	CHECK(step_next(next, g.s, false, &why) == STEP_WAIT, "waits while base is pending");
	base->st = ST_RUNNING;
	CHECK(step_next(next, g.s, false, &why) == STEP_WAIT, "waits while base runs");
	base->st = ST_FAILED;
	CHECK(step_next(next, g.s, false, &why) == STEP_BLOCKED, "blocked by a failed step");
	CHECK(!strcmp(why.buf, "waits for os.base@n1, which failed"), "why '%s'", why.buf);
	strbuf_reset(&why);
	base->st = ST_BLOCKED;
	CHECK(step_next(next, g.s, false, &why) == STEP_BLOCKED, "blocked by a blocked step");
	CHECK(!strcmp(why.buf, "waits for os.base@n1, which is blocked"), "why '%s'", why.buf);
	strbuf_reset(&why);
	base->st = ST_CANCELLED;
	CHECK(step_next(next, g.s, false, &why) == STEP_CANCELLED, "cancelled with its dependency");
	CHECK(!strcmp(why.buf, "os.base@n1 was cancelled"), "why '%s'", why.buf);
	strbuf_reset(&why);
	base->st = ST_OK;
	CHECK(step_next(next, g.s, true, &why) == STEP_CANCELLED, "interrupted: cancelled");
	CHECK(!strcmp(why.buf, "interrupted"), "why '%s'", why.buf);
	strbuf_reset(&why);
	CHECK(step_next(next, g.s, false, &why) == STEP_RUN, "base ok: runs");
	base->st = ST_SKIPPED;
	CHECK(step_next(next, g.s, false, &why) == STEP_RUN, "base skipped: runs");
	base->st = ST_UNSELECTED;
	CHECK(step_next(next, g.s, false, &why) == STEP_RUN, "base not selected: runs");
	next->st = ST_OK;
	CHECK(step_next(next, g.s, false, &why) == STEP_PASS, "finished: passed over");
	strbuf_release(&why);
	release(&g);
}

static void test_selection(void)
{
	struct graph g = { .n = 0 };
	add(&g, "infra.vm@n1", "infra", "n1", "h");
	add(&g, "os.base@n1", "os", "n1", "h");
	add(&g, "os.base@n2", "os", "n2", "h");
	add(&g, "apps.sync", "apps", "local", "h");
	CHECK(step_select(g.s, g.n, NULL, 0, NULL, 0, false) == 4, "no --only/--limit: all");
	char *only[] = { "os" }, *limit[] = { "n2", "local" };
	CHECK(step_select(g.s, g.n, only, 1, NULL, 0, false) == 2, "--only os");
	CHECK(!g.s[0].selected && g.s[0].st == ST_UNSELECTED, "infra not selected");
	CHECK(g.s[1].selected && g.s[1].st == ST_PENDING, "os selected, pending");
	CHECK(step_select(g.s, g.n, only, 1, limit, 2, false) == 1 && g.s[2].selected,
	      "--only os --limit n2,local: os.base@n2 only");
	CHECK(step_select(g.s, g.n, NULL, 0, limit, 2, false) == 2 && g.s[3].selected,
	      "--limit local selects local steps");
	g.s[0].destroys = true;
	CHECK(step_select(g.s, g.n, NULL, 0, NULL, 0, false) == 3 && !g.s[0].selected && g.s[0].held,
	      "a destroying step is held without --destroy");
	CHECK(step_select(g.s, g.n, NULL, 0, NULL, 0, true) == 4 && g.s[0].selected && !g.s[0].held,
	      "... and runs with it");
	CHECK(step_select(g.s, g.n, only, 1, NULL, 0, false) == 2 && !g.s[0].held,
	      "... and is not held when --only leaves it out anyway");
	g.s[0].destroys = false;
	step_select(g.s, g.n, only, 1, NULL, 0, false);
	struct strbuf why = STRBUF_INIT;
	CHECK(step_next(&g.s[0], g.s, false, &why) == STEP_PASS, "an unselected step is passed over");
	strbuf_release(&why);
}

/* An upgrade's drain step: a drain when its host ran an older version of
 * it, nothing when the host never ran it (a node set up in this run). */
static void test_impact_new(void)
{
	struct graph g = { .n = 0 };
	struct step *s = add(&g, "kubernetes.drain.w1@cp1", "kubernetes", "cp1", "sha256:bbb");
	s->impact_planned = IMPACT_DRAIN;
	s->impact_new = IMPACT_NONE;
	struct step_record rec = rec_of("sha256:aaa");
	step_decide(s, &rec, false);
	CHECK(s->why == WHY_CHANGED && s->impact == IMPACT_DRAIN, "changed: a drain (%d)", s->impact);
	rec = rec_of(NULL);
	step_decide(s, &rec, false);
	CHECK(s->why == WHY_NEW && s->impact == IMPACT_NONE, "new: impact_new (%d)", s->impact);
	rec = (struct step_record){ .created_here = true, .where = "cp1" };
	step_decide(s, &rec, false);
	CHECK(s->why == WHY_NEW && s->impact == IMPACT_NONE, "created here: impact_new (%d)", s->impact);
	struct step *t = add(&g, "gpu.driver@w1", "gpu", "w1", "sha256:bbb");
	t->impact_planned = IMPACT_REBOOT;
	rec = rec_of(NULL);
	step_decide(t, &rec, false);
	CHECK(t->why == WHY_NEW && t->impact == IMPACT_REBOOT, "no impact_new: the planned class (%d)", t->impact);
	release(&g);
}

int main(void)
{
	UNIT_TEST(test_same_hash_is_skipped);
	UNIT_TEST(test_changed_or_new_runs);
	UNIT_TEST(test_unknown_and_created_here);
	UNIT_TEST(test_producer_reruns_for_consumer);
	UNIT_TEST(test_producer_chain);
	UNIT_TEST(test_blocked_and_cancelled);
	UNIT_TEST(test_selection);
	UNIT_TEST(test_impact_new);
	return unit_done();
}
