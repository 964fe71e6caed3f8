/* status: `clusterc status`, the health a person checks by hand after an
 * apply (the reference project's "common investigation commands"), on one
 * screen: nodes Ready with the file's labels and taints, Cilium and its L2
 * leases, the storage classes, nvidia.com/gpu allocatable per GPU node, the
 * ArgoCD applications synced and healthy, the alert path (Alertmanager, the
 * Matrix bridge, Matrix) up. What to expect comes from the model
 * (OUTDIR/<cluster>/model.json); what is, from one read-only script
 * (stdlib/runner/status.sh) on the first control node over the runner's own
 * pinned ssh (run_setup with the first control as the only host). */
#include "exec_internal.h"
#include "net.h"
#include "remote.h"
#include "xalloc.h"

#include <string.h>

struct checks {
	int failed;
};

static void report(struct checks *c, bool ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void report(struct checks *c, bool ok, const char *what, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("  %-4s %-9s ", ok ? "ok" : "FAIL", what);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	if (!ok)
		c->failed++;
}

/* The "::clusterc::status NAME RC" sections of the script's output. */
static json_t *section(const char *out, const char *name, int *rc)
{
	struct strbuf head = STRBUF_INIT;
	strbuf_addf(&head, "::clusterc::status %s ", name);
	const char *p = strstr(out, head.buf);
	strbuf_release(&head);
	*rc = -1;
	if (!p)
		return NULL;
	p += strlen("::clusterc::status ") + strlen(name) + 1;
	*rc = atoi(p);
	p = strchr(p, '\n');
	if (!p)
		return NULL;
	const char *end = strstr(p + 1, "::clusterc::status ");
	size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
	return *rc == 0 ? json_loadb(p + 1, n, 0, NULL) : NULL;
}

static json_t *find_named(json_t *list, const char *name)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(list, "items"), i, o)
		if (!strcmp(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")) ?: "",
			    name))
			return o;
	return NULL;
}

static const char *meta(json_t *o, const char *map, const char *key)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(o, "metadata"), map), key));
}

static bool node_ready(json_t *node)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(json_object_get(node, "status"), "conditions"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Ready"))
			return !strcmp(json_string_value(json_object_get(c, "status")) ?: "", "True");
	return false;
}

/* "key=value:Effect" or "key:Effect" as the node has it. */
static bool node_has_taint(json_t *node, const char *want)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(json_object_get(node, "spec"), "taints"), i, t) {
		const char *k = json_string_value(json_object_get(t, "key")) ?: "";
		const char *v = json_string_value(json_object_get(t, "value"));
		const char *e = json_string_value(json_object_get(t, "effect")) ?: "";
		struct strbuf sb = STRBUF_INIT;
		strbuf_addf(&sb, v && *v ? "%s=%s:%s" : "%s%s:%s", k, v && *v ? v : "", e);
		bool same = !strcmp(sb.buf, want);
		strbuf_release(&sb);
		if (same)
			return true;
	}
	return false;
}

static void check_nodes(struct checks *c, json_t *m, json_t *nodes)
{
	size_t total = 0, ready = 0;
	int before = c->failed;
	const char *groups[] = { "controls", "workers" };
	for (size_t g = 0; g < 2; g++) {
		size_t i;
		json_t *n;
		json_array_foreach(json_object_get(m, groups[g]), i, n) {
			const char *name = json_string_value(json_object_get(n, "name"));
			json_t *live = find_named(nodes, name);
			total++;
			if (!live) {
				report(c, false, "node", "%s is not in the cluster", name);
				continue;
			}
			if (node_ready(live))
				ready++;
			else
				report(c, false, "node", "%s is not Ready", name);
			const char *k;
			json_t *v;
			json_object_foreach(json_object_get(n, "labels"), k, v) {
				const char *have = meta(live, "labels", k);
				if (!have || strcmp(have, json_string_value(v) ?: ""))
					report(c, false, "node", "%s: label %s is %s%s%s, the file says \"%s\"",
					       name, k, have ? "\"" : "", have ? have : "missing",
					       have ? "\"" : "", json_string_value(v));
			}
			size_t t;
			json_t *taint;
			json_array_foreach(json_object_get(n, "taints"), t, taint)
				if (!node_has_taint(live, json_string_value(taint) ?: ""))
					report(c, false, "node", "%s: taint %s is missing", name,
					       json_string_value(taint));
		}
	}
	if (c->failed == before)
		report(c, true, "nodes", "%zu/%zu Ready, labels and taints as the file says", ready, total);
}

static void check_cilium(struct checks *c, json_t *m, json_t *ds, json_t *leases)
{
	json_t *cil = find_named(ds, "cilium");
	json_t *st = json_object_get(cil, "status");
	json_int_t want = json_integer_value(json_object_get(st, "desiredNumberScheduled"));
	json_int_t have = json_integer_value(json_object_get(st, "numberReady"));
	if (!cil)
		report(c, false, "cilium", "no cilium daemonset in kube-system");
	else
		report(c, want > 0 && have == want, "cilium", "%lld/%lld agents ready", (long long)have,
		       (long long)want);
	if (!json_is_true(json_object_get(json_object_get(m, "features"), "l2")))
		return;
	/* Cilium's L2 announcer holds one lease per announced service. */
	struct strbuf sb = STRBUF_INIT;
	size_t i, n = 0;
	json_t *l;
	json_array_foreach(json_object_get(leases, "items"), i, l) {
		const char *name = json_string_value(json_object_get(json_object_get(l, "metadata"), "name")) ?: "";
		if (strncmp(name, "cilium-l2announce-", 18))
			continue;
		const char *holder = json_string_value(json_object_get(json_object_get(l, "spec"), "holderIdentity"));
		strbuf_addf(&sb, "%s%s on %s", n ? ", " : "", name + 18, holder ? holder : "nobody");
		n++;
	}
	if (n)
		report(c, true, "l2", "%zu lease%s: %s", n, n == 1 ? "" : "s", sb.buf);
	else
		report(c, false, "l2", "no L2 announcement lease: no LoadBalancer address is answered");
	strbuf_release(&sb);
}

static void check_storage(struct checks *c, json_t *m, json_t *classes)
{
	json_t *ceph = json_object_get(m, "ceph");
	if (!json_is_object(ceph))
		return;
	const char *want = json_string_value(json_object_get(ceph, "default_class"));
	json_t *sc = want ? find_named(classes, want) : NULL;
	bool dflt = sc && !strcmp(meta(sc, "annotations", "storageclass.kubernetes.io/is-default-class") ?: "",
				  "true");
	if (!sc)
		report(c, false, "storage", "storage class %s is missing", want ? want : "?");
	else if (json_is_true(json_object_get(ceph, "is_default")) && !dflt)
		report(c, false, "storage", "%s is not the default storage class", want);
	else
		report(c, true, "storage", "%s%s", want, dflt ? " (default)" : "");
}

static void check_gpus(struct checks *c, json_t *m, json_t *nodes)
{
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(m, "gpu_nodes"), i, n) {
		const char *name = json_string_value(json_object_get(n, "name"));
		json_t *live = find_named(nodes, name);
		const char *gpus = json_string_value(json_object_get(
			json_object_get(json_object_get(live, "status"), "allocatable"), "nvidia.com/gpu"));
		report(c, gpus && atoi(gpus) > 0, "gpu", "%s: nvidia.com/gpu allocatable %s", name,
		       gpus ? gpus : "none");
	}
}

static void check_apps(struct checks *c, json_t *m, json_t *apps, int rc)
{
	if (!json_is_true(json_object_get(json_object_get(m, "features"), "gitops")))
		return;
	if (rc != 0) {
		report(c, false, "argocd", "cannot list the applications in argocd");
		return;
	}
	size_t i, good = 0, total = json_array_size(json_object_get(apps, "items"));
	json_t *a;
	json_array_foreach(json_object_get(apps, "items"), i, a) {
		json_t *st = json_object_get(a, "status");
		const char *sync = json_string_value(json_object_get(json_object_get(st, "sync"), "status")) ?: "Unknown";
		const char *health = json_string_value(json_object_get(json_object_get(st, "health"), "status")) ?: "Unknown";
		if (!strcmp(sync, "Synced") && !strcmp(health, "Healthy"))
			good++;
		else
			report(c, false, "argocd", "%s: %s, %s",
			       json_string_value(json_object_get(json_object_get(a, "metadata"), "name")), sync, health);
	}
	json_array_foreach(json_object_get(m, "apps"), i, a) {
		const char *name = json_string_value(json_object_get(a, "name"));
		if (!find_named(apps, name))
			report(c, false, "argocd", "application %s is missing", name);
	}
	if (good == total)
		report(c, true, "argocd", "%zu/%zu applications synced and healthy", good, total);
}

static void check_alerts(struct checks *c, json_t *m, json_t *sts, json_t *deploy)
{
	if (!json_is_true(json_object_get(json_object_get(m, "features"), "monitoring")))
		return;
	/* The path an alert takes: Alertmanager, its Matrix bridge, the homeserver. */
	struct { const char *name; json_t *list; } path[] = {
		{ "alertmanager", sts }, { "alertmanager-matrix", deploy }, { "matrix", sts },
	};
	struct strbuf sb = STRBUF_INIT;
	bool up = true;
	for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		json_t *o = find_named(path[i].list, path[i].name);
		json_int_t want = json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas"));
		json_int_t have = json_integer_value(json_object_get(json_object_get(o, "status"), "readyReplicas"));
		if (!o || have < 1 || have < want)
			up = false;
		strbuf_addf(&sb, "%s%s %lld/%lld", i ? ", " : "", path[i].name, (long long)have,
			    (long long)(o ? want : 0));
	}
	report(c, up, "alerts", "%s", sb.buf);
	strbuf_release(&sb);
}

/* The web UIs' LoadBalancer address: given (LB-IPAM), and from the file's pool.
 * Only where the file has a pool (l2): without one nothing hands out addresses. */
static void check_address(struct checks *c, json_t *m, json_t *gateways, json_t *services)
{
	const struct lb_holder *lb = lb_holder(m);
	const char *pool = json_string_value(json_object_get(json_object_get(m, "network"), "lb_pool"));
	if (!lb || !pool)
		return;
	json_t *obj = find_named(!strcmp(lb->kind, "gateway") ? gateways : services, lb->name);
	if (!obj) {
		report(c, false, "address", "no %s %s/%s in the cluster", lb->what, lb->ns, lb->name);
		return;
	}
	struct strbuf have = STRBUF_INIT, outside = STRBUF_INIT;
	lb_addresses(lb, obj, &have);
	uint32_t net, a;
	uint8_t prefix;
	bool pool_ok = cidr_parse(pool, strlen(pool), &net, &prefix) == NET_OK;
	for (const char *p = have.buf; pool_ok && *p;) {
		size_t n = strcspn(p, " ");
		/* An IPv6 address is not checked: the pool is IPv4 (LANGUAGE.md). */
		if (ipv4_parse(p, n, &a) == NET_OK && !cidr_contains(net, prefix, a))
			strbuf_addf(&outside, "%s%.*s", outside.len ? " " : "", (int)n, p);
		p += n + (p[n] == ' ');
	}
	if (!have.len)
		report(c, false, "address", "%s %s/%s has no address from the pool %s (LB-IPAM)", lb->what,
		       lb->ns, lb->name, pool);
	else if (outside.len)
		report(c, false, "address", "%s %s/%s answers on %s, outside the pool %s", lb->what, lb->ns,
		       lb->name, outside.buf, pool);
	else
		report(c, true, "address", "%s (%s %s/%s, pool %s)", have.buf, lb->what, lb->ns, lb->name,
		       pool);
	strbuf_release(&have);
	strbuf_release(&outside);
}

int run_status(const struct run_opts *o, const char *dir)
{
	json_t *m = model_load(dir);
	const char *fc = json_string_value(json_object_get(json_object_get(m, "first_control"), "name"));
	if (!fc) {
		fprintf(stderr, "clusterc: status: %s/model.json names no first control node "
			"(build the cluster with clusterc build)\n", dir);
		json_decref(m);
		return 2;
	}
	/* The runner's own setup, for one host: its inventory entry or plan.json
	 * address, the pinned known_hosts, the generated ssh_config. */
	struct run_opts ro = *o;
	char *limit[] = { (char *)fc };
	ro.apply = false;
	ro.limit = limit;
	ro.nlimit = 1;
	ro.nonly = 0;
	struct run r;
	memset(&r, 0, sizeof(r));
	r.o = &ro;
	r.env = json_object();
	r.values = json_object();
	r.local_state = json_object();
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	int status = 2;
	struct rhost *h = NULL;
	if (run_setup(&r, dir, &err) < 0)
		goto done;
	for (size_t i = 0; i < r.nhosts; i++)
		if (!strcmp(r.hosts[i].name, fc) && r.hosts[i].ssh.address)
			h = &r.hosts[i];
	if (!h) {
		strbuf_addf(&err, "no way to reach %s: it has no step in plan.json", fc);
		goto done;
	}
	struct strvec av = STRVEC_INIT;
	/* No master: with ControlMaster=no and no socket, one direct connection. */
	ssh_argv(&av, &h->ssh, h->ctl, SSH_CLIENT, o->connect_timeout, r.ssh_config);
	struct strbuf cmd = STRBUF_INIT;
	const char *none[] = { NULL };
	remote_cmd(&cmd, &h->ssh, remote_script(REMOTE_STATUS), none);
	strvec_push(&av, cmd.buf);
	int rc = proc_run_sync((const char *const *)av.v, NULL, NULL, &out);
	strvec_clear(&av);
	strbuf_release(&cmd);
	if (rc != 0 || !strstr(out.buf, "::clusterc::status nodes ")) {
		while (out.len && (out.buf[out.len - 1] == '\n' || out.buf[out.len - 1] == ' '))
			out.buf[--out.len] = '\0';
		strbuf_addf(&err, "reading the cluster through %s failed (exit %d): %s", fc, rc, out.buf);
		goto done;
	}
	int src[9];
	json_t *nodes = section(out.buf, "nodes", &src[0]);
	json_t *ds = section(out.buf, "cilium", &src[1]);
	json_t *leases = section(out.buf, "leases", &src[2]);
	json_t *classes = section(out.buf, "storageclasses", &src[3]);
	json_t *apps = section(out.buf, "applications", &src[4]);
	json_t *sts = section(out.buf, "monitoring_sts", &src[5]);
	json_t *deploy = section(out.buf, "monitoring_deploy", &src[6]);
	json_t *gateways = section(out.buf, "gateways", &src[7]);
	json_t *services = section(out.buf, "kube_services", &src[8]);
	struct checks c = { 0 };
	printf("status of %s (read through %s):\n", r.plan.cluster, fc);
	if (!nodes)
		report(&c, false, "nodes", "kubectl get nodes failed on %s", fc);
	else
		check_nodes(&c, m, nodes);
	/* Every cluster gets Cilium (features.network is its optional settings). */
	check_cilium(&c, m, ds, leases);
	check_address(&c, m, gateways, services);
	check_storage(&c, m, classes);
	check_gpus(&c, m, nodes);
	check_apps(&c, m, apps, src[4]);
	check_alerts(&c, m, sts, deploy);
	if (c.failed)
		printf("%d problem%s\n", c.failed, c.failed == 1 ? "" : "s");
	status = c.failed ? 1 : 0;
	json_decref(nodes);
	json_decref(ds);
	json_decref(leases);
	json_decref(classes);
	json_decref(apps);
	json_decref(sts);
	json_decref(deploy);
	json_decref(gateways);
	json_decref(services);
done:
	if (err.len)
		fprintf(stderr, "clusterc: status: %s\n", err.buf);
	run_teardown(&r);
	run_free(&r);
	strbuf_release(&err);
	strbuf_release(&out);
	json_decref(m);
	return status;
}
