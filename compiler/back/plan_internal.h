/* plan_internal: what plan.c, render.c and step_graph.c share (plan.h is
 * the public side). */
#ifndef CLUSTERC_PLAN_INTERNAL_H
#define CLUSTERC_PLAN_INTERNAL_H

#include "plan.h"
#include "strbuf.h"
#include "tmpl.h"

#include <stdbool.h>
#include <string.h>

/* One step of plan.json while the graph is built (the runner reads its own
 * struct step back from plan.json). */
struct plan_step {
	char *id, *name, *host;
	int phase;
	size_t seq;            /* creation order: manifest, position, each item */
	json_t *obj;           /* the plan.json object, owned */
	json_t *after_raw;     /* the manifest's "after", a new reference or NULL */
	char *where;           /* "stdlib/components/x.json: steps[2]" for messages */
	char *does;            /* the manifest's "does", for PLAN.md only (not hashed), or NULL */
	size_t *deps;
	size_t ndeps, depcap;
};

/* A file rendered from a template, for the YAML parse-back's note. */
struct produced {
	char *out;
	char *tmpl;
};

/* The state of one plan_build: render.c adds files, step_graph.c steps. */
struct planner {
	const json_t *model;
	struct fileset *fs;
	struct diag *d;
	struct tmpl_engine *eng;
	json_t *phases;         /* array of strings, owned */
	const char *cluster_host;
	json_t *hosts;          /* plan.json "hosts", owned */
	struct plan_step *steps;
	size_t nsteps, scap;
	json_t *ids;            /* id -> index */
	json_t *names;          /* every step name any manifest defines -> [index...] */
	struct produced *prod;
	size_t nprod, pcap;
	struct tmpl_reads gate;  /* what the current manifest's "when" read */
};

/* One expansion of an entry: the scope its templates see. */
struct item {
	const struct tmpl_scope *scope;
	const char *var;          /* each variable, or NULL */
	const json_t *value;      /* bound value */
	size_t index;
	/* What decided this expansion exists (the manifest's and the entry's
	 * "when", the "each" list): its files name those blocks too. */
	const struct tmpl_reads *gate;
};

typedef int (*entry_fn)(struct planner *pl, const json_t *entry, const char *where,
			const struct item *it, void *arg);

/* Where a step entry sits, for its order among steps. */
struct step_ctx {
	int phase;
	size_t mindex;   /* manifest index */
	size_t sindex;   /* step position in the manifest */
};

static inline const char *str_member(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static inline bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

/* ---- render.c: templates into the fileset ---------------------------------- */

/* Calls fn for the entry once, or once per item of its `each`, skipping items
 * whose `when` is false. Stops an entry at its first failing item. */
void render_expand(struct planner *pl, const json_t *entry, const char *where, entry_fn fn,
		   void *arg);
/* Renders a path template; a new string, or NULL after reporting. */
char *render_path(struct planner *pl, const char *where, const char *field,
		  const char *text, const struct item *it, bool keep_slash);
/* Renders template tpath to the output path out. */
int render_to(struct planner *pl, const char *where, const char *tpath, const char *out,
	      unsigned mode, const struct item *it);
/* A manifest "files" entry (an entry_fn). */
int render_file_entry(struct planner *pl, const json_t *entry, const char *where,
		      const struct item *it, void *arg);
/* Parses every rendered YAML file back; reports those that do not parse. */
void render_check_yaml(struct planner *pl);

/* ---- step_graph.c: the steps of plan.json ---------------------------------- */

/* A manifest "steps" entry (an entry_fn; arg is a struct step_ctx). */
int step_graph_add(struct planner *pl, const json_t *entry, const char *where,
		   const struct item *it, void *arg);
/* Checks that every file a step names exists; returns false after reporting. */
bool step_graph_check_files(struct planner *pl, const struct plan_step *s);
/* Turns the step's manifest "after" into dependencies (sorted, unique). */
void step_graph_resolve_after(struct planner *pl, struct plan_step *s);
/* Fills order topologically; returns how many steps it placed (fewer than
 * nsteps: a cycle, which step_graph_report_cycle reports from indeg). */
size_t step_graph_order(struct planner *pl, size_t *order, size_t *indeg);
void step_graph_report_cycle(struct planner *pl, const size_t *indeg);
/* Writes every step's sorted "after" ids and its "hash" into its object. */
void step_graph_seal(struct planner *pl);

/* ---- plan_index.c: PLAN.md ------------------------------------------------- */

/* Adds PLAN.md (steps in order, by phase; images and charts pulled) to the
 * fileset, from the sealed steps in order. */
void plan_index_add(struct planner *pl, const size_t *order, const char *cluster);

#endif
