/* run_plan: plan.json (format 1, compiler/README.md) into struct run_plan.
 * The runner trusts nothing else in OUTDIR: what was reviewed is what runs. */
#include "run.h"
#include "builtin.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *get_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static int get_strs(json_t *o, const char *k, char ***out, size_t *n, struct strbuf *err,
		    const char *id)
{
	json_t *a = json_object_get(o, k);
	*out = NULL;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		strbuf_addf(err, "plan.json: step '%s': \"%s\" is not an array", id, k);
		return -1;
	}
	*out = xcalloc(json_array_size(a) + 1, sizeof(char *));
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v)) {
			strbuf_addf(err, "plan.json: step '%s': \"%s\" holds a non-string", id, k);
			return -1;
		}
		(*out)[(*n)++] = xstrdup(json_string_value(v));
	}
	return 0;
}

bool step_declares_output(const struct step *s, const char *name)
{
	for (size_t i = 0; i < s->noutputs; i++)
		if (!strcmp(s->outputs[i], name))
			return true;
	return false;
}

bool step_output_public(const struct step *s, const char *name)
{
	for (size_t i = 0; i < s->npublic_outputs; i++)
		if (!strcmp(s->public_outputs[i], name))
			return true;
	return false;
}

ssize_t run_plan_find(const struct run_plan *p, const char *id)
{
	uintptr_t at = p->ids.slots ? (uintptr_t)strmap_get(&p->ids, id) : 0;
	return at ? (ssize_t)(at - 1) : -1;
}

/* A path from plan.json must stay inside OUTDIR/<cluster>. */
static bool safe_rel_path(const char *s)
{
	if (!s || !*s || s[0] == '/' || s[0] == '-')
		return false;
	for (const char *p = s; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if ((n == 2 && !strncmp(p, "..", 2)) || (n == 1 && p[0] == '.'))
			return false;
		if (!e)
			break;
		p = e + 1;
	}
	return !strchr(s, '\n');
}

static bool valid_name_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *s = v[i];
		if (!*s || (s[0] >= '0' && s[0] <= '9'))
			return false;
		for (; *s; s++)
			if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			      (*s >= '0' && *s <= '9') || *s == '_'))
				return false;
	}
	return true;
}

int run_plan_load(struct run_plan *p, const char *dir, struct strbuf *err)
{
	memset(p, 0, sizeof(*p));
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/plan.json", dir);
	json_error_t je;
	p->root = json_load_file(path.buf, JSON_REJECT_DUPLICATES, &je);
	if (!p->root) {
		strbuf_addf(err, "%s:%d: %s", path.buf, je.line, je.text);
		strbuf_release(&path);
		return -1;
	}
	strbuf_release(&path);
	p->dir = xstrdup(dir);
	json_t *fmt = json_object_get(p->root, "format");
	if (!json_is_integer(fmt) || json_integer_value(fmt) != 1) {
		strbuf_addf(err, "%s/plan.json: unsupported format (this runner reads format 1)", dir);
		return -1;
	}
	p->cluster = get_str(p->root, "cluster");
	p->cluster_host = get_str(p->root, "cluster_host");
	p->env_file = get_str(p->root, "env_file");
	p->known_hosts = get_str(p->root, "known_hosts");
	p->hosts = json_object_get(p->root, "hosts");
	if (!p->cluster || !safe_name(p->cluster)) {
		strbuf_addf(err, "%s/plan.json: missing or unsafe \"cluster\" name", dir);
		return -1;
	}
	if (!json_is_object(p->hosts)) {
		strbuf_addf(err, "%s/plan.json: \"hosts\" is not an object", dir);
		return -1;
	}
	const char *hn;
	json_t *hv;
	json_object_foreach(p->hosts, hn, hv) {
		if (!safe_name(hn) || !strcmp(hn, "local")) {
			strbuf_addf(err, "plan.json: unsafe host name '%s'", hn);
			return -1;
		}
	}
	json_t *steps = json_object_get(p->root, "steps");
	if (!json_is_array(steps)) {
		strbuf_addf(err, "%s/plan.json: \"steps\" is not an array", dir);
		return -1;
	}
	p->steps = xcalloc(json_array_size(steps) + 1, sizeof(struct step));
	size_t i;
	json_t *o;
	json_array_foreach(steps, i, o) {
		struct step *s = &p->steps[p->nsteps++];
		s->index = i;
		strbuf_init(&s->drift);
		s->id = get_str(o, "id");
		const char *id = s->id ? s->id : "?";
		s->name = get_str(o, "name");
		s->phase = get_str(o, "phase");
		s->host = get_str(o, "host");
		s->on = get_str(o, "on");
		s->script = get_str(o, "script");
		s->builtin = get_str(o, "builtin");
		s->args = get_str(o, "args");
		s->hash = get_str(o, "hash");
		if (!s->id || !s->name || !s->host || !s->hash || !s->phase) {
			strbuf_addf(err, "plan.json: step %zu ('%s') lacks id, name, phase, host "
				    "or hash", i, id);
			return -1;
		}
		if (!safe_name(s->name) || !safe_name(s->id)) {
			strbuf_addf(err, "plan.json: step '%s' has an unsafe name", id);
			return -1;
		}
		if (strcmp(s->host, "local") && !json_object_get(p->hosts, s->host)) {
			strbuf_addf(err, "plan.json: step '%s' runs on unknown host '%s'", id, s->host);
			return -1;
		}
		if (!s->script == !s->builtin) {
			strbuf_addf(err, "plan.json: step '%s' needs exactly one of script, builtin",
				    id);
			return -1;
		}
		if ((s->script && !safe_rel_path(s->script)) || (s->args && !safe_rel_path(s->args))) {
			strbuf_addf(err, "plan.json: step '%s' names a path outside the plan", id);
			return -1;
		}
		if (get_strs(o, "files", &s->files, &s->nfiles, err, id) ||
		    get_strs(o, "after", &s->after_ids, &s->nafter, err, id) ||
		    get_strs(o, "secrets", &s->secrets, &s->nsecrets, err, id) ||
		    get_strs(o, "inputs", &s->inputs, &s->ninputs, err, id) ||
		    get_strs(o, "outputs", &s->outputs, &s->noutputs, err, id) ||
		    get_strs(o, "public_outputs", &s->public_outputs, &s->npublic_outputs, err, id))
			return -1;
		for (size_t q = 0; q < s->npublic_outputs; q++)
			if (!step_declares_output(s, s->public_outputs[q])) {
				strbuf_addf(err, "plan.json: step '%s': public output '%s' is not one of "
					    "its outputs", id, s->public_outputs[q]);
				return -1;
			}
		for (size_t f = 0; f < s->nfiles; f++)
			if (!safe_rel_path(s->files[f])) {
				strbuf_addf(err, "plan.json: step '%s' names a path outside the plan: "
					    "'%s'", id, s->files[f]);
				return -1;
			}
		if (!valid_name_list(s->secrets, s->nsecrets) ||
		    !valid_name_list(s->inputs, s->ninputs) ||
		    !valid_name_list(s->outputs, s->noutputs)) {
			strbuf_addf(err, "plan.json: step '%s': secret/input/output names must be "
				    "[A-Za-z_][A-Za-z0-9_]*", id);
			return -1;
		}
		s->reboot = json_is_true(json_object_get(o, "reboot"));
		s->destroys = json_is_true(json_object_get(o, "destroys"));
		const json_t *imp = json_object_get(o, "impact");
		if (imp && !step_impact_known(json_string_value(imp))) {
			strbuf_addf(err, "plan.json: step '%s': \"impact\" must be one of %s", id,
				    STEP_IMPACTS);
			return -1;
		}
		s->impact = s->impact_planned = step_impact_of(json_string_value(imp));
		const json_t *impn = json_object_get(o, "impact_new");
		if (impn && !step_impact_known(json_string_value(impn))) {
			strbuf_addf(err, "plan.json: step '%s': \"impact_new\" must be one of %s", id,
				    STEP_IMPACTS);
			return -1;
		}
		s->impact_new = impn ? step_impact_of(json_string_value(impn)) : IMPACT_COUNT;
		json_t *t = json_object_get(o, "timeout");
		if (t && (!json_is_integer(t) || json_integer_value(t) < 0)) {
			strbuf_addf(err, "plan.json: step '%s': \"timeout\" must be a whole number "
				    "of seconds, 0 or more", id);
			return -1;
		}
		s->timeout = t ? (long)json_integer_value(t) : 0;
		if (s->builtin && !builtin_exists(s->builtin)) {
			strbuf_addf(err, "plan.json: step '%s' names an unknown builtin '%s'", id,
				    s->builtin);
			return -1;
		}
	}
	strmap_init(&p->ids);
	for (size_t k = 0; k < p->nsteps; k++)
		if (strmap_put(&p->ids, p->steps[k].id, (void *)(uintptr_t)(k + 1))) {
			strbuf_addf(err, "plan.json: step id '%s' appears twice", p->steps[k].id);
			return -1;
		}
	for (size_t k = 0; k < p->nsteps; k++) {
		struct step *s = &p->steps[k];
		s->after = xcalloc(s->nafter + 1, sizeof(size_t));
		for (size_t a = 0; a < s->nafter; a++) {
			ssize_t d = run_plan_find(p, s->after_ids[a]);
			if (d < 0) {
				strbuf_addf(err, "plan.json: step '%s' waits for unknown step '%s'",
					    s->id, s->after_ids[a]);
				return -1;
			}
			if ((size_t)d >= k) {
				strbuf_addf(err, "plan.json: step '%s' waits for '%s', which comes "
					    "later: steps must be in topological order", s->id,
					    s->after_ids[a]);
				return -1;
			}
			s->after[a] = (size_t)d;
		}
	}
	return 0;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void run_plan_free_steps(struct run_plan *p)
{
	for (size_t i = 0; i < p->nsteps; i++) {
		struct step *s = &p->steps[i];
		free(s->id);
		free(s->name);
		free(s->phase);
		free(s->host);
		free(s->on);
		free(s->script);
		free(s->builtin);
		free(s->args);
		free(s->hash);
		free_strs(s->files, s->nfiles);
		free_strs(s->after_ids, s->nafter);
		free(s->after);
		free_strs(s->secrets, s->nsecrets);
		free_strs(s->inputs, s->ninputs);
		free_strs(s->outputs, s->noutputs);
		free_strs(s->public_outputs, s->npublic_outputs);
		free(s->why_detail);
		free(s->msg);
		free(s->log_path);
		strbuf_release(&s->drift);
	}
	strmap_release(&p->ids);
	free(p->steps);
	p->steps = NULL;
	p->nsteps = 0;
}

void run_plan_release(struct run_plan *p)
{
	run_plan_free_steps(p);
	free(p->dir);
	free(p->cluster);
	free(p->cluster_host);
	free(p->env_file);
	free(p->known_hosts);
	json_decref(p->root);
	memset(p, 0, sizeof(*p));
}
