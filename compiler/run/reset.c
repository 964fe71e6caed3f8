/* reset: `clusterc reset NODE... | --all`, an apply of one step per node,
 * node.reset, which runs the built cluster's common/reset.sh
 * (stdlib/templates/remove/node-reset.sh): kubeadm reset -f, the CNI
 * configuration, the iptables and IPVS rules, and clusterc's records there.
 *
 * First node.forget on the first control node (common/forget.sh) drains the
 * other nodes and deletes their Nodes, so the next apply joins them again. It
 * takes the hosts' locks as apply does (it changes them), runs whatever the
 * hosts remember, and records nothing (step.sh "once"): the records are what
 * it removes. Workers go first, the control nodes after every worker, so the
 * control plane outlives the nodes that use it. Its steps are of impact
 * "destroy": on a terminal the run names what is lost and asks; without one it
 * is refused unless --yes (execute.c), as apply refuses a destroying run. */
#include "exec_internal.h"
#include "xalloc.h"

#include <string.h>
#include <unistd.h>

#define RESET_SCRIPT "common/reset.sh"
#define FORGET_SCRIPT "common/forget.sh"

static bool wanted(const struct run_opts *o, const char *host)
{
	if (o->all_nodes)
		return true;
	for (size_t i = 0; i < o->nnodes; i++)
		if (!strcmp(o->nodes[i], host))
			return true;
	return false;
}

static const char *role_of(const struct run_plan *p, const char *host)
{
	const char *r = json_string_value(json_object_get(json_object_get(p->hosts, host), "role"));
	return r ? r : "worker";
}

/* name@host running script; input: the one value it reads, or NULL. */
static struct step *add_step(struct run_plan *p, const char *name, const char *host,
			     const char *script, const char *input, enum impact impact)
{
	struct step *s = &p->steps[p->nsteps];
	struct strbuf id = STRBUF_INIT;
	strbuf_addf(&id, "%s@%s", name, host);
	s->id = strbuf_detach(&id, NULL);
	s->name = xstrdup(name);
	s->phase = xstrdup("reset");
	s->host = xstrdup(host);
	s->on = xstrdup(input ? "cluster" : "node");
	s->script = xstrdup(script);
	s->hash = xstrdup("reset");
	s->nfiles = 2;
	s->files = xcalloc(3, sizeof(char *));
	s->files[0] = xstrdup("common/prelude.sh");
	s->files[1] = xstrdup(script);
	s->secrets = xcalloc(1, sizeof(char *));
	s->inputs = xcalloc(2, sizeof(char *));
	if (input) {
		s->inputs[0] = xstrdup(input);
		s->ninputs = 1;
	}
	s->outputs = xcalloc(1, sizeof(char *));
	/* step_decide sets impact from these: a reset is what it is, new or not. */
	s->impact = s->impact_planned = impact;
	s->impact_new = IMPACT_COUNT;
	s->timeout = 900;
	s->index = p->nsteps++;
	strbuf_init(&s->drift);
	return s;
}

/* s waits for steps [from, to). */
static void wait_for(struct run_plan *p, struct step *s, size_t from, size_t to)
{
	s->nafter = to - from;
	s->after = xcalloc(s->nafter + 1, sizeof(size_t));
	s->after_ids = xcalloc(s->nafter + 1, sizeof(char *));
	for (size_t k = from; k < to; k++) {
		s->after[k - from] = k;
		s->after_ids[k - from] = xstrdup(p->steps[k].id);
	}
}

int reset_plan(struct run *r, struct strbuf *err)
{
	struct run_plan *p = &r->plan;
	const struct run_opts *o = r->o;
	for (size_t i = 0; i < o->nnodes; i++)
		if (!json_object_get(p->hosts, o->nodes[i])) {
			strbuf_addf(err, "reset: %s is not a node of cluster %s", o->nodes[i], p->cluster);
			return -1;
		}
	static const char *const scripts[] = { RESET_SCRIPT, FORGET_SCRIPT };
	for (size_t i = 0; i < 2; i++) {
		struct strbuf f = STRBUF_INIT;
		strbuf_addf(&f, "%s/%s", p->dir, scripts[i]);
		bool have = access(f.buf, R_OK) == 0;
		strbuf_release(&f);
		if (!have) {
			strbuf_addf(err, "reset: %s has no %s (built by an older clusterc): build "
				    "the cluster again", p->dir, scripts[i]);
			return -1;
		}
	}
	/* The cluster host forgets the other nodes first (drain, delete the
	 * Node), so the next apply joins them again. */
	struct strbuf forget = STRBUF_INIT;
	const char *host;
	json_t *v;
	json_object_foreach(p->hosts, host, v)
		if (wanted(o, host) && strcmp(host, p->cluster_host ? p->cluster_host : ""))
			strbuf_addf(&forget, "%s%s", forget.len ? " " : "", host);
	run_plan_free_steps(p);
	p->steps = xcalloc(json_object_size(p->hosts) + 2, sizeof(struct step));
	size_t first = 0;
	if (forget.len && p->cluster_host && json_object_get(p->hosts, p->cluster_host)) {
		struct strbuf b = STRBUF_INIT;
		base64_encode(&b, (const unsigned char *)forget.buf, forget.len);
		json_object_set_new(r->values, "reset_nodes", json_string(b.buf));
		strbuf_release(&b);
		add_step(p, "node.forget", p->cluster_host, FORGET_SCRIPT, "reset_nodes", IMPACT_DRAIN);
		first = 1;
	}
	strbuf_release(&forget);
	/* Workers after the forgetting, control nodes after every worker. */
	size_t workers_end = first;
	for (int control = 0; control < 2; control++) {
		json_object_foreach(p->hosts, host, v) {
			if (!wanted(o, host) || !strcmp(role_of(p, host), "control") != !control)
				continue;
			struct step *s = add_step(p, "node.reset", host, RESET_SCRIPT, NULL, IMPACT_DESTROY);
			wait_for(p, s, 0, control ? workers_end : first);
			if (!control)
				workers_end = p->nsteps;
		}
	}
	if (p->nsteps == first) {
		strbuf_addstr(err, "reset: no node to reset");
		return -1;
	}
	return 0;
}

void reset_warning(struct run *r, FILE *out)
{
	const struct run_plan *p = &r->plan;
	struct strbuf all = STRBUF_INIT, controls = STRBUF_INIT;
	size_t ncontrols = 0, nall_controls = 0;
	const char *host;
	json_t *v;
	json_object_foreach(p->hosts, host, v)
		if (!strcmp(role_of(p, host), "control"))
			nall_controls++;
	for (size_t i = 0; i < p->nsteps; i++) {
		const struct step *s = &p->steps[i];
		if (!s->selected || strcmp(s->name, "node.reset"))
			continue;
		strbuf_addf(&all, "%s%s", all.len ? ", " : "", s->host);
		if (!strcmp(role_of(p, s->host), "control")) {
			strbuf_addf(&controls, "%s%s", controls.len ? ", " : "", s->host);
			ncontrols++;
		}
	}
	const char *forget = json_string_value(json_object_get(r->values, "reset_nodes"));
	if (forget)
		fprintf(out, "reset: first, %s drains the nodes it resets and deletes their Nodes\n",
			p->cluster_host);
	fprintf(out, "reset of %s in cluster %s: this destroys, on each of them,\n"
		"  - its Kubernetes state (kubeadm reset -f): /etc/kubernetes (certificates,\n"
		"    kubeconfigs, static pods) and /var/lib/kubelet; the pods running there stop\n",
		all.buf, p->cluster);
	if (ncontrols)
		fprintf(out, "  - on %s: its etcd member and its data%s\n", controls.buf,
			ncontrols == nall_controls ? " (every control node: the cluster's whole "
						     "state, every object in it, is lost)" : "");
	fprintf(out, "  - the CNI configuration (/etc/cni/net.d), the iptables and IPVS rules,\n"
		"    /root/.kube/config\n"
		"  - clusterc's records of the cluster there (/var/lib/clusterc/%s/state): the\n"
		"    next apply sets the node up again from the start\n"
		"Packages, other files and the machines themselves stay.\n",
		p->cluster);
	strbuf_release(&all);
	strbuf_release(&controls);
}
