/* build_summary: what a build changed against the previous OUTDIR/<cluster>/,
 * the first thing a reviewer reads after `clusterc build`: files added,
 * changed and removed, and the steps whose hash changed (those `clusterc
 * apply` runs again). Computed before the swap, printed after it. */
#include "build_summary.h"
#include "impact.h"
#include "xalloc.h"

#include <jansson.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS_LISTED 20

struct walk {
	const struct fileset *fs;
	size_t root_len;
	size_t added, changed, removed, seen;
};

/* nftw has no argument pointer: one walk at a time (a build is one thread). */
static struct walk *cur_walk;

static bool same_content(const char *path, const struct fileset_entry *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	char *buf = xmalloc(e->len + 1);
	size_t n = fread(buf, 1, e->len + 1, f);
	fclose(f);
	bool same = n == e->len && !memcmp(buf, e->data, e->len);
	free(buf);
	return same;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type != FTW_F)
		return 0;
	struct walk *w = cur_walk;
	const char *rel = path + w->root_len;
	while (*rel == '/')
		rel++;
	const struct fileset_entry *e = fileset_get(w->fs, rel);
	if (!e) {
		w->removed++;
		return 0;
	}
	w->seen++;
	if (!same_content(path, e))
		w->changed++;
	return 0;
}

static json_t *hashes_of(const json_t *plan)
{
	json_t *m = json_object();
	const json_t *steps = json_object_get(plan, "steps");
	for (size_t i = 0; i < json_array_size(steps); i++) {
		const json_t *s = json_array_get(steps, i);
		const char *id = json_string_value(json_object_get(s, "id"));
		const json_t *h = json_object_get(s, "hash");
		if (id && h)
			json_object_set(m, id, (json_t *)h);
	}
	return m;
}

static void add_steps(const char *dir, const struct fileset *fs, struct strbuf *out)
{
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/plan.json", dir);
	json_t *old = json_load_file(p.buf, 0, NULL);
	strbuf_release(&p);
	const struct fileset_entry *e = fileset_get(fs, "plan.json");
	json_t *now = e ? json_loadb(e->data, e->len, 0, NULL) : NULL;
	json_t *was = hashes_of(old);
	const json_t *steps = json_object_get(now, "steps");
	size_t changed = 0, removed = 0;
	struct strbuf list = STRBUF_INIT;
	for (size_t i = 0; i < json_array_size(steps); i++) {
		const json_t *s = json_array_get(steps, i);
		const char *id = json_string_value(json_object_get(s, "id"));
		const json_t *before = id ? json_object_get(was, id) : NULL;
		if (before && json_equal(before, json_object_get(s, "hash")))
			continue;
		if (++changed <= MAX_STEPS_LISTED)
			strbuf_addf(&list, "  %s %s (%s)\n", before ? "changed" : "new    ", id,
				    step_impact_word(step_impact_of(
					    json_string_value(json_object_get(s, "impact")))));
	}
	const char *k;
	json_t *v;
	json_t *ids = hashes_of(now);
	json_object_foreach(was, k, v)
		removed += !json_object_get(ids, k);
	if (changed > MAX_STEPS_LISTED)
		strbuf_addf(&list, "  ... and %zu more\n", changed - MAX_STEPS_LISTED);
	strbuf_addf(out, "%zu step%s to run again (new or changed hash)%s", changed, changed == 1 ? "" : "s",
		    removed ? "" : (changed ? ":\n" : ".\n"));
	if (removed)
		strbuf_addf(out, ", %zu gone from the plan%s", removed, changed ? ":\n" : ".\n");
	strbuf_add(out, list.buf, list.len);
	strbuf_release(&list);
	json_decref(ids);
	json_decref(was);
	json_decref(old);
	json_decref(now);
}

void build_summary(const char *dir, const struct fileset *fs, struct strbuf *out)
{
	struct walk w = { .fs = fs, .root_len = strlen(dir) };
	cur_walk = &w;
	nftw(dir, visit, 16, FTW_PHYS);
	cur_walk = NULL;
	w.added = fs->n - w.seen;
	strbuf_addf(out, "%s: %zu file%s added, %zu changed, %zu removed; ", dir, w.added,
		    w.added == 1 ? "" : "s", w.changed, w.removed);
	add_steps(dir, fs, out);
}
