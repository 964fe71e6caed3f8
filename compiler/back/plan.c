/* plan: the driver of plan_build: the model's phases and hosts, every
 * component manifest read and expanded (render.c renders, step_graph.c
 * collects steps), then plan.json assembled. */
#include "plan_internal.h"
#include "stdlib_data.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

static const char *const default_phases[] = { "infra",   "os",  "kubernetes", "network",
					      "storage", "gpu", "gitops",     "apps" };

/* ---- manifests --------------------------------------------------------------- */

static int phase_index(struct planner *pl, const char *phase)
{
	for (size_t i = 0; phase && i < json_array_size(pl->phases); i++)
		if (!strcmp(json_string_value(json_array_get(pl->phases, i)), phase))
			return (int)i;
	return -1;
}

static json_t *load_manifest(struct planner *pl, const char *path, const char *disp)
{
	size_t len = 0;
	char *text = stdlib_read(path, &len);
	if (!text) {
		diag_error(pl->d, LOC_NONE, "C0604", "cannot read %s", disp);
		return NULL;
	}
	json_error_t err;
	json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!m) {
		int32_t id = diag_add_source(pl->d, disp, text, len);
		size_t pos = (size_t)err.position <= len ? (size_t)err.position : len;
		/* jansson points just past the bad token; step back onto it. */
		if (pos > 0 && pos == len)
			pos--;
		diag_error(pl->d, (struct loc){ .file = id, .start = (uint32_t)pos, .end = (uint32_t)pos + 1 },
			   "C0605", "%s", err.text);
		return NULL;
	}
	free(text);
	if (!json_is_object(m)) {
		diag_error(pl->d, LOC_NONE, "C0606", "%s: a manifest is a JSON object", disp);
		json_decref(m);
		return NULL;
	}
	return m;
}

static void do_manifest(struct planner *pl, const json_t *m, const char *disp, size_t mindex)
{
	const char *comp = str_member(m, "component");
	const char *phase = str_member(m, "phase");
	int pi = phase_index(pl, phase);
	pl->gate.n = 0;
	if (!comp) {
		diag_error(pl->d, LOC_NONE, "C0607", "%s: \"component\" must be a string", disp);
		return;
	}
	const json_t *files = json_object_get(m, "files");
	const json_t *steps = json_object_get(m, "steps");
	if ((files && !json_is_array(files)) || (steps && !json_is_array(steps))) {
		diag_error(pl->d, LOC_NONE, "C0608", "%s: \"files\" and \"steps\" must be lists", disp);
		return;
	}
	const json_t *when = json_object_get(m, "when");
	if (when) {
		if (!json_is_string(when)) {
			diag_error(pl->d, LOC_NONE, "C0609", "%s: \"when\" must be a string (an expression)", disp);
			return;
		}
		struct strbuf name = STRBUF_INIT;
		strbuf_addf(&name, "%s: when", disp);
		struct tmpl_scope root = { .root = pl->model, .reads = &pl->gate };
		bool on = false;
		int rc = tmpl_eval_bool(pl->eng, name.buf, json_string_value(when), &root, &on, pl->d);
		strbuf_release(&name);
		if (rc || !on)
			return;
	}
	/* After `when`: the remove phase exists only in a plan that removes nodes.
	 * A manifest of files only (shared scripts) belongs to no phase. */
	if (pi < 0 && (phase || json_array_size(steps))) {
		diag_error(pl->d, LOC_NONE, "C0610", "%s: unknown phase '%s'", disp, phase ? phase : "(none)");
		return;
	}
	struct strbuf where = STRBUF_INIT;
	for (size_t i = 0; i < json_array_size(files); i++) {
		strbuf_reset(&where);
		strbuf_addf(&where, "%s: files[%zu]", disp, i);
		const json_t *e = json_array_get(files, i);
		if (!json_is_object(e)) {
			diag_error(pl->d, LOC_NONE, "C0611", "%s: must be an object", where.buf);
			continue;
		}
		render_expand(pl, e, where.buf, render_file_entry, NULL);
	}
	for (size_t i = 0; i < json_array_size(steps); i++) {
		strbuf_reset(&where);
		strbuf_addf(&where, "%s: steps[%zu]", disp, i);
		const json_t *e = json_array_get(steps, i);
		if (!json_is_object(e)) {
			diag_error(pl->d, LOC_NONE, "C0611", "%s: must be an object", where.buf);
			continue;
		}
		struct step_ctx sc = { .phase = pi, .mindex = mindex, .sindex = i };
		render_expand(pl, e, where.buf, step_graph_add, &sc);
	}
	strbuf_release(&where);
}

/* ---- hosts -------------------------------------------------------------------- */

static void build_hosts(struct planner *pl)
{
	pl->hosts = json_object();
	const json_t *cluster = json_object_get(pl->model, "cluster");
	const json_t *cssh = json_object_get(cluster, "ssh");
	const json_t *nodes = json_object_get(pl->model, "nodes");
	const json_t *fc = json_object_get(pl->model, "first_control");
	pl->cluster_host = str_member(fc, "name");
	for (size_t i = 0; i < json_array_size(nodes); i++) {
		const json_t *n = json_array_get(nodes, i);
		const char *name = str_member(n, "name");
		if (!name)
			continue;
		const json_t *ssh = json_object_get(n, "ssh");
		const char *addr = str_member(ssh, "host");
		if (!addr)
			addr = str_member(n, "ip");
		const json_t *port = json_object_get(ssh, "port");
		if (!json_is_integer(port))
			port = json_object_get(cssh, "port");
		const char *user = str_member(ssh, "user");
		if (!user)
			user = str_member(cssh, "user");
		const char *key = str_member(ssh, "key");
		if (!key)
			key = str_member(cssh, "key");
		const char *role = str_member(n, "role");
		if (!pl->cluster_host && role && !strcmp(role, "control"))
			pl->cluster_host = name;
		json_t *h = json_object();
		json_object_set_new(h, "address", addr ? json_string(addr) : json_null());
		json_object_set_new(h, "port", json_integer(json_is_integer(port) ? json_integer_value(port) : 22));
		json_object_set_new(h, "user", user ? json_string(user) : json_null());
		json_object_set_new(h, "key", key ? json_string(key) : json_null());
		json_object_set_new(h, "role", role ? json_string(role) : json_null());
		json_object_set_new(pl->hosts, name, h);
	}
}

/* ---- plan_build ------------------------------------------------------------------- */

static void planner_release(struct planner *pl)
{
	for (size_t i = 0; i < pl->nsteps; i++) {
		struct plan_step *s = &pl->steps[i];
		free(s->id);
		free(s->name);
		free(s->host);
		free(s->where);
		free(s->does);
		free(s->deps);
		json_decref(s->obj);
		json_decref(s->after_raw);
	}
	free(pl->steps);
	for (size_t i = 0; i < pl->nprod; i++) {
		free(pl->prod[i].out);
		free(pl->prod[i].tmpl);
	}
	free(pl->prod);
	tmpl_reads_release(&pl->gate);
	json_decref(pl->phases);
	json_decref(pl->hosts);
	json_decref(pl->ids);
	json_decref(pl->names);
	tmpl_engine_free(pl->eng);
}

static json_t *phase_list(const json_t *model)
{
	const json_t *p = json_object_get(model, "phases");
	bool ok = json_is_array(p) && json_array_size(p) > 0;
	for (size_t i = 0; ok && i < json_array_size(p); i++)
		ok = json_is_string(json_array_get(p, i));
	if (ok)
		return json_deep_copy(p);
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof(default_phases) / sizeof(default_phases[0]); i++)
		json_array_append_new(a, json_string(default_phases[i]));
	/* Last, so a removed node's or feature's work runs after everything else
	 * converged. */
	if (json_array_size(json_object_get(model, "removed_nodes")) ||
	    json_array_size(json_object_get(model, "removed_features")))
		json_array_append_new(a, json_string("remove"));
	return a;
}

int plan_build(const json_t *model, struct fileset *out, struct diag *d)
{
	struct planner pl = { .model = model, .fs = out, .d = d };
	size_t errors_before = d->errors;
	pl.eng = tmpl_engine_new();
	pl.phases = phase_list(model);
	pl.ids = json_object();
	pl.names = json_object();
	build_hosts(&pl);

	size_t nman = 0;
	char **paths = stdlib_list("components/", &nman);
	json_t **mans = xcalloc(nman + 1, sizeof(*mans));
	char **disps = xcalloc(nman + 1, sizeof(*disps));
	/* Every step name any manifest defines, before any `when`: an `after`
	 * naming a step that is merely absent is dropped, a typo is an error. */
	for (size_t i = 0; i < nman; i++) {
		if (!ends_with(paths[i], ".json"))
			continue;
		disps[i] = stdlib_display_path(paths[i]);
		mans[i] = load_manifest(&pl, paths[i], disps[i]);
		const json_t *steps = json_object_get(mans[i], "steps");
		for (size_t k = 0; k < json_array_size(steps); k++) {
			const char *name = str_member(json_array_get(steps, k), "name");
			if (name && !json_object_get(pl.names, name))
				json_object_set_new(pl.names, name, json_array());
		}
	}
	for (size_t i = 0; i < nman; i++)
		if (mans[i])
			do_manifest(&pl, mans[i], disps[i], i);

	fileset_sort(out);
	bool files_ok = true;
	for (size_t i = 0; i < pl.nsteps; i++)
		files_ok = step_graph_check_files(&pl, &pl.steps[i]) && files_ok;
	for (size_t i = 0; i < pl.nsteps; i++)
		step_graph_resolve_after(&pl, &pl.steps[i]);
	render_check_yaml(&pl);

	size_t *order = xcalloc(pl.nsteps + 1, sizeof(*order));
	size_t *indeg = xcalloc(pl.nsteps + 1, sizeof(*indeg));
	if (d->errors == errors_before) {
		size_t placed = step_graph_order(&pl, order, indeg);
		if (placed < pl.nsteps)
			step_graph_report_cycle(&pl, indeg);
	}
	if (d->errors == errors_before) {
		step_graph_seal(&pl);
		json_t *plan = json_object();
		json_object_set_new(plan, "format", json_integer(1));
		const char *cname = str_member(json_object_get(model, "cluster"), "name");
		json_object_set_new(plan, "cluster", cname ? json_string(cname) : json_null());
		json_object_set_new(plan, "cluster_host",
				    pl.cluster_host ? json_string(pl.cluster_host) : json_null());
		json_object_set_new(plan, "phases", json_incref(pl.phases));
		json_object_set_new(plan, "hosts", json_incref(pl.hosts));
		/* One line per step ("steps" sorts last): a step's change is one
		 * changed line in a diff, and out/ is not 25 lines per step. */
		char *text = json_dumps(plan, JSON_SORT_KEYS | JSON_INDENT(2));
		json_decref(plan);
		struct strbuf sb = STRBUF_INIT, err = STRBUF_INIT;
		char *close = text ? strrchr(text, '}') : NULL;
		strbuf_add(&sb, text, close ? (size_t)(close - text) : 0);
		strbuf_rtrim_newlines(&sb);
		strbuf_addstr(&sb, ",\n  \"steps\": [");
		for (size_t i = 0; i < pl.nsteps; i++) {
			char *one = json_dumps(pl.steps[order[i]].obj, JSON_SORT_KEYS);
			strbuf_addf(&sb, "%s\n    %s", i ? "," : "", one ? one : "null");
			free(one);
		}
		strbuf_addstr(&sb, pl.nsteps ? "\n  ]\n}\n" : "]\n}\n");
		free(text);
		size_t len = sb.len;
		if (fileset_add(out, "plan.json", strbuf_detach(&sb, &len), len, 0644, &err))
			diag_error(d, LOC_NONE, "C0605", "%s", err.buf);
		strbuf_release(&err);
		plan_index_add(&pl, order, cname);
		fileset_sort(out);
	}
	free(order);
	free(indeg);
	for (size_t i = 0; i < nman; i++) {
		json_decref(mans[i]);
		free(disps[i]);
		free(paths[i]);
	}
	free(mans);
	free(disps);
	free(paths);
	(void)files_ok;
	planner_release(&pl);
	return d->errors == errors_before ? 0 : -1;
}
