/* access: "where things are" after an apply, from the cluster's model
 * (OUTDIR/<cluster>/model.json): the kubeconfig, the web UIs and the address
 * they answer on, the command that prints each initial login, the /etc/hosts
 * line. Commands only, never a secret's value: the logins stay in the cluster.
 *
 * The addresses come from Cilium's LB-IPAM at run time (the model names the
 * pool, not the address), so the summary gives the command that prints it. */
#include "exec_internal.h"

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

json_t *access_summary(const char *dir, struct strbuf *txt)
{
	json_t *m = model_load(dir);
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
	if (feature(m, "gateway_api"))
		strbuf_addf(&addr, "%s -n gateway get gateway cluster-gateway "
			    "-o jsonpath='{.status.addresses[*].value}'", kubectl.buf);
	else if (feature(m, "ingress_controller"))
		strbuf_addf(&addr, "%s -n kube-system get service cilium-ingress "
			    "-o jsonpath='{.status.loadBalancer.ingress[*].ip}'", kubectl.buf);
	const char *pool = str_at(m, "network", "lb_pool");
	if (addr.len) {
		strbuf_addf(txt, "  %-11s from the pool %s: %s\n", "address", pool ? pool : "?",
			    addr.buf);
		json_object_set_new(out, "address_command", json_string(addr.buf));
	}
	if (pool)
		json_object_set_new(out, "lb_pool", json_string(pool));
	if (hosts.len && addr.len) {
		const char *domain = str_at(m, "cluster", "domain");
		strbuf_addf(txt, "  %s not in DNS? add to /etc/hosts (ADDRESS from the command above):\n",
			    domain ? domain : "the domain");
		strbuf_addf(txt, "    ADDRESS%s\n", hosts.buf);
		json_object_set_new(out, "hostnames", json_string(hosts.buf + 1));
	}
	strbuf_release(&kc);
	strbuf_release(&kubectl);
	strbuf_release(&hosts);
	strbuf_release(&addr);
	json_decref(m);
	return out;
}
