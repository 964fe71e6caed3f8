/* render: component manifests' templates into the fileset: `each` and `when`
 * expansion, output paths, file entries, and the YAML parse-back of what
 * was rendered. */
#include "plan_internal.h"
#include "provenance.h"
#include "stdlib_data.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static bool is_ident(const char *s, size_t n)
{
	if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* A short description of an each item for notes: its name, or its index. */
static void describe_item(struct strbuf *sb, const char *var, const json_t *item, size_t index)
{
	const char *name = str_member(item, "name");
	if (name)
		strbuf_addf(sb, "%s = '%s'", var, name);
	else if (json_is_string(item))
		strbuf_addf(sb, "%s = '%s'", var, json_string_value(item));
	else
		strbuf_addf(sb, "%s = item %zu", var, index);
}

/* ---- expansion of `each` and `when` ---------------------------------------- */

/* Calls fn for the entry once, or once per item of its `each`, skipping items
 * whose `when` is false. Stops an entry at its first failing item, so one
 * broken template does not print an error per node. */
void render_expand(struct planner *pl, const json_t *entry, const char *where, entry_fn fn,
		   void *arg)
{
	const json_t *each = json_object_get(entry, "each");
	const json_t *when = json_object_get(entry, "when");
	struct strbuf name = STRBUF_INIT;
	if (when && !json_is_string(when)) {
		diag_error(pl->d, LOC_NONE, "C0609", "%s: \"when\" must be a string (an expression)", where);
		return;
	}
	struct tmpl_reads gate = { 0 };
	tmpl_reads_merge(&gate, &pl->gate);
	struct tmpl_scope root = { .root = pl->model, .reads = &gate };
	if (!each) {
		bool ok = true;
		if (when) {
			strbuf_addf(&name, "%s.when", where);
			if (tmpl_eval_bool(pl->eng, name.buf, json_string_value(when), &root, &ok, pl->d))
				ok = false;
		}
		if (ok) {
			struct item it = { .scope = &root, .gate = &gate };
			fn(pl, entry, where, &it, arg);
		}
		tmpl_reads_release(&gate);
		strbuf_release(&name);
		return;
	}
	const char *spec = json_string_value(each);
	const char *as = NULL;
	for (const char *p = spec ? strstr(spec, " as ") : NULL; p; p = strstr(p + 1, " as "))
		as = p;
	const char *var = as ? as + 4 : NULL;
	while (var && *var == ' ')
		var++;
	size_t vlen = var ? strlen(var) : 0;
	while (vlen && var[vlen - 1] == ' ')
		vlen--;
	if (!as || !is_ident(var, vlen)) {
		diag_error(pl->d, LOC_NONE, "C0615", "%s: \"each\" must read \"LIST as NAME\"", where);
		tmpl_reads_release(&gate);
		return;
	}
	char *varname = xstrndup(var, vlen);
	char *listexpr = xstrndup(spec, (size_t)(as - spec));
	strbuf_addf(&name, "%s.each", where);
	json_t *list = NULL;
	/* The list walked is not what made one element's files: the element is. */
	root.reads = NULL;
	if (tmpl_eval(pl->eng, name.buf, listexpr, &root, &list, pl->d)) {
		/* reported */
	} else if (!list) {
		diag_error(pl->d, LOC_NONE, "C0616", "%s: \"each\": '%s' is not in the model", where, listexpr);
	} else if (!json_is_array(list) && !json_is_null(list)) {
		diag_error(pl->d, LOC_NONE, "C0617", "%s: \"each\": '%s' is not a list", where, listexpr);
	} else {
		strbuf_reset(&name);
		strbuf_addf(&name, "%s.when", where);
		for (size_t i = 0; i < json_array_size(list); i++) {
			const json_t *v = json_array_get(list, i);
			struct tmpl_binding b = { .name = varname, .value = v };
			struct tmpl_reads item_gate = { 0 };
			tmpl_reads_merge(&item_gate, &gate);
			struct tmpl_scope sc = { .root = pl->model, .vars = &b, .nvars = 1, .reads = &item_gate };
			bool ok = true, stop = false;
			if (when && tmpl_eval_bool(pl->eng, name.buf, json_string_value(when), &sc, &ok,
						   pl->d))
				stop = true;
			else if (ok) {
				struct item it = { .scope = &sc, .var = varname, .value = v, .index = i,
						   .gate = &item_gate };
				if (fn(pl, entry, where, &it, arg)) {
					struct strbuf note = STRBUF_INIT;
					describe_item(&note, varname, v, i);
					diag_note(pl->d, LOC_NONE, "%s: while expanding with %s", where, note.buf);
					strbuf_release(&note);
					stop = true;
				}
			}
			tmpl_reads_release(&item_gate);
			if (stop)
				break;
		}
	}
	json_decref(list);
	free(varname);
	free(listexpr);
	tmpl_reads_release(&gate);
	strbuf_release(&name);
}

/* Renders a path template (an "out" or a step "files" entry). Returns a new
 * string or NULL after reporting. keep_slash allows a trailing '/'. */
char *render_path(struct planner *pl, const char *where, const char *field,
		  const char *text, const struct item *it, bool keep_slash)
{
	struct strbuf name = STRBUF_INIT, out = STRBUF_INIT;
	strbuf_addf(&name, "%s.%s", where, field);
	int rc = tmpl_render_text(pl->eng, name.buf, text, TMPL_CTX_PATH, it->scope, &out, pl->d);
	strbuf_release(&name);
	if (rc) {
		strbuf_release(&out);
		return NULL;
	}
	size_t n = out.len;
	if (keep_slash && n && out.buf[n - 1] == '/')
		n--;
	char *check = xstrndup(out.buf, n);
	bool ok = fileset_path_ok(check);
	free(check);
	if (!ok) {
		diag_error(pl->d, LOC_NONE, "C0618", "%s: \"%s\" gives '%s', not a clean relative path", where,
			   field, out.buf);
		strbuf_release(&out);
		return NULL;
	}
	return strbuf_detach(&out, NULL);
}

/* Renders template tpath to the output path out. */
int render_to(struct planner *pl, const char *where, const char *tpath, const char *out,
	      unsigned mode, const struct item *it)
{
	struct strbuf body = STRBUF_INIT, err = STRBUF_INIT;
	struct tmpl_reads reads = { 0 };
	struct tmpl_scope scope = *it->scope;
	scope.reads = &reads;
	tmpl_reads_merge(&reads, it->gate);
	if (tmpl_render(pl->eng, tpath, &scope, &body, pl->d)) {
		strbuf_release(&body);
		tmpl_reads_release(&reads);
		diag_note(pl->d, LOC_NONE, "%s: while rendering '%s' to '%s'", where, tpath, out);
		return -1;
	}
	provenance_header(pl->model, &reads, out, &body);
	tmpl_reads_release(&reads);
	size_t len = body.len;
	if (fileset_add(pl->fs, out, strbuf_detach(&body, NULL), len, mode, &err)) {
		diag_error(pl->d, LOC_NONE, "C0619", "%s: %s", where, err.buf);
		strbuf_release(&err);
		return -1;
	}
	XGROW(pl->prod, pl->pcap, pl->nprod + 1);
	pl->prod[pl->nprod].out = xstrdup(out);
	pl->prod[pl->nprod].tmpl = xstrdup(tpath);
	pl->nprod++;
	return 0;
}

/* ---- files ------------------------------------------------------------------ */

int render_file_entry(struct planner *pl, const json_t *entry, const char *where,
		      const struct item *it, void *arg)
{
	(void)arg;
	const char *tpath = str_member(entry, "template");
	const char *outt = str_member(entry, "out");
	if (!tpath || !outt) {
		diag_error(pl->d, LOC_NONE, "C0620", "%s: a file needs \"template\" and \"out\" strings", where);
		return -1;
	}
	char *out = render_path(pl, where, "out", outt, it, false);
	if (!out)
		return -1;
	int rc = render_to(pl, where, tpath, out, ends_with(out, ".sh") ? 0755 : 0644, it);
	free(out);
	return rc;
}

/* ---- YAML parse-back -------------------------------------------------------------- */

static bool wants_yaml_check(const char *path)
{
	return ends_with(path, ".yaml") || ends_with(path, ".yml") || ends_with(path, "user-data") ||
	       ends_with(path, "meta-data");
}

/* Parses every document; returns 0, or -1 with the problem in why. */
static int yaml_parses(const char *data, size_t len, struct strbuf *why)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = 0;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			strbuf_addf(why, "%s at line %zu, column %zu", p.problem ? p.problem : "error",
				    p.problem_mark.line + 1, p.problem_mark.column + 1);
			if (p.context)
				strbuf_addf(why, " (%s at line %zu)", p.context, p.context_mark.line + 1);
			rc = -1;
			break;
		}
		bool end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (end)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}

void render_check_yaml(struct planner *pl)
{
	for (size_t i = 0; i < pl->nprod; i++) {
		if (!wants_yaml_check(pl->prod[i].out))
			continue;
		const struct fileset_entry *e = fileset_get(pl->fs, pl->prod[i].out);
		if (!e)
			continue;
		struct strbuf why = STRBUF_INIT;
		if (yaml_parses(e->data, e->len, &why)) {
			char *disp = stdlib_display_path(pl->prod[i].tmpl);
			diag_error(pl->d, LOC_NONE, "C0621", "rendered file '%s' is not valid YAML: %s", e->path,
				   why.buf);
			diag_note(pl->d, LOC_NONE, "'%s' comes from the template %s", e->path, disp);
			free(disp);
		}
		strbuf_release(&why);
	}
}
