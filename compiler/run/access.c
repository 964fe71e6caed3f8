/* access: "where things are" after an apply, from the cluster's model
 * (OUTDIR/<cluster>/model.json): the kubeconfig, the web UIs and the address
 * they answer on, the command that prints each initial login, the /etc/hosts
 * line. Commands only, never a secret's value: the logins stay in the cluster.
 *
 * The address comes from Cilium's LB-IPAM at run time (the model names the
 * pool, not the address): after a good apply it is read from the cluster,
 * through the first control node (stdlib/runner/lb-address.sh), and the
 * /etc/hosts line is written out with it. When it cannot be read, the summary
 * gives the command that prints it, and why. */
#include "exec_internal.h"
#include "remote.h"

#include <string.h>

json_t *model_load(const char *dir)
{
	struct strbuf p = STRBUF_INIT;
	strbuf_addf(&p, "%s/model.json", dir);
	json_t *m = json_load_file(p.buf, 0, NULL);
	strbuf_release(&p);
	return m;
}

static const char *str_at(json_t *m, const char *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(m, obj), key));
}

static bool feature(json_t *m, const char *name)
{
	return json_is_true(json_object_get(json_object_get(m, "features"), name));
}

/* The object every web UI's address is on: the shared Gateway
 * (stdlib/templates/gateway-api/gateway.yaml), or the chart's shared Ingress
 * Service (ingressController.loadbalancerMode shared: Service cilium-ingress in
 * Cilium's namespace). network.cilium waits for the same address. */
static const struct lb_holder gateway_holder = {
	"gateway", "gateway", "cluster-gateway", "{.status.addresses[*].value}", "Gateway",
	NULL, "addresses", "value"
};
static const struct lb_holder ingress_holder = {
	"kube-system", "service", "cilium-ingress", "{.status.loadBalancer.ingress[*].ip}", "Service",
	"loadBalancer", "ingress", "ip"
};

const struct lb_holder *lb_holder(json_t *m)
{
	if (feature(m, "gateway_api"))
		return &gateway_holder;
	if (feature(m, "ingress_controller"))
		return &ingress_holder;
	return NULL;
}

void lb_addresses(const struct lb_holder *lb, json_t *obj, struct strbuf *out)
{
	json_t *st = json_object_get(obj, "status");
	if (lb->status_under)
		st = json_object_get(st, lb->status_under);
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(st, lb->status_list), i, a) {
		const char *v = json_string_value(json_object_get(a, lb->status_key));
		if (v && *v)
			strbuf_addf(out, "%s%s", out->len ? " " : "", v);
	}
}

/* Addresses as kubectl's JSONPath prints them: dotted quads (or IPv6)
 * separated by spaces; anything else (an error page, a warning) is not one. */
static bool looks_like_addresses(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdefABCDEF.: ", *s))
			return false;
	return true;
}

void access_read_address(struct run *r)
{
	json_t *m = model_load(r->plan.dir);
	const struct lb_holder *lb = m ? lb_holder(m) : NULL;
	if (!lb) {
		json_decref(m);
		return;
	}
	const char *fc = json_string_value(json_object_get(json_object_get(m, "first_control"), "name"));
	struct rhost *h = NULL;
	struct strbuf why = STRBUF_INIT;
	for (size_t i = 0; fc && i < r->nhosts; i++)
		if (!strcmp(r->hosts[i].name, fc))
			h = &r->hosts[i];
	if (!h || h->local || !h->ssh.address) {
		strbuf_addf(&why, "%s is not a host of this run", fc ? fc : "the first control node");
	} else if (h->fail) {
		strbuf_addf(&why, "%s: %s", h->name, h->fail);
	} else {
		/* Through the host's master while it is up: one multiplexed round trip. */
		struct strvec av = STRVEC_INIT;
		ssh_argv(&av, &h->ssh, h->ctl, SSH_CLIENT, r->o->connect_timeout, r->ssh_config);
		struct strbuf cmd = STRBUF_INIT, out = STRBUF_INIT;
		const char *args[] = { lb->ns, lb->kind, lb->name, lb->jsonpath, NULL };
		remote_cmd(&cmd, &h->ssh, remote_script(REMOTE_LB_ADDRESS), args);
		strvec_push(&av, cmd.buf);
		int rc = proc_run_sync((const char *const *)av.v, NULL, NULL, &out);
		strvec_clear(&av);
		strbuf_release(&cmd);
		strbuf_rtrim_newlines(&out);
		if (rc == 0 && looks_like_addresses(out.buf))
			r->lb_address = strbuf_detach(&out, NULL);
		else if (rc == 0)
			strbuf_addf(&why, "the %s %s/%s has no address yet", lb->what, lb->ns, lb->name);
		else
			strbuf_addf(&why, "reading it through %s failed (exit %d)", h->name, rc);
		strbuf_release(&out);
	}
	if (why.len)
		r->lb_unread = strbuf_detach(&why, NULL);
	strbuf_release(&why);
	json_decref(m);
}

struct web_ui {
	const char *name, *url_scheme, *host;
	const char *login; /* a command, with KUBECTL in front */
};

static void add_ui(json_t *services, struct strbuf *txt, struct strbuf *hosts,
		   const char *kubectl, const struct web_ui *u)
{
	if (!u->host)
		return;
	struct strbuf url = STRBUF_INIT, login = STRBUF_INIT;
	strbuf_addf(&url, "%s://%s/", u->url_scheme, u->host);
	strbuf_addf(txt, "  %-11s %s\n", u->name, url.buf);
	json_t *o = json_pack("{s:s,s:s,s:s}", "name", u->name, "url", url.buf, "host", u->host);
	if (u->login) {
		strbuf_addf(&login, "%s %s", kubectl, u->login);
		strbuf_addf(txt, "  %-11s %s\n", "", login.buf);
		json_object_set_new(o, "login", json_string(login.buf));
	}
	json_array_append_new(services, o);
	strbuf_addf(hosts, " %s", u->host);
	strbuf_release(&url);
	strbuf_release(&login);
}

json_t *access_summary(struct run *r, struct strbuf *txt)
{
	json_t *m = model_load(r->plan.dir);
	const char *cluster = m ? str_at(m, "cluster", "name") : NULL;
	if (!cluster) {
		json_decref(m);
		return NULL;
	}
	json_t *out = json_object(), *services = json_array();
	struct strbuf kc = STRBUF_INIT, kubectl = STRBUF_INIT, hosts = STRBUF_INIT,
		      addr = STRBUF_INIT;
	/* Where kubernetes.kubeconfig_local writes it (stdlib/templates/kubernetes/kubeconfig-local.sh). */
	strbuf_addf(&kc, "~/.kube/%s.conf", cluster);
	strbuf_addf(&kubectl, "kubectl --kubeconfig %s", kc.buf);
	strbuf_addstr(txt, "where things are:\n");
	strbuf_addf(txt, "  %-11s %s (export KUBECONFIG=%s)\n", "kubeconfig", kc.buf, kc.buf);
	json_object_set_new(out, "kubeconfig", json_string(kc.buf));

	if (feature(m, "gitops")) {
		struct web_ui u = { "argocd", "https", str_at(m, "argocd", "host"),
				    "-n argocd get secret argocd-initial-admin-secret "
				    "-o jsonpath='{.data.password}' | base64 -d  # user admin" };
		add_ui(services, txt, &hosts, kubectl.buf, &u);
	}
	if (feature(m, "monitoring")) {
		json_t *mon = json_object_get(m, "monitoring");
		struct web_ui g = { "grafana", "http",
				    json_string_value(json_object_get(json_object_get(mon, "grafana"), "host")),
				    "-n monitoring get secret grafana-admin "
				    "-o jsonpath='{.data.admin-password}' | base64 -d  # user admin" };
		struct web_ui x = { "matrix", "http",
				    json_string_value(json_object_get(json_object_get(mon, "matrix"), "host")),
				    "-n monitoring exec -it matrix-0 -c synapse -- register_new_matrix_user "
				    "-c /data/homeserver.yaml http://localhost:8008  # makes your user" };
		struct web_ui p = { "prometheus", "http",
				    json_string_value(json_object_get(json_object_get(mon, "prometheus"), "host")),
				    NULL };
		struct web_ui a = { "alertmanager", "http",
				    json_string_value(json_object_get(json_object_get(mon, "alertmanager"), "host")),
				    NULL };
		add_ui(services, txt, &hosts, kubectl.buf, &g);
		add_ui(services, txt, &hosts, kubectl.buf, &x);
		add_ui(services, txt, &hosts, kubectl.buf, &p);
		add_ui(services, txt, &hosts, kubectl.buf, &a);
	}
	json_object_set_new(out, "services", services);

	/* The one LoadBalancer address every web UI answers on. */
	const struct lb_holder *lb = lb_holder(m);
	const char *pool = str_at(m, "network", "lb_pool");
	const char *live = lb ? r->lb_address : NULL;
	if (lb)
		strbuf_addf(&addr, "%s -n %s get %s %s -o jsonpath='%s'", kubectl.buf, lb->ns, lb->kind,
			    lb->name, lb->jsonpath);
	if (live) {
		strbuf_addf(txt, "  %-11s %s (from the pool %s)\n", "address", live, pool ? pool : "?");
		json_object_set_new(out, "address", json_string(live));
	} else if (lb) {
		strbuf_addf(txt, "  %-11s from the pool %s: %s\n", "address", pool ? pool : "?", addr.buf);
		if (r->lb_unread)
			strbuf_addf(txt, "  %-11s (not read: %s)\n", "", r->lb_unread);
	}
	if (lb)
		json_object_set_new(out, "address_command", json_string(addr.buf));
	if (pool)
		json_object_set_new(out, "lb_pool", json_string(pool));
	if (hosts.len && lb) {
		const char *domain = str_at(m, "cluster", "domain");
		/* One line per address: a Service may have an address per family. */
		const char *first = live ? live : "ADDRESS";
		size_t n = strcspn(first, " ");
		strbuf_addf(txt, "  %s not in DNS? add to /etc/hosts%s:\n", domain ? domain : "the domain",
			    live ? "" : " (ADDRESS from the command above)");
		strbuf_addf(txt, "    %.*s%s\n", (int)n, first, hosts.buf);
		json_object_set_new(out, "hostnames", json_string(hosts.buf + 1));
	}
	strbuf_release(&kc);
	strbuf_release(&kubectl);
	strbuf_release(&hosts);
	strbuf_release(&addr);
	json_decref(m);
	return out;
}
