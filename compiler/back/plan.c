#include "plan.h"
#include "sha256.h"
#include "sort.h"
#include "stdlib_data.h"
#include "strbuf.h"
#include "tmpl.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static const char *const default_phases[] = { "infra",   "os",  "kubernetes", "network",
					      "storage", "gpu", "gitops",     "apps" };

#define DEFAULT_TIMEOUT 600

struct step {
	char *id, *name, *host;
	int phase;
	size_t seq;            /* creation order: manifest, position, each item */
	json_t *obj;           /* the plan.json object, owned */
	json_t *after_raw;     /* the manifest's "after", a new reference or NULL */
	char *where;           /* "stdlib/components/x.json: steps[2]" for messages */
	size_t *deps;
	size_t ndeps, depcap;
};

struct produced {
	char *out;
	char *tmpl;
};

struct planner {
	const json_t *model;
	struct fileset *fs;
	struct diag *d;
	struct tmpl_engine *eng;
	json_t *phases;         /* array of strings, owned */
	const char *cluster_host;
	json_t *hosts;          /* plan.json "hosts", owned */
	struct step *steps;
	size_t nsteps, scap;
	json_t *ids;            /* id -> index */
	json_t *names;          /* every step name any manifest defines -> [index...] */
	struct produced *prod;
	size_t nprod, pcap;
};

/* ---- small helpers ------------------------------------------------------- */

static char *display_path(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	const char *dir = stdlib_dir();
	strbuf_addf(&sb, "%s/%s", dir ? dir : "stdlib", path);
	return strbuf_detach(&sb, NULL);
}

static const char *str_member(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

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

struct item {
	const struct tmpl_scope *scope;
	const char *var;          /* each variable, or NULL */
	const json_t *value;      /* bound value */
	size_t index;
};

typedef int (*entry_fn)(struct planner *pl, const json_t *entry, const char *where,
			const struct item *it, void *arg);

/* Calls fn for the entry once, or once per item of its `each`, skipping items
 * whose `when` is false. Stops an entry at its first failing item, so one
 * broken template does not print an error per node. */
static void expand(struct planner *pl, const json_t *entry, const char *where, entry_fn fn,
		   void *arg)
{
	const json_t *each = json_object_get(entry, "each");
	const json_t *when = json_object_get(entry, "when");
	struct strbuf name = STRBUF_INIT;
	if (when && !json_is_string(when)) {
		diag_error(pl->d, LOC_NONE, "%s: \"when\" must be a string (an expression)", where);
		return;
	}
	struct tmpl_scope root = { .root = pl->model };
	if (!each) {
		bool ok = true;
		if (when) {
			strbuf_addf(&name, "%s.when", where);
			if (tmpl_eval_bool(pl->eng, name.buf, json_string_value(when), &root, &ok, pl->d))
				ok = false;
		}
		if (ok) {
			struct item it = { .scope = &root };
			fn(pl, entry, where, &it, arg);
		}
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
		diag_error(pl->d, LOC_NONE, "%s: \"each\" must read \"LIST as NAME\"", where);
		return;
	}
	char *varname = xstrndup(var, vlen);
	char *listexpr = xstrndup(spec, (size_t)(as - spec));
	strbuf_addf(&name, "%s.each", where);
	json_t *list = NULL;
	if (tmpl_eval(pl->eng, name.buf, listexpr, &root, &list, pl->d)) {
		/* reported */
	} else if (!list) {
		diag_error(pl->d, LOC_NONE, "%s: \"each\": '%s' is not in the model", where, listexpr);
	} else if (!json_is_array(list) && !json_is_null(list)) {
		diag_error(pl->d, LOC_NONE, "%s: \"each\": '%s' is not a list", where, listexpr);
	} else {
		strbuf_reset(&name);
		strbuf_addf(&name, "%s.when", where);
		for (size_t i = 0; i < json_array_size(list); i++) {
			const json_t *v = json_array_get(list, i);
			struct tmpl_binding b = { .name = varname, .value = v };
			struct tmpl_scope sc = { .root = pl->model, .vars = &b, .nvars = 1 };
			bool ok = true;
			if (when && tmpl_eval_bool(pl->eng, name.buf, json_string_value(when), &sc, &ok,
						   pl->d))
				break;
			if (!ok)
				continue;
			struct item it = { .scope = &sc, .var = varname, .value = v, .index = i };
			if (fn(pl, entry, where, &it, arg)) {
				struct strbuf note = STRBUF_INIT;
				describe_item(&note, varname, v, i);
				diag_note(pl->d, LOC_NONE, "%s: while expanding with %s", where, note.buf);
				strbuf_release(&note);
				break;
			}
		}
	}
	json_decref(list);
	free(varname);
	free(listexpr);
	strbuf_release(&name);
}

/* Renders a path template (an "out" or a step "files" entry). Returns a new
 * string or NULL after reporting. keep_slash allows a trailing '/'. */
static char *render_path(struct planner *pl, const char *where, const char *field,
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
		diag_error(pl->d, LOC_NONE, "%s: \"%s\" gives '%s', not a clean relative path", where,
			   field, out.buf);
		strbuf_release(&out);
		return NULL;
	}
	return strbuf_detach(&out, NULL);
}

/* Renders template tpath to the output path out. */
static int render_to(struct planner *pl, const char *where, const char *tpath, const char *out,
		     unsigned mode, const struct item *it)
{
	struct strbuf body = STRBUF_INIT, err = STRBUF_INIT;
	if (tmpl_render(pl->eng, tpath, it->scope, &body, pl->d)) {
		strbuf_release(&body);
		diag_note(pl->d, LOC_NONE, "%s: while rendering '%s' to '%s'", where, tpath, out);
		return -1;
	}
	size_t len = body.len;
	if (fileset_add(pl->fs, out, strbuf_detach(&body, NULL), len, mode, &err)) {
		diag_error(pl->d, LOC_NONE, "%s: %s", where, err.buf);
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

static int file_entry(struct planner *pl, const json_t *entry, const char *where,
		      const struct item *it, void *arg)
{
	(void)arg;
	const char *tpath = str_member(entry, "template");
	const char *outt = str_member(entry, "out");
	if (!tpath || !outt) {
		diag_error(pl->d, LOC_NONE, "%s: a file needs \"template\" and \"out\" strings", where);
		return -1;
	}
	char *out = render_path(pl, where, "out", outt, it, false);
	if (!out)
		return -1;
	int rc = render_to(pl, where, tpath, out, ends_with(out, ".sh") ? 0755 : 0644, it);
	free(out);
	return rc;
}

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
		diag_error(pl->d, LOC_NONE, "%s: \"%s\" must be a list of strings", where, key);
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
		if (!value_name_ok(out.buf)) {
			diag_error(pl->d, LOC_NONE, "%s: \"%s\" entry %zu gives '%s', not a usable name "
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

struct step_ctx {
	int phase;
	size_t mindex;   /* manifest index */
	size_t sindex;   /* step position in the manifest */
};

static int step_entry(struct planner *pl, const json_t *entry, const char *where,
		      const struct item *it, void *arg)
{
	const struct step_ctx *sc = arg;
	const char *name = str_member(entry, "name");
	const char *on = str_member(entry, "on");
	if (!name || !*name || strchr(name, '@')) {
		diag_error(pl->d, LOC_NONE, "%s: a step needs a \"name\" without '@'", where);
		return -1;
	}
	const char *host = NULL;
	if (on && !strcmp(on, "local")) {
		host = "local";
	} else if (on && !strcmp(on, "cluster")) {
		host = pl->cluster_host;
		if (!host) {
			diag_error(pl->d, LOC_NONE, "%s: step '%s' runs on the cluster, but the model has no "
				   "control node", where, name);
			return -1;
		}
	} else if (on && !strcmp(on, "node")) {
		host = it->value ? str_member(it->value, "name") : NULL;
		if (!host) {
			diag_error(pl->d, LOC_NONE, "%s: step '%s' runs on a node: it needs \"each\" binding "
				   "a node (a value with a \"name\")", where, name);
			return -1;
		}
		if (!json_object_get(pl->hosts, host)) {
			diag_error(pl->d, LOC_NONE, "%s: step '%s' runs on '%s', which is not a node", where,
				   name, host);
			return -1;
		}
	} else {
		diag_error(pl->d, LOC_NONE, "%s: step '%s': \"on\" must be \"local\", \"cluster\" or "
			   "\"node\"", where, name);
		return -1;
	}

	struct strbuf id = STRBUF_INIT;
	strbuf_addf(&id, "%s@%s", name, host);
	if (json_object_get(pl->ids, id.buf)) {
		size_t other = (size_t)json_integer_value(json_object_get(pl->ids, id.buf));
		diag_error(pl->d, LOC_NONE, "%s: step '%s' is defined twice (also by %s)", where, id.buf,
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
		diag_error(pl->d, LOC_NONE, "%s: step '%s' needs exactly one of \"script\" and "
			   "\"builtin\"", where, name);
		ok = false;
	} else if (script) {
		char *out = outt ? render_path(pl, where, "out", outt, it, false) : NULL;
		if (!outt)
			diag_error(pl->d, LOC_NONE, "%s: step '%s' needs \"out\" for its script", where, name);
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
		diag_error(pl->d, LOC_NONE, "%s: step '%s': \"files\" must be a list", where, name);
		ok = false;
	}
	for (size_t i = 0; ok && i < json_array_size(fl); i++) {
		const char *f = json_string_value(json_array_get(fl, i));
		if (!f) {
			diag_error(pl->d, LOC_NONE, "%s: step '%s': \"files\" must be a list of strings",
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
	json_object_set_new(obj, "outputs", string_list(pl, entry, "outputs", where, it, &ok));
	const json_t *reboot = json_object_get(entry, "reboot");
	if (reboot && !json_is_boolean(reboot)) {
		diag_error(pl->d, LOC_NONE, "%s: \"reboot\" must be true or false", where);
		ok = false;
	}
	json_object_set_new(obj, "reboot", json_boolean(json_is_true(reboot)));
	const json_t *timeout = json_object_get(entry, "timeout");
	if (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) <= 0)) {
		diag_error(pl->d, LOC_NONE, "%s: \"timeout\" must be a positive number of seconds", where);
		ok = false;
	}
	json_object_set_new(obj, "timeout", timeout ? json_incref((json_t *)timeout)
						  : json_integer(DEFAULT_TIMEOUT));
	const json_t *after = json_object_get(entry, "after");
	bool after_ok = !after || json_is_array(after);
	for (size_t i = 0; after_ok && i < json_array_size(after); i++)
		after_ok = json_is_string(json_array_get(after, i));
	if (!after_ok) {
		diag_error(pl->d, LOC_NONE, "%s: \"after\" must be a list of strings", where);
		ok = false;
	}
	if (!ok) {
		json_decref(obj);
		strbuf_release(&id);
		return -1;
	}

	XGROW(pl->steps, pl->scap, pl->nsteps + 1);
	struct step *s = &pl->steps[pl->nsteps];
	memset(s, 0, sizeof(*s));
	s->id = strbuf_detach(&id, NULL);
	s->name = xstrdup(name);
	s->host = xstrdup(host);
	s->phase = sc->phase;
	s->seq = pl->nsteps;
	s->obj = obj;
	s->after_raw = after ? json_incref((json_t *)after) : NULL;
	s->where = xstrdup(where);
	json_object_set_new(pl->ids, s->id, json_integer((json_int_t)pl->nsteps));
	json_array_append_new(json_object_get(pl->names, name), json_integer((json_int_t)pl->nsteps));
	pl->nsteps++;
	return 0;
}

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
		diag_error(pl->d, LOC_NONE, "cannot read %s", disp);
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
			   "%s", err.text);
		return NULL;
	}
	free(text);
	if (!json_is_object(m)) {
		diag_error(pl->d, LOC_NONE, "%s: a manifest is a JSON object", disp);
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
	if (!comp) {
		diag_error(pl->d, LOC_NONE, "%s: \"component\" must be a string", disp);
		return;
	}
	if (pi < 0) {
		diag_error(pl->d, LOC_NONE, "%s: unknown phase '%s'", disp, phase ? phase : "(none)");
		return;
	}
	const json_t *files = json_object_get(m, "files");
	const json_t *steps = json_object_get(m, "steps");
	if ((files && !json_is_array(files)) || (steps && !json_is_array(steps))) {
		diag_error(pl->d, LOC_NONE, "%s: \"files\" and \"steps\" must be lists", disp);
		return;
	}
	const json_t *when = json_object_get(m, "when");
	if (when) {
		if (!json_is_string(when)) {
			diag_error(pl->d, LOC_NONE, "%s: \"when\" must be a string (an expression)", disp);
			return;
		}
		struct strbuf name = STRBUF_INIT;
		strbuf_addf(&name, "%s: when", disp);
		struct tmpl_scope root = { .root = pl->model };
		bool on = false;
		int rc = tmpl_eval_bool(pl->eng, name.buf, json_string_value(when), &root, &on, pl->d);
		strbuf_release(&name);
		if (rc || !on)
			return;
	}
	struct strbuf where = STRBUF_INIT;
	for (size_t i = 0; i < json_array_size(files); i++) {
		strbuf_reset(&where);
		strbuf_addf(&where, "%s: files[%zu]", disp, i);
		const json_t *e = json_array_get(files, i);
		if (!json_is_object(e)) {
			diag_error(pl->d, LOC_NONE, "%s: must be an object", where.buf);
			continue;
		}
		expand(pl, e, where.buf, file_entry, NULL);
	}
	for (size_t i = 0; i < json_array_size(steps); i++) {
		strbuf_reset(&where);
		strbuf_addf(&where, "%s: steps[%zu]", disp, i);
		const json_t *e = json_array_get(steps, i);
		if (!json_is_object(e)) {
			diag_error(pl->d, LOC_NONE, "%s: must be an object", where.buf);
			continue;
		}
		struct step_ctx sc = { .phase = pi, .mindex = mindex, .sindex = i };
		expand(pl, e, where.buf, step_entry, &sc);
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

/* ---- after, order, hash -------------------------------------------------------- */

static void add_dep(struct step *s, size_t j)
{
	XGROW(s->deps, s->depcap, s->ndeps + 1);
	s->deps[s->ndeps++] = j;
}

static void add_dep_id(struct planner *pl, struct step *s, const char *name, const char *host)
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

static void resolve_after(struct planner *pl, struct step *s)
{
	for (size_t i = 0; i < json_array_size(s->after_raw); i++) {
		const char *ref = json_string_value(json_array_get(s->after_raw, i));
		const char *at = strchr(ref, '@');
		char *name = at ? xstrndup(ref, (size_t)(at - ref)) : xstrdup(ref);
		const char *qual = at ? at + 1 : NULL;
		const json_t *inst = json_object_get(pl->names, name);
		if (!inst) {
			diag_error(pl->d, LOC_NONE, "%s: step '%s' runs after '%s', a step no component "
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
			diag_error(pl->d, LOC_NONE, "%s: step '%s' runs after '%s': unknown '@%s' (expected "
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
	const struct step *steps;
};

static bool heap_less(const struct heap *h, size_t a, size_t b)
{
	const struct step *x = &h->steps[a], *y = &h->steps[b];
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
static size_t topo_order(struct planner *pl, size_t *order, size_t *indeg)
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
static void report_cycle(struct planner *pl, const size_t *indeg)
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
	diag_error(pl->d, LOC_NONE, "steps wait for each other in a cycle: %s (each runs after the next)",
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
	struct sha256 *c = arg;
	struct strbuf hdr = STRBUF_INIT;
	strbuf_addstr(&hdr, e->path);
	strbuf_addch(&hdr, '\0');
	strbuf_addf(&hdr, "%o", e->mode);
	strbuf_addch(&hdr, '\0');
	strbuf_addf(&hdr, "%zu", e->len);
	strbuf_addch(&hdr, '\0');
	sha256_update(c, hdr.buf, hdr.len);
	sha256_update(c, e->data, e->len);
	strbuf_release(&hdr);
}

/* Checks that every file a step names exists; returns false after reporting. */
static bool check_files(struct planner *pl, const struct step *s)
{
	const json_t *files = json_object_get(s->obj, "files");
	bool ok = true;
	for (size_t i = 0; i < json_array_size(files); i++) {
		const char *f = json_string_value(json_array_get(files, i));
		size_t n = strlen(f);
		bool found = n && f[n - 1] == '/' ? fileset_each_prefix(pl->fs, f, NULL, NULL) > 0
						  : fileset_get(pl->fs, f) != NULL;
		if (!found) {
			diag_error(pl->d, LOC_NONE, "%s: step '%s' names %s '%s', but no component renders %s",
				   s->where, s->id, f[n - 1] == '/' ? "folder" : "file", f,
				   f[n - 1] == '/' ? "a file there" : "it");
			ok = false;
		}
	}
	return ok;
}

static void hash_step(struct planner *pl, struct step *s)
{
	struct sha256 c;
	sha256_init(&c);
	char *canon = json_dumps(s->obj, JSON_SORT_KEYS | JSON_COMPACT);
	sha256_update(&c, canon, strlen(canon));
	free(canon);
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
	strbuf_addstr(&hex, "sha256:");
	sha256_final_hex(&c, &hex);
	json_object_set_new(s->obj, "hash", json_string(hex.buf));
	strbuf_release(&hex);
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

static void check_yaml(struct planner *pl)
{
	for (size_t i = 0; i < pl->nprod; i++) {
		if (!wants_yaml_check(pl->prod[i].out))
			continue;
		const struct fileset_entry *e = fileset_get(pl->fs, pl->prod[i].out);
		if (!e)
			continue;
		struct strbuf why = STRBUF_INIT;
		if (yaml_parses(e->data, e->len, &why)) {
			char *disp = display_path(pl->prod[i].tmpl);
			diag_error(pl->d, LOC_NONE, "rendered file '%s' is not valid YAML: %s", e->path,
				   why.buf);
			diag_note(pl->d, LOC_NONE, "'%s' comes from the template %s", e->path, disp);
			free(disp);
		}
		strbuf_release(&why);
	}
}

/* ---- plan_build ------------------------------------------------------------------- */

static void planner_release(struct planner *pl)
{
	for (size_t i = 0; i < pl->nsteps; i++) {
		struct step *s = &pl->steps[i];
		free(s->id);
		free(s->name);
		free(s->host);
		free(s->where);
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
		disps[i] = display_path(paths[i]);
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
		files_ok = check_files(&pl, &pl.steps[i]) && files_ok;
	for (size_t i = 0; i < pl.nsteps; i++)
		resolve_after(&pl, &pl.steps[i]);
	check_yaml(&pl);

	size_t *order = xcalloc(pl.nsteps + 1, sizeof(*order));
	size_t *indeg = xcalloc(pl.nsteps + 1, sizeof(*indeg));
	if (d->errors == errors_before) {
		size_t placed = topo_order(&pl, order, indeg);
		if (placed < pl.nsteps)
			report_cycle(&pl, indeg);
	}
	if (d->errors == errors_before) {
		for (size_t i = 0; i < pl.nsteps; i++) {
			struct step *s = &pl.steps[i];
			json_t *after = json_array();
			/* Ids sort the same way in every build. */
			const char **ids = xcalloc(s->ndeps + 1, sizeof(*ids));
			for (size_t k = 0; k < s->ndeps; k++)
				ids[k] = pl.steps[s->deps[k]].id;
			qsort(ids, s->ndeps, sizeof(*ids), cmp_str_ptr);
			for (size_t k = 0; k < s->ndeps; k++)
				json_array_append_new(after, json_string(ids[k]));
			free(ids);
			json_object_set_new(s->obj, "after", after);
			hash_step(&pl, s);
		}
		json_t *plan = json_object();
		json_object_set_new(plan, "format", json_integer(1));
		const char *cname = str_member(json_object_get(model, "cluster"), "name");
		json_object_set_new(plan, "cluster", cname ? json_string(cname) : json_null());
		json_object_set_new(plan, "cluster_host",
				    pl.cluster_host ? json_string(pl.cluster_host) : json_null());
		json_object_set_new(plan, "phases", json_incref(pl.phases));
		json_object_set_new(plan, "hosts", json_incref(pl.hosts));
		json_t *steps = json_array();
		for (size_t i = 0; i < pl.nsteps; i++)
			json_array_append(steps, pl.steps[order[i]].obj);
		json_object_set_new(plan, "steps", steps);
		char *text = json_dumps(plan, JSON_SORT_KEYS | JSON_INDENT(2));
		json_decref(plan);
		struct strbuf sb = STRBUF_INIT, err = STRBUF_INIT;
		strbuf_addstr(&sb, text);
		strbuf_addch(&sb, '\n');
		free(text);
		size_t len = sb.len;
		if (fileset_add(out, "plan.json", strbuf_detach(&sb, &len), len, 0644, &err))
			diag_error(d, LOC_NONE, "%s", err.buf);
		strbuf_release(&err);
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
