/* plan_index: PLAN.md, the page a reviewer reads first: every step in plan
 * order grouped by phase (where it runs, what it does, its impact class, its hash prefix), then
 * the images and Helm charts the cluster pulls, so an air-gapped operator
 * knows what to mirror. Written from the sealed steps and the rendered files
 * only, so it is as deterministic as plan.json. */
#include "plan_internal.h"
#include "sort.h"
#include "xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define HASH_PREFIX 12

/* A Markdown table cell: '|' and newlines would break the row. */
static void add_cell(struct strbuf *sb, const char *s)
{
	for (; s && *s; s++)
		if (*s == '|')
			strbuf_addstr(sb, "\\|");
		else
			strbuf_addch(sb, *s == '\n' ? ' ' : *s);
}

static void add_steps(struct planner *pl, const size_t *order, struct strbuf *sb)
{
	for (size_t p = 0; p < json_array_size(pl->phases); p++) {
		size_t n = 0;
		for (size_t i = 0; i < pl->nsteps; i++)
			n += pl->steps[order[i]].phase == (int)p;
		if (!n)
			continue;
		strbuf_addf(sb, "\n## %s (%zu step%s)\n\n", json_string_value(json_array_get(pl->phases, p)),
			    n, n == 1 ? "" : "s");
		strbuf_addstr(sb, "| step | runs on | what it does | impact | hash |\n|---|---|---|---|---|\n");
		for (size_t i = 0; i < pl->nsteps; i++) {
			const struct plan_step *s = &pl->steps[order[i]];
			if (s->phase != (int)p)
				continue;
			const char *hash = str_member(s->obj, "hash");
			const char *hex = hash && strchr(hash, ':') ? strchr(hash, ':') + 1 : "";
			strbuf_addf(sb, "| `%s` | %s | ", s->name, s->host);
			add_cell(sb, s->does ? s->does : "");
			if (json_is_true(json_object_get(s->obj, "destroys")))
				strbuf_addstr(sb, " (runs only with `--destroy`)");
			const char *impact = str_member(s->obj, "impact");
			/* An upgrade's drain happens on a cluster that exists; on a node
			 * with no record of the step (a new cluster), it changes nothing. */
			const char *first = str_member(s->obj, "impact_new");
			strbuf_addf(sb, " | %s", impact ? impact : "");
			if (first && (!impact || strcmp(first, impact)))
				strbuf_addf(sb, " (%s when new)", first);
			strbuf_addf(sb, " | `%.*s` |\n", HASH_PREFIX, hex);
		}
	}
}

/* The value of a YAML `image:` line ("- image: x", quoted or not), or NULL. */
static char *image_of_line(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '-'))
		i++;
	if (len - i < 6 || strncmp(line + i, "image:", 6))
		return NULL;
	i += 6;
	while (i < len && line[i] == ' ')
		i++;
	size_t e = len;
	while (e > i && isspace((unsigned char)line[e - 1]))
		e--;
	if (e > i + 1 && (line[i] == '"' || line[i] == '\'') && line[e - 1] == line[i]) {
		i++;
		e--;
	}
	if (e == i || memchr(line + i, '{', e - i) || memchr(line + i, '$', e - i))
		return NULL;
	return xstrndup(line + i, e - i);
}

/* "cc_helm_release NAME NAMESPACE CHART REPO VERSION ...", continuation lines
 * joined: "CHART REPO VERSION", or NULL. */
static char *chart_of_call(const char *p, const char *end)
{
	struct strbuf joined = STRBUF_INIT;
	for (; p < end && *p != '\n'; p++) {
		if (*p == '\\' && p + 1 < end && p[1] == '\n') {
			p++;
			continue;
		}
		strbuf_addch(&joined, *p);
	}
	char *words[6] = { 0 };
	size_t n = 0;
	char *save = NULL;
	for (char *w = strtok_r(joined.buf, " \t", &save); w && n < 6; w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	char *res = NULL;
	if (n == 6 && !strchr(words[3], '$') && !strchr(words[5], '$')) {
		struct strbuf r = STRBUF_INIT;
		strbuf_addf(&r, "| %s | %s | %s |", words[3], words[4], words[5]);
		res = strbuf_detach(&r, NULL);
	}
	strbuf_release(&joined);
	return res;
}

struct names {
	char **v;
	size_t n, cap;
};

struct pulls {
	struct names images, charts, downloads, apt;
};

/* "fetch_iso URL FILE SHA256" (templates/iso/installer.sh): "URL | SHA256". */
static char *download_of_line(const char *line, size_t len)
{
	char *l = xstrndup(line, len), *save = NULL, *w[4] = { 0 };
	size_t n = 0;
	for (char *t = strtok_r(l, " \t", &save); t && n < 4; t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	char *res = NULL;
	if (n == 4 && !strchr(w[1], '$')) {
		struct strbuf r = STRBUF_INIT;
		strbuf_addf(&r, "| %s | `%s` |", w[1], w[3]);
		res = strbuf_detach(&r, NULL);
	}
	free(l);
	return res;
}

/* Takes s. */
static void push_unique(struct names *v, char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->v[i], s)) {
			free(s);
			return;
		}
	XGROW(v->v, v->cap, v->n + 1);
	v->v[v->n++] = s;
}

static void names_free(struct names *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
}

/* The shell variables a script sets to plain words or double-quoted text
 * ("NAME=value", "name=\"...$OTHER...\""), each with the ones set above it
 * substituted: enough to read the APT source lines of the templates, which
 * build their URLs from the versions. */
struct shvars {
	struct names names, values;
};

static const char *shvar_get(const struct shvars *sv, const char *name, size_t len)
{
	for (size_t i = sv->names.n; i-- > 0;)
		if (strlen(sv->names.v[i]) == len && !strncmp(sv->names.v[i], name, len))
			return sv->values.v[i];
	return NULL;
}

/* s with $NAME and ${NAME} replaced; NULL when one is unknown. */
static char *shvar_expand(const struct shvars *sv, const char *s, size_t len)
{
	struct strbuf r = STRBUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len && s[i + 1] == '$') {
			strbuf_addch(&r, '$');
			i++;
			continue;
		}
		if (s[i] != '$') {
			strbuf_addch(&r, s[i]);
			continue;
		}
		bool brace = i + 1 < len && s[i + 1] == '{';
		size_t b = i + 1 + brace, k = b;
		while (k < len && (isalnum((unsigned char)s[k]) || s[k] == '_'))
			k++;
		const char *v = k > b ? shvar_get(sv, s + b, k - b) : NULL;
		if (!v || (brace && (k >= len || s[k] != '}'))) {
			strbuf_release(&r);
			return NULL;
		}
		strbuf_addstr(&r, v);
		i = k - !brace;
	}
	return strbuf_detach(&r, NULL);
}

static void shvar_line(struct shvars *sv, const char *p, size_t len)
{
	size_t k = 0;
	while (k < len && (isalnum((unsigned char)p[k]) || p[k] == '_'))
		k++;
	if (!k || k >= len || p[k] != '=' || isdigit((unsigned char)p[0]))
		return;
	const char *v = p + k + 1;
	size_t vl = len - k - 1;
	if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
		v++;
		vl -= 2;
	} else if (memchr(v, ' ', vl) || memchr(v, '"', vl) || memchr(v, '\'', vl)) {
		return;
	}
	char *x = shvar_expand(sv, v, vl);
	if (!x)
		return;
	XGROW(sv->names.v, sv->names.cap, sv->names.n + 1);
	sv->names.v[sv->names.n++] = xstrndup(p, k);
	XGROW(sv->values.v, sv->values.cap, sv->values.n + 1);
	sv->values.v[sv->values.n++] = x;
}

/* A "deb [signed-by=KEYRING] URL SUITE [COMPONENT...]" source line of
 * cc_apt_repo: "| URL | SUITE COMPONENTS | KEYRING |". */
static char *apt_of_line(const struct shvars *sv, const char *line, size_t len)
{
	const char *q = memchr(line, '"', len);
	if (!q || (size_t)(line + len - q) < 20 || strncmp(q, "\"deb [signed-by=", 16))
		return NULL;
	const char *close = memchr(q + 1, '"', (size_t)(line + len - q - 1));
	if (!close)
		return NULL;
	char *src = shvar_expand(sv, q + 1, (size_t)(close - q - 1));
	if (!src)
		return NULL;
	char *res = NULL, *rb = strstr(src, "] ");
	if (rb) {
		*rb = '\0';
		char *url = rb + 2, *suite = strchr(url, ' ');
		if (suite) {
			*suite++ = '\0';
			struct strbuf r = STRBUF_INIT;
			strbuf_addf(&r, "| %s | `%s` | %s |", url, suite, src + 16 - 1);
			res = strbuf_detach(&r, NULL);
		}
	}
	free(src);
	return res;
}

static void scan_file(const struct fileset_entry *e, void *arg)
{
	struct pulls *pu = arg;
	const char *end = e->data + e->len;
	bool yaml = ends_with(e->path, ".yaml") || ends_with(e->path, ".yml");
	bool script = ends_with(e->path, ".sh");
	struct shvars sv = { 0 };
	for (const char *p = e->data; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (script) {
			shvar_line(&sv, p, len);
			char *apt = apt_of_line(&sv, p, len);
			if (apt)
				push_unique(&pu->apt, apt);
		}
		char *img = yaml ? image_of_line(p, len) : NULL;
		if (img)
			push_unique(&pu->images, img);
		if (script && len > 16 && !strncmp(p, "cc_helm_release ", 16)) {
			char *c = chart_of_call(p, end);
			if (c)
				push_unique(&pu->charts, c);
		}
		if (script && len > 10 && !strncmp(p, "fetch_iso ", 10)) {
			char *dl = download_of_line(p, len);
			if (dl)
				push_unique(&pu->downloads, dl);
		}
		p += len + 1;
	}
	names_free(&sv.names);
	names_free(&sv.values);
}

static void add_pulls(struct planner *pl, struct strbuf *sb)
{
	struct pulls pu = { 0 };
	fileset_each_prefix(pl->fs, "", scan_file, &pu);
	qsort(pu.images.v, pu.images.n, sizeof(*pu.images.v), cmp_str_ptr);
	qsort(pu.charts.v, pu.charts.n, sizeof(*pu.charts.v), cmp_str_ptr);
	qsort(pu.downloads.v, pu.downloads.n, sizeof(*pu.downloads.v), cmp_str_ptr);
	qsort(pu.apt.v, pu.apt.n, sizeof(*pu.apt.v), cmp_str_ptr);
	strbuf_addstr(sb, "\n## What the cluster pulls\n\n");
	if (!pu.images.n && !pu.charts.n && !pu.downloads.n && !pu.apt.n)
		strbuf_addstr(sb, "No container images, Helm charts or downloads are named in the rendered files.\n");
	if (pu.images.n) {
		strbuf_addstr(sb, "Container images named in the rendered manifests (charts pull their own):\n\n"
				  "| image | version | digest |\n|---|---|---|\n");
		for (size_t i = 0; i < pu.images.n; i++) {
			const char *img = pu.images.v[i];
			const char *at = strchr(img, '@');
			size_t nlen = at ? (size_t)(at - img) : strlen(img);
			const char *slash = memrchr(img, '/', nlen);
			const char *colon = memrchr(slash ? slash : img, ':', nlen - (size_t)((slash ? slash : img) - img));
			size_t base = colon ? (size_t)(colon - img) : nlen;
			strbuf_addf(sb, "| %.*s | %.*s | %s |\n", (int)base, img,
				    colon ? (int)(nlen - base - 1) : 0, colon ? colon + 1 : "", at ? at + 1 : "tag only");
		}
	}
	if (pu.charts.n) {
		strbuf_addstr(sb, pu.images.n ? "\n" : "");
		strbuf_addstr(sb, "Helm charts the steps install:\n\n| chart | repository | version |\n|---|---|---|\n");
		for (size_t i = 0; i < pu.charts.n; i++)
			strbuf_addf(sb, "%s\n", pu.charts.v[i]);
	}
	if (pu.downloads.n) {
		strbuf_addstr(sb, pu.images.n || pu.charts.n ? "\n" : "");
		strbuf_addstr(sb, "Files the steps download (checked against their sha256):\n\n"
				  "| url | sha256 |\n|---|---|\n");
		for (size_t i = 0; i < pu.downloads.n; i++)
			strbuf_addf(sb, "%s\n", pu.downloads.v[i]);
	}
	if (pu.apt.n) {
		strbuf_addstr(sb, pu.images.n || pu.charts.n || pu.downloads.n ? "\n" : "");
		strbuf_addstr(sb, "APT repositories the nodes add (packages checked against the keyring's key):\n\n"
				  "| repository | suite and components | keyring |\n|---|---|---|\n");
		for (size_t i = 0; i < pu.apt.n; i++)
			strbuf_addf(sb, "%s\n", pu.apt.v[i]);
	}
	names_free(&pu.images);
	names_free(&pu.charts);
	names_free(&pu.downloads);
	names_free(&pu.apt);
}

void plan_index_add(struct planner *pl, const size_t *order, const char *cluster)
{
	struct strbuf sb = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&sb, "# %s: the plan\n\n", cluster ? cluster : "cluster");
	const char *source = json_string_value(json_object_get(json_object_get(pl->model, "clusterc"), "source"));
	if (source && *source)
		strbuf_addf(&sb, "Built from `%s`. Every generated script and YAML file names, in its\n"
				 "`# Generated by clusterc` line, the blocks of that file it came from.\n\n",
			    source);
	strbuf_addf(&sb, "Generated by `clusterc build`; read it first. %zu steps in plan order, grouped by\n"
			 "phase; a step's hash prefix changes when anything it ships changes, and then\n"
			 "`clusterc apply` runs it again. `plan.json` is the same plan for the runner.\n",
		    pl->nsteps);
	add_steps(pl, order, &sb);
	add_pulls(pl, &sb);
	size_t len = sb.len;
	if (fileset_add(pl->fs, "PLAN.md", strbuf_detach(&sb, &len), len, 0644, &err))
		diag_error(pl->d, LOC_NONE, "C0645", "%s", err.buf);
	strbuf_release(&err);
}
