/* drift: `clusterc drift`, an apply whose steps run check-only and report.
 *
 * Every node and cluster script step runs, whatever its host remembers, with
 * CLUSTERC_CHECK_ONLY=1 (stdlib/runner/step.sh): the prelude's helpers
 * (stdlib/templates/lib/prelude.sh) then print "::clusterc::drift WHAT" for
 * each change the real run would make, and make none. The checks are the real
 * run's own, so the two cannot disagree. Nothing is recorded.
 *
 * Locks: a check-only run takes none, neither on the hosts nor on this
 * machine. It changes nothing a lock protects (state/, the bundle an apply
 * runs from): it ships its bundle into its own folder,
 * /var/lib/clusterc/<cluster>/check/<run-id>/, which it removes at the end,
 * and its steps write only there. An apply running at the same time is not
 * stopped or slowed; the report then shows that apply's changes in progress,
 * as any read would (plan says who holds a lock). Local and builtin steps are
 * not run (the ISO, the Proxmox and GitLab calls, the operator's kubeconfig):
 * the report names them as not checked. */
#include "exec_internal.h"

#include <string.h>

void drift_select(struct run *r)
{
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (!s->selected || !(s->builtin || !strcmp(s->host, "local")))
			continue;
		s->selected = false;
		s->unchecked = true;
		s->st = ST_UNSELECTED;
		r->total_sel--;
	}
}

/* Appends one host's lines of the report; returns how many differences. */
static size_t host_report(struct run *r, const char *host, struct strbuf *txt, json_t *list)
{
	size_t n = 0;
	bool named = false;
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (strcmp(s->host, host) || !s->drift.len)
			continue;
		if (!named)
			strbuf_addf(txt, "%s:\n", host);
		named = true;
		for (char *l = s->drift.buf, *nl; *l; l = nl + 1) {
			nl = strchr(l, '\n');
			strbuf_addf(txt, "  %-24s %.*s\n", s->name, (int)(nl - l), l);
			json_array_append_new(list, json_pack("{s:s,s:s%}", "step", s->name, "what", l,
							      (size_t)(nl - l)));
			n++;
		}
	}
	return n;
}

static bool listed(const struct strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

/* The apply that puts the drifted steps back: they are done by their hashes, so
 * a plain apply skips them; --force with the hosts and phases they are on. */
static void repair_hint(struct run *r, struct strbuf *txt)
{
	struct strvec hosts = STRVEC_INIT, phases = STRVEC_INIT;
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (!s->drift.len)
			continue;
		if (!listed(&hosts, s->host))
			strvec_push(&hosts, s->host);
		if (!listed(&phases, s->phase))
			strvec_push(&phases, s->phase);
	}
	strbuf_addstr(txt, "to put it back: clusterc apply --force --limit ");
	for (size_t i = 0; i < hosts.n; i++)
		strbuf_addf(txt, "%s%s", i ? "," : "", hosts.v[i]);
	strbuf_addstr(txt, " --only ");
	for (size_t i = 0; i < phases.n; i++)
		strbuf_addf(txt, "%s%s", i ? "," : "", phases.v[i]);
	strbuf_addch(txt, '\n');
	strvec_clear(&hosts);
	strvec_clear(&phases);
}

int drift_report(struct run *r)
{
	struct strbuf txt = STRBUF_INIT;
	json_t *hosts = json_object(), *failed = json_array(), *unchecked = json_array();
	size_t ndrift = 0, nhosts = 0, nchecked = 0, nbad = 0;
	for (size_t k = 0; k < r->nhosts; k++) {
		json_t *list = json_array();
		size_t n = host_report(r, r->hosts[k].name, &txt, list);
		if (n) {
			json_object_set_new(hosts, r->hosts[k].name, list);
			nhosts++;
			ndrift += n;
		} else {
			json_decref(list);
		}
	}
	for (size_t i = 0; i < r->plan.nsteps; i++) {
		struct step *s = &r->plan.steps[i];
		if (s->unchecked)
			json_array_append_new(unchecked, json_string(s->id));
		if (!s->selected)
			continue;
		if (s->st == ST_OK)
			nchecked++;
		if (s->st == ST_FAILED || s->st == ST_BLOCKED || s->st == ST_CANCELLED) {
			nbad++;
			strbuf_addf(&txt, "  %-8s %s: %s", status_word(s->st), s->id, s->msg ? s->msg : "");
			if (s->log_path && s->st == ST_FAILED && r->log.dir)
				strbuf_addf(&txt, " (log: %s/%s)", r->log.dir, s->log_path);
			strbuf_addch(&txt, '\n');
			json_array_append_new(failed, json_pack("{s:s,s:s}", "id", s->id, "status",
								status_word(s->st)));
		}
	}
	for (size_t k = 0; k < r->nhosts; k++)
		if (r->hosts[k].fail) {
			nbad++;
			strbuf_addf(&txt, "  host %s: %s\n", r->hosts[k].name, r->hosts[k].fail);
		}
	int status = nbad ? 1 : ndrift ? 2 : 0;
	if (ndrift)
		strbuf_addf(&txt, "drift: %zu difference%s on %zu host%s", ndrift, ndrift == 1 ? "" : "s",
			    nhosts, nhosts == 1 ? "" : "s");
	else
		strbuf_addstr(&txt, "drift: none");
	strbuf_addf(&txt, " (%zu step%s checked", nchecked, nchecked == 1 ? "" : "s");
	if (json_array_size(unchecked))
		strbuf_addf(&txt, "; %zu local and builtin step%s not checked",
			    json_array_size(unchecked), json_array_size(unchecked) == 1 ? "" : "s");
	strbuf_addstr(&txt, nbad ? "; the check is incomplete)\n" : ")\n");
	if (ndrift)
		repair_hint(r, &txt);
	if (r->log.dir)
		strbuf_addf(&txt, "logs: %s\n", r->log.dir);
	undraw(r);
	fputs(txt.buf, stdout);
	fflush(stdout);
	if (r->log.dir) {
		json_t *rep = json_pack("{s:s,s:s,s:i,s:o,s:o,s:o}", "run", r->log.run_id, "cluster",
					r->plan.cluster, "exit", status, "hosts", hosts, "failed", failed,
					"unchecked", unchecked);
		char *js = json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS);
		struct strbuf p = STRBUF_INIT;
		strbuf_addf(&p, "%s/drift.json", r->log.dir);
		if (js)
			write_file_atomic(p.buf, js, strlen(js));
		free(js);
		strbuf_release(&p);
		json_decref(rep);
	} else {
		json_decref(hosts);
		json_decref(failed);
		json_decref(unchecked);
	}
	strbuf_release(&txt);
	return status;
}
