/* step_graph: the steps of plan.json: a manifest step entry becomes a
 * plan_step (host, script or builtin, files, values), then `after` is
 * resolved, the graph ordered topologically and every step hashed. */
#include "plan_internal.h"
#include "impact.h"
#include "step_hash.h"
#include "sort.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT 600

/* ---- steps ------------------------------------------------------------------ */

/* A value name (secret, input, output): it travels as NAME=BASE64 lines and
 * ::clusterc::output NAME lines, so no blanks, '=' or control characters. */
static bool value_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '=' || *s == 0x7f)
			return false;
	return true;
}

/* "secrets", "inputs", "outputs": lists of names, each a template (path
 * context, so an inserted value cannot smuggle in a blank or newline). */
static json_t *string_list(struct planner *pl, const json_t *entry, const char *key,
			   const char *where, const struct item *it, bool *ok)
{
	const json_t *v = json_object_get(entry, key);
	json_t *res = json_array();
	if (!v)
		return res;
	bool good = json_is_array(v);
	for (size_t i = 0; good && i < json_array_size(v); i++)
		good = json_is_string(json_array_get(v, i));
	if (!good) {
		diag_error(pl->d, LOC_NONE, "C0622", "%s: \"%s\" must be a list of strings", where, key);
		*ok = false;
		return res;
	}
	struct strbuf name = STRBUF_INIT, out = STRBUF_INIT;
	strbuf_addf(&name, "%s.%s", where, key);
	for (size_t i = 0; i < json_array_size(v); i++) {
		const char *t = json_string_value(json_array_get(v, i));
		strbuf_reset(&out);
		if (!strstr(t, "{{")) {
			strbuf_addstr(&out, t);
		} else if (tmpl_render_text(pl->eng, name.buf, t, TMPL_CTX_PATH, it->scope, &out, pl->d)) {
			*ok = false;
			break;
		}
		/* A conditional entry ("{{#if ceph.admin_key}}...{{/if}}") that
		 * renders nothing names nothing: an optional secret left out. */
		if (!out.len && strstr(t, "{{#if"))
			continue;
		if (!value_name_ok(out.buf)) {
			diag_error(pl->d, LOC_NONE, "C0623", "%s: \"%s\" entry %zu gives '%s', not a usable name "
				   "(empty, or with a blank or '=')", where, key, i, out.buf);
			*ok = false;
			break;
		}
		json_array_append_new(res, json_string(out.buf));
	}
	strbuf_release(&name);
	strbuf_release(&out);
	return res;
}

/* "after" entries may name an item's step ("node.remove.{{ node.name }}@cluster");
 * one that renders nothing from an "{{#if" names nothing. */
static json_t *render_after(struct planner *pl, const char *where, const json_t *after,
			    const struct item *it)
{
	json_t *res = json_array();
	struct strbuf out = STRBUF_INIT, name = STRBUF_INIT;
	strbuf_addf(&name, "%s.after", where);
	for (size_t i = 0; i < json_array_size(after); i++) {
		const char *t = json_string_value(json_array_get(after, i));
		strbuf_reset(&out);
		if (!strstr(t, "{{"))
			strbuf_addstr(&out, t);
		else if (tmpl_render_text(pl->eng, name.buf, t, TMPL_CTX_PATH, it->scope, &out, pl->d))
			continue;
		/* As in string_list: a conditional entry that renders nothing
		 * ("{{#if node.upgrade_after}}...{{/if}}") waits for nothing. */
		if (!out.len && strstr(t, "{{#if"))
			continue;
		json_array_append_new(res, json_string(out.buf));
	}
	strbuf_release(&out);
	strbuf_release(&name);
	return res;
}

static int step_add_named(struct planner *pl, const json_t *entry, const char *where,
			  const struct item *it, const struct step_ctx *sc, const char *name,
			  const char *on);

int step_graph_add(struct planner *pl, const json_t *entry, const char *where,
		   const struct item *it, void *arg)
{
	const struct step_ctx *sc = arg;
	const char *name = str_member(entry, "name");
	const char *on = str_member(entry, "on");
	/* A name may name its item ("node.remove.{{ node.name }}"): steps one
	 * host runs for several items need one id and state record each. */
	struct strbuf rname = STRBUF_INIT;
	if (name && strstr(name, "{{")) {
		struct strbuf tname = STRBUF_INIT;
		strbuf_addf(&tname, "%s.name", where);
		int rc = tmpl_render_text(pl->eng, tname.buf, name, TMPL_CTX_PATH, it->scope, &rname, pl->d);
		strbuf_release(&tname);
		if (rc) {
			strbuf_release(&rname);
			return -1;
		}
		name = rname.buf;
		if (!json_object_get(pl->names, name))
			json_object_set_new(pl->names, name, json_array());
	}
	int rc = step_add_named(pl, entry, where, it, sc, name, on);
	strbuf_release(&rname);
	return rc;
}

static int step_add_named(struct planner *pl, const json_t *entry, const char *where,
			  const struct item *it, const struct step_ctx *sc, const char *name,
			  const char *on)
{
	if (!name || !*name || strchr(name, '@')) {
		diag_error(pl->d, LOC_NONE, "C0624", "%s: a step needs a \"name\" without '@'", where);
		return -1;
	}
	const char *host = NULL;
	if (on && !strcmp(on, "local")) {
		host = "local";
	} else if (on && !strcmp(on, "cluster")) {
		host = pl->cluster_host;
		if (!host) {
			diag_error(pl->d, LOC_NONE, "C0625", "%s: step '%s' runs on the cluster, but the model has no "
				   "control node", where, name);
			return -1;
		}
	} else if (on && !strcmp(on, "node")) {
		host = it->value ? str_member(it->value, "name") : NULL;
		if (!host) {
			diag_error(pl->d, LOC_NONE, "C0626", "%s: step '%s' runs on a node: it needs \"each\" binding "
				   "a node (a value with a \"name\")", where, name);
			return -1;
		}
		if (!json_object_get(pl->hosts, host)) {
			diag_error(pl->d, LOC_NONE, "C0627", "%s: step '%s' runs on '%s', which is not a node", where,
				   name, host);
			return -1;
		}
	} else {
		diag_error(pl->d, LOC_NONE, "C0628", "%s: step '%s': \"on\" must be \"local\", \"cluster\" or "
			   "\"node\"", where, name);
		return -1;
	}

	struct strbuf id = STRBUF_INIT;
	strbuf_addf(&id, "%s@%s", name, host);
	if (json_object_get(pl->ids, id.buf)) {
		size_t other = (size_t)json_integer_value(json_object_get(pl->ids, id.buf));
		diag_error(pl->d, LOC_NONE, "C0629", "%s: step '%s' is defined twice (also by %s)", where, id.buf,
			   pl->steps[other].where);
		strbuf_release(&id);
		return -1;
	}

	bool ok = true;
	json_t *obj = json_object();
	json_t *files = json_array();
	json_object_set_new(obj, "id", json_string(id.buf));
	json_object_set_new(obj, "name", json_string(name));
	json_object_set_new(obj, "phase", json_incref(json_array_get(pl->phases, (size_t)sc->phase)));
	json_object_set_new(obj, "host", json_string(host));
	json_object_set_new(obj, "on", json_string(on));

	const char *script = str_member(entry, "script");
	const char *builtin = str_member(entry, "builtin");
	const char *outt = str_member(entry, "out");
	if ((script != NULL) == (builtin != NULL)) {
		diag_error(pl->d, LOC_NONE, "C0630", "%s: step '%s' needs exactly one of \"script\" and "
			   "\"builtin\"", where, name);
		ok = false;
	} else if (script) {
		char *out = outt ? render_path(pl, where, "out", outt, it, false) : NULL;
		if (!outt)
			diag_error(pl->d, LOC_NONE, "C0631", "%s: step '%s' needs \"out\" for its script", where, name);
		if (!out || render_to(pl, where, script, out, 0755, it))
			ok = false;
		else {
			json_object_set_new(obj, "script", json_string(out));
			json_array_append_new(files, json_string(out));
		}
		free(out);
	} else {
		json_object_set_new(obj, "builtin", json_string(builtin));
		const char *args = str_member(entry, "args");
		/* With "out", args is a template rendered there; without, it names
		 * a file some "files" entry renders. */
		char *out = NULL;
		if (args && outt) {
			out = render_path(pl, where, "out", outt, it, false);
			if (out && render_to(pl, where, args, out, 0644, it)) {
				free(out);
				out = NULL;
			}
		} else if (args) {
			out = render_path(pl, where, "args", args, it, false);
		}
		if (args && !out) {
			ok = false;
		} else if (out) {
			json_object_set_new(obj, "args", json_string(out));
			json_array_append_new(files, json_string(out));
		}
		free(out);
	}

	const json_t *fl = json_object_get(entry, "files");
	if (fl && !json_is_array(fl)) {
		diag_error(pl->d, LOC_NONE, "C0632", "%s: step '%s': \"files\" must be a list", where, name);
		ok = false;
	}
	for (size_t i = 0; ok && i < json_array_size(fl); i++) {
		const char *f = json_string_value(json_array_get(fl, i));
		if (!f) {
			diag_error(pl->d, LOC_NONE, "C0633", "%s: step '%s': \"files\" must be a list of strings",
				   where, name);
			ok = false;
			break;
		}
		char *p = render_path(pl, where, "files", f, it, true);
		if (!p) {
			ok = false;
			break;
		}
		json_array_append_new(files, json_string(p));
		free(p);
	}
	json_object_set_new(obj, "files", files);
	json_object_set_new(obj, "secrets", string_list(pl, entry, "secrets", where, it, &ok));
	json_object_set_new(obj, "inputs", string_list(pl, entry, "inputs", where, it, &ok));
	json_t *outputs = string_list(pl, entry, "outputs", where, it, &ok);
	json_object_set_new(obj, "outputs", outputs);
	/* Outputs are redacted from every log as secrets unless the manifest
	 * names them public (a public key, a host key): only in plan.json when
	 * some are, so a step without them keeps its hash. */
	json_t *pub = string_list(pl, entry, "public_outputs", where, it, &ok);
	for (size_t i = 0; i < json_array_size(pub); i++) {
		const char *n = json_string_value(json_array_get(pub, i));
		bool found = false;
		for (size_t o = 0; o < json_array_size(outputs) && !found; o++)
			found = !strcmp(n, json_string_value(json_array_get(outputs, o)));
		if (!found) {
			diag_error(pl->d, LOC_NONE, "C0649", "%s: \"public_outputs\" names '%s', "
				   "which is not one of the step's \"outputs\"", where, n);
			ok = false;
		}
	}
	if (json_array_size(pub))
		json_object_set_new(obj, "public_outputs", pub);
	else
		json_decref(pub);
	const json_t *reboot = json_object_get(entry, "reboot");
	if (reboot && !json_is_boolean(reboot)) {
		diag_error(pl->d, LOC_NONE, "C0634", "%s: \"reboot\" must be true or false", where);
		ok = false;
	}
	json_object_set_new(obj, "reboot", json_boolean(json_is_true(reboot)));
	/* Only present when true: a step the runner runs only under --destroy. */
	const json_t *destroys = json_object_get(entry, "destroys");
	if (destroys && !json_is_boolean(destroys)) {
		diag_error(pl->d, LOC_NONE, "C0635", "%s: \"destroys\" must be true or false", where);
		ok = false;
	}
	if (json_is_true(destroys))
		json_object_set_new(obj, "destroys", json_true());
	/* What running the step does to a live cluster, for plan, PLAN.md and the
	 * confirmation before an apply (step_impact_known lists the classes);
	 * every stdlib step states it, "files" when a manifest leaves it out. */
	const json_t *ij = json_object_get(entry, "impact");
	const char *impact = ij ? json_string_value(ij) : "files";
	if (!impact || !step_impact_known(impact)) {
		diag_error(pl->d, LOC_NONE, "C0647", "%s: \"impact\" must be one of %s", where,
			   STEP_IMPACTS);
		ok = false;
	} else {
		json_object_set_new(obj, "impact", json_string(impact));
	}
	/* Only present when given: the class when the host has no record of
	 * the step (a node set up in this run, at the file's version). */
	const json_t *inj = json_object_get(entry, "impact_new");
	if (inj && (!json_is_string(inj) || !step_impact_known(json_string_value(inj)))) {
		diag_error(pl->d, LOC_NONE, "C0648", "%s: \"impact_new\" must be one of %s", where,
			   STEP_IMPACTS);
		ok = false;
	} else if (inj) {
		json_object_set_new(obj, "impact_new", json_incref((json_t *)inj));
	}
	const json_t *does = json_object_get(entry, "does");
	if (does && !json_is_string(does)) {
		diag_error(pl->d, LOC_NONE, "C0646", "%s: \"does\" must be a string (what the step does, in words)",
			   where);
		ok = false;
	}
	const json_t *timeout = json_object_get(entry, "timeout");
	if (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) <= 0)) {
		diag_error(pl->d, LOC_NONE, "C0636", "%s: \"timeout\" must be a positive number of seconds", where);
		ok = false;
	}
	json_object_set_new(obj, "timeout", timeout ? json_incref((json_t *)timeout)
						  : json_integer(DEFAULT_TIMEOUT));
	const json_t *after = json_object_get(entry, "after");
	bool after_ok = !after || json_is_array(after);
	for (size_t i = 0; after_ok && i < json_array_size(after); i++)
		after_ok = json_is_string(json_array_get(after, i));
	if (!after_ok) {
		diag_error(pl->d, LOC_NONE, "C0637", "%s: \"after\" must be a list of strings", where);
		ok = false;
	}
	if (!ok) {
		json_decref(obj);
		strbuf_release(&id);
		return -1;
	}

	XGROW(pl->steps, pl->scap, pl->nsteps + 1);
	struct plan_step *s = &pl->steps[pl->nsteps];
	memset(s, 0, sizeof(*s));
	s->id = strbuf_detach(&id, NULL);
	s->name = xstrdup(name);
	s->host = xstrdup(host);
	s->phase = sc->phase;
	s->seq = pl->nsteps;
	s->obj = obj;
	s->after_raw = after ? render_after(pl, where, after, it) : NULL;
	s->where = xstrdup(where);
	s->does = does ? xstrdup(json_string_value(does)) : NULL;
	json_object_set_new(pl->ids, s->id, json_integer((json_int_t)pl->nsteps));
	json_array_append_new(json_object_get(pl->names, name), json_integer((json_int_t)pl->nsteps));
	pl->nsteps++;
	return 0;
}

/* ---- after, order, hash -------------------------------------------------------- */

static void add_dep(struct plan_step *s, size_t j)
{
	XGROW(s->deps, s->depcap, s->ndeps + 1);
	s->deps[s->ndeps++] = j;
}

static void add_dep_id(struct planner *pl, struct plan_step *s, const char *name, const char *host)
{
	if (!host)
		return;
	struct strbuf id = STRBUF_INIT;
	strbuf_addf(&id, "%s@%s", name, host);
	const json_t *ix = json_object_get(pl->ids, id.buf);
	if (ix)
		add_dep(s, (size_t)json_integer_value(ix));
	strbuf_release(&id);
}

static void suggest_name(struct planner *pl, const char *name)
{
	size_t n = json_object_size(pl->names), i = 0;
	const char **cands = xcalloc(n + 1, sizeof(*cands));
	const char *k;
	json_t *v;
	json_object_foreach(pl->names, k, v)
		cands[i++] = k;
	const char *sug = diag_suggest(name, cands, i);
	if (sug)
		diag_hint(pl->d, "did you mean '%s'?", sug);
	free(cands);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

void step_graph_resolve_after(struct planner *pl, struct plan_step *s)
{
	for (size_t i = 0; i < json_array_size(s->after_raw); i++) {
		const char *ref = json_string_value(json_array_get(s->after_raw, i));
		const char *at = strchr(ref, '@');
		char *name = at ? xstrndup(ref, (size_t)(at - ref)) : xstrdup(ref);
		const char *qual = at ? at + 1 : NULL;
		const json_t *inst = json_object_get(pl->names, name);
		if (!inst) {
			diag_error(pl->d, LOC_NONE, "C0638", "%s: step '%s' runs after '%s', a step no component "
				   "defines", s->where, s->id, ref);
			suggest_name(pl, name);
		} else if (!qual) {
			add_dep_id(pl, s, name, s->host);
		} else if (!strcmp(qual, "all")) {
			for (size_t k = 0; k < json_array_size(inst); k++)
				add_dep(s, (size_t)json_integer_value(json_array_get(inst, k)));
		} else if (!strcmp(qual, "cluster") || !strcmp(qual, "first_control")) {
			add_dep_id(pl, s, name, pl->cluster_host);
		} else if (!strcmp(qual, "local")) {
			add_dep_id(pl, s, name, "local");
		} else if (json_object_get(pl->hosts, qual)) {
			add_dep_id(pl, s, name, qual);
		} else {
			diag_error(pl->d, LOC_NONE, "C0639", "%s: step '%s' runs after '%s': unknown '@%s' (expected "
				   "@all, @cluster, @local, @first_control or a node name)", s->where, s->id,
				   ref, qual);
		}
		free(name);
	}
	if (s->ndeps > 1) {
		qsort(s->deps, s->ndeps, sizeof(*s->deps), cmp_size);
		size_t w = 1;
		for (size_t r = 1; r < s->ndeps; r++)
			if (s->deps[r] != s->deps[w - 1])
				s->deps[w++] = s->deps[r];
		s->ndeps = w;
	}
}

/* Min-heap of step indices by (phase, seq): the next ready step to list. */
struct heap {
	size_t *v;
	size_t n, cap;
	const struct plan_step *steps;
};

static bool heap_less(const struct heap *h, size_t a, size_t b)
{
	const struct plan_step *x = &h->steps[a], *y = &h->steps[b];
	if (x->phase != y->phase)
		return x->phase < y->phase;
	return x->seq < y->seq;
}

static void heap_push(struct heap *h, size_t x)
{
	XGROW(h->v, h->cap, h->n + 1);
	size_t i = h->n++;
	h->v[i] = x;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(h, h->v[i], h->v[p]))
			break;
		size_t t = h->v[i];
		h->v[i] = h->v[p];
		h->v[p] = t;
		i = p;
	}
}

static size_t heap_pop(struct heap *h)
{
	size_t top = h->v[0];
	h->v[0] = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && heap_less(h, h->v[l], h->v[m]))
			m = l;
		if (r < h->n && heap_less(h, h->v[r], h->v[m]))
			m = r;
		if (m == i)
			break;
		size_t t = h->v[i];
		h->v[i] = h->v[m];
		h->v[m] = t;
		i = m;
	}
	return top;
}

/* Kahn's algorithm, always taking the smallest ready step. Fills order;
 * returns how many steps it placed (fewer than nsteps: a cycle). */
size_t step_graph_order(struct planner *pl, size_t *order, size_t *indeg)
{
	size_t n = pl->nsteps;
	/* Reverse edges in one flat array (CSR): who waits for step j. */
	size_t *start = xcalloc(n + 1, sizeof(*start));
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < pl->steps[i].ndeps; k++)
			start[pl->steps[i].deps[k] + 1]++;
	for (size_t j = 0; j < n; j++)
		start[j + 1] += start[j];
	size_t *fill = xcalloc(n + 1, sizeof(*fill));
	size_t *waiters = xcalloc(start[n] + 1, sizeof(*waiters));
	for (size_t i = 0; i < n; i++) {
		indeg[i] = pl->steps[i].ndeps;
		for (size_t k = 0; k < pl->steps[i].ndeps; k++) {
			size_t j = pl->steps[i].deps[k];
			waiters[start[j] + fill[j]++] = i;
		}
	}
	struct heap h = { .steps = pl->steps };
	for (size_t i = 0; i < n; i++)
		if (!indeg[i])
			heap_push(&h, i);
	size_t placed = 0;
	while (h.n) {
		size_t j = heap_pop(&h);
		order[placed++] = j;
		for (size_t k = start[j]; k < start[j + 1]; k++)
			if (--indeg[waiters[k]] == 0)
				heap_push(&h, waiters[k]);
	}
	free(h.v);
	free(start);
	free(fill);
	free(waiters);
	return placed;
}

/* Reports one cycle among the steps Kahn could not place. */
void step_graph_report_cycle(struct planner *pl, const size_t *indeg)
{
	size_t n = pl->nsteps;
	size_t *seen = xcalloc(n, sizeof(*seen));   /* 0: not on the walk; else position + 1 */
	size_t *path = xcalloc(n + 1, sizeof(*path));
	size_t len = 0, cur = SIZE_MAX;
	for (size_t i = 0; i < n && cur == SIZE_MAX; i++)
		if (indeg[i])
			cur = i;
	/* Every unplaced step waits for some unplaced step: walk those edges
	 * until a step repeats. */
	while (cur != SIZE_MAX && !seen[cur]) {
		seen[cur] = len + 1;
		path[len++] = cur;
		size_t next = SIZE_MAX;
		for (size_t k = 0; k < pl->steps[cur].ndeps && next == SIZE_MAX; k++)
			if (indeg[pl->steps[cur].deps[k]])
				next = pl->steps[cur].deps[k];
		cur = next;
	}
	struct strbuf sb = STRBUF_INIT;
	if (cur != SIZE_MAX) {
		for (size_t i = seen[cur] - 1; i < len; i++)
			strbuf_addf(&sb, "'%s' -> ", pl->steps[path[i]].id);
		strbuf_addf(&sb, "'%s'", pl->steps[cur].id);
	}
	diag_error(pl->d, LOC_NONE, "C0640", "steps wait for each other in a cycle: %s (each runs after the next)",
		   sb.buf);
	if (cur != SIZE_MAX)
		diag_note(pl->d, LOC_NONE, "'%s' is defined in %s", pl->steps[cur].id,
			  pl->steps[cur].where);
	strbuf_release(&sb);
	free(seen);
	free(path);
}

static void hash_file(const struct fileset_entry *e, void *arg)
{
	step_hash_file(arg, e->path, e->mode, e->data, e->len);
}

/* Checks that every file a step names exists; returns false after reporting. */
bool step_graph_check_files(struct planner *pl, const struct plan_step *s)
{
	const json_t *files = json_object_get(s->obj, "files");
	bool ok = true;
	for (size_t i = 0; i < json_array_size(files); i++) {
		const char *f = json_string_value(json_array_get(files, i));
		size_t n = strlen(f);
		bool found = n && f[n - 1] == '/' ? fileset_each_prefix(pl->fs, f, NULL, NULL) > 0
						  : fileset_get(pl->fs, f) != NULL;
		if (!found) {
			diag_error(pl->d, LOC_NONE, "C0641", "%s: step '%s' names %s '%s', but no component renders %s",
				   s->where, s->id, f[n - 1] == '/' ? "folder" : "file", f,
				   f[n - 1] == '/' ? "a file there" : "it");
			ok = false;
		}
	}
	return ok;
}

static void hash_step(struct planner *pl, struct plan_step *s)
{
	struct sha256 c;
	step_hash_begin(&c, s->obj);
	const json_t *files = json_object_get(s->obj, "files");
	for (size_t i = 0; i < json_array_size(files); i++) {
		const char *f = json_string_value(json_array_get(files, i));
		size_t n = strlen(f);
		if (n && f[n - 1] == '/') {
			fileset_each_prefix(pl->fs, f, hash_file, &c);
		} else {
			const struct fileset_entry *e = fileset_get(pl->fs, f);
			if (e)
				hash_file(e, &c);
		}
	}
	struct strbuf hex = STRBUF_INIT;
	step_hash_finish(&c, &hex);
	json_object_set_new(s->obj, "hash", json_string(hex.buf));
	strbuf_release(&hex);
}

void step_graph_seal(struct planner *pl)
{
	for (size_t i = 0; i < pl->nsteps; i++) {
		struct plan_step *s = &pl->steps[i];
		json_t *after = json_array();
		/* Ids sort the same way in every build. */
		const char **ids = xcalloc(s->ndeps + 1, sizeof(*ids));
		for (size_t k = 0; k < s->ndeps; k++)
			ids[k] = pl->steps[s->deps[k]].id;
		qsort(ids, s->ndeps, sizeof(*ids), cmp_str_ptr);
		for (size_t k = 0; k < s->ndeps; k++)
			json_array_append_new(after, json_string(ids[k]));
		free(ids);
		json_object_set_new(s->obj, "after", after);
		hash_step(pl, s);
	}
}
