/* check_model: the cross-block rules of LANGUAGE.md that model_build.c
 * applies while it builds the model: names, versions, ssh, Proxmox
 * identifiers, duplicates, labels, taints and the control endpoint. Every
 * duplicate and overlap check is a hash lookup or a per-node comparison, so
 * cost grows linearly with the number of nodes. */
#include "model_internal.h"
#include "previous_build.h"
#include "net.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- Kubernetes name rules ---- */

bool rfc1123_label(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

bool dns_subdomain(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			size_t len = i - start;
			if (len == 0 || len > 63 || s[start] == '-' || s[i - 1] == '-')
				return false;
			for (size_t k = start; k < i; k++)
				if (!(islower((unsigned char)s[k]) || isdigit((unsigned char)s[k]) || s[k] == '-'))
					return false;
			start = i + 1;
		}
	}
	return true;
}

/* A label name or value: alphanumerics, '-', '_', '.', alphanumeric at both ends. */
static bool label_name(const char *s, size_t n, bool empty_ok)
{
	if (n == 0)
		return empty_ok;
	if (n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

static bool suffix_is(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	if (n < k)
		return false;
	if (memcmp(s + n - k, suffix, k))
		return false;
	return n == k || s[n - k - 1] == '.';
}

/* Returns an error message for a bad label key, or NULL. */
static const char *label_key_problem(const char *key, bool *protected_prefix)
{
	*protected_prefix = false;
	const char *slash = strchr(key, '/');
	const char *name = slash ? slash + 1 : key;
	if (slash) {
		size_t plen = (size_t)(slash - key);
		if (!dns_subdomain(key, plen))
			return "its prefix is not a DNS subdomain (lower-case letters, digits, '-' and '.')";
		if (suffix_is(key, plen, "kubernetes.io") || suffix_is(key, plen, "k8s.io") ||
		    suffix_is(key, plen, "nvidia.com")) {
			*protected_prefix = true;
			return NULL;
		}
	}
	if (!label_name(name, strlen(name), false))
		return "the name must be 1 to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit";
	return NULL;
}

/* ---- versions ---- */

bool parse_minor_version(const char *s, int *major, int *minor)
{
	char *end;
	errno = 0;
	long ma = strtol(s, &end, 10);
	if (end == s || *end != '.' || ma < 0 || ma > 99)
		return false;
	const char *p = end + 1;
	long mi = strtol(p, &end, 10);
	if (end == p || *end || mi < 0 || mi > 999 || errno)
		return false;
	*major = (int)ma;
	*minor = (int)mi;
	return true;
}

void check_versions(struct model_ctx *c, const struct ast_node *cl)
{
	struct ast_node *kv = value_get(cl, "kubernetes"), *cv = value_get(cl, "crio");
	int kma, kmi, cma, cmi;
	/* A poisoned value (a missing env(), a bad string) was reported already. */
	if ((kv && kv->poisoned) || (cv && cv->poisoned))
		return;
	bool kok = kv && kv->kind == AST_STRING && parse_minor_version(kv->u.str, &kma, &kmi);
	bool cok = cv && cv->kind == AST_STRING && parse_minor_version(cv->u.str, &cma, &cmi);
	if (kv && kv->kind == AST_STRING && !kok) {
		diag_error(c->d, kv->loc, "C0401", "'%s' is not a Kubernetes minor version", kv->u.str);
		diag_hint(c->d, "write MAJOR.MINOR, such as \"1.34\": the package repositories are per minor version");
	}
	if (cv && cv->kind == AST_STRING && !cok) {
		diag_error(c->d, cv->loc, "C0402", "'%s' is not a CRI-O minor version", cv->u.str);
		diag_hint(c->d, "write MAJOR.MINOR, such as \"1.34\"");
	}
	if (kok && kma != 1)
		diag_error(c->d, kv->loc, "C0403", "Kubernetes %s does not exist: only major version 1 does", kv->u.str);
	if (cok && cma != 1)
		diag_error(c->d, cv->loc, "C0404", "CRI-O %s does not exist: only major version 1 does", cv->u.str);
	if (!kok || !cok || kma != 1 || cma != 1)
		return;
	if (cmi == kmi)
		return;
	if (cmi == kmi - 1) {
		diag_warning(c->d, cv->loc, "C0405", "CRI-O %s with Kubernetes %s is unusual: CRI-O follows the Kubernetes minor",
			     cv->u.str, kv->u.str);
		diag_hint(c->d, "crio = \"%s\" matches; one minor behind works but is not the tested pairing", kv->u.str);
		return;
	}
	diag_error(c->d, cv->loc, "C0406", "CRI-O %s does not fit Kubernetes %s", cv->u.str, kv->u.str);
	diag_hint(c->d, "use the same minor version for both, crio = \"%s\"", kv->u.str);
}

/* The version skew policy against the previous build: kubeadm upgrades a
 * cluster one minor version at a time and never down ("Skipping MINOR
 * versions when upgrading is unsupported", kubernetes.io, Upgrading kubeadm
 * clusters), and the machines of an applied build run its version. */
void check_upgrade(struct model_ctx *c, const struct ast_node *cl)
{
	struct ast_node *kv = value_get(cl, "kubernetes");
	int ma, mi, pma, pmi;
	if (!c->u->previous_dir || !kv || kv->kind != AST_STRING || !parse_minor_version(kv->u.str, &ma, &mi) ||
	    !cl->u.block.name)
		return;
	json_t *prev = previous_model_load(c->u->previous_dir, cl->u.block.name, NULL, NULL);
	const char *was = json_string_value(json_object_get(json_object_get(prev, "cluster"), "kubernetes"));
	if (was && parse_minor_version(was, &pma, &pmi) && pma == ma) {
		if (mi < pmi) {
			diag_error(c->d, kv->loc, "C0452", "Kubernetes %s is older than %s, the version %s/%s was built "
				   "for: kubeadm cannot downgrade a cluster", kv->u.str, was,
				   c->u->previous_dir, cl->u.block.name);
			diag_hint(c->d, "keep kubernetes = \"%s\"; an older version needs its machines "
				  "installed afresh (kubeadm reset on every node), not an upgrade", was);
		} else if (mi > pmi + 1) {
			diag_error(c->d, kv->loc, "C0453", "Kubernetes %s skips 1.%d: the previous build (%s/%s) is %s, "
				   "and kubeadm upgrades one minor version at a time", kv->u.str, pmi + 1,
				   c->u->previous_dir, cl->u.block.name, was);
			diag_hint(c->d, "set kubernetes = \"1.%d\" (and crio), build and apply; then go on "
				  "to %s", pmi + 1, kv->u.str);
		}
	}
	json_decref(prev);
}

/* A user name that would be an ssh option or break a command line. */
bool bad_ssh_user(const char *user)
{
	return !*user || user[0] == '-' || strpbrk(user, " \t\n'\"$`\\;&|<>@");
}

void check_ssh_port(struct model_ctx *c, const struct ast_node *ssh)
{
	struct ast_node *p = value_get(ssh, "port");
	if (p && p->kind == AST_INT && (p->u.num < 1 || p->u.num > 65535))
		diag_error(c->d, p->loc, "C0407", "ssh port %llu is not between 1 and 65535", (unsigned long long)p->u.num);
}

/* Proxmox identifiers (node, storage and bridge names) follow its
 * configuration ID rule: a letter, then letters, digits, '-', '_' or '.'. They
 * are written into API arguments, so nothing else may pass. */
void check_pve_id(struct model_ctx *c, const struct ast_node *blk, const char *attr)
{
	struct ast_node *v = blk ? block_get(blk, attr) : NULL;
	if (!v || v->kind != AST_STRING || v->poisoned)
		return;
	const char *s = v->u.str;
	bool ok = isalpha((unsigned char)s[0]) && strlen(s) <= 64;
	for (const char *p = s; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
	if (!ok) {
		diag_error(c->d, v->loc, "C0408", "%s '%s' is not a Proxmox identifier", attr, s);
		diag_hint(c->d, "Proxmox names start with a letter, then letters, digits, '-', '_' or '.'");
	}
}

/* Records a named block; a second one of that name is reported with both
 * places. Returns false for the duplicate. */
bool first_definition(struct model_ctx *c, struct strmap *seen, struct ast_node *blk)
{
	struct ast_node *prev = strmap_put(seen, blk->u.block.name, blk);
	if (!prev)
		return true;
	diag_error(c->d, blk->u.block.name_loc, "C0409", "%s '%s' is defined twice", blk->u.block.type,
		   blk->u.block.name);
	diag_note(c->d, prev->u.block.name_loc, "first defined here");
	return false;
}

bool first_setting(struct model_ctx *c, struct strmap *seen, struct ast_node *attr, const char *what)
{
	struct ast_node *prev = strmap_put(seen, attr->u.attr.name, attr);
	if (!prev)
		return true;
	diag_error(c->d, attr->u.attr.name_loc, "C0410", "%s '%s' is set twice", what, attr->u.attr.name);
	diag_note(c->d, prev->u.attr.name_loc, "first set here");
	return false;
}

bool pci_ok(const char *s)
{
	/* DDDD:BB:SS, hexadecimal; no function, so every function passes through. */
	static const char shape[] = "xxxx:xx:xx";
	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != ':')
			return false;
	return true;
}

void check_labels(struct model_ctx *c, struct ast_node *labels, json_t *out)
{
	if (!labels || labels->kind != AST_MAP)
		return;
	struct strmap seen;
	strmap_init(&seen);
	for (struct ast_node *e = labels->u.list.items; e; e = e->next) {
		const char *k = e->u.attr.name;
		struct ast_node *v = e->u.attr.value;
		if (!first_setting(c, &seen, e, "label"))
			continue;
		bool protected_prefix;
		const char *why = label_key_problem(k, &protected_prefix);
		if (protected_prefix) {
			diag_error(c->d, e->u.attr.name_loc, "C0411", "label '%s' uses a protected prefix", k);
			diag_hint(c->d, "kubernetes.io/, k8s.io/ and nvidia.com/ belong to Kubernetes and its device plugins; clusterc never sets or removes them");
			continue;
		}
		if (why) {
			diag_error(c->d, e->u.attr.name_loc, "C0412", "label key '%s' is not valid: %s", k, why);
			continue;
		}
		if (!strcmp(k, "accelerator") || !strcmp(k, "gpu-type")) {
			diag_error(c->d, e->u.attr.name_loc, "C0413", "label '%s' is managed by clusterc from the gpu block", k);
			diag_hint(c->d, "describe the card with gpu { model = \"...\" } instead");
			continue;
		}
		if (v->kind != AST_STRING || v->poisoned)
			continue;
		if (!label_name(v->u.str, strlen(v->u.str), true)) {
			diag_error(c->d, v->loc, "C0414", "label value '%s' is not valid", v->u.str);
			diag_hint(c->d, "values are at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit");
			continue;
		}
		json_object_set_new(out, k, json_string(v->u.str));
	}
	strmap_release(&seen);
}

void check_taints(struct model_ctx *c, struct ast_node *taints, json_t *out)
{
	if (!taints || taints->kind != AST_LIST)
		return;
	static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute" };
	for (struct ast_node *t = taints->u.list.items; t; t = t->next) {
		if (t->kind != AST_STRING || t->poisoned)
			continue;
		const char *s = t->u.str;
		const char *colon = strrchr(s, ':');
		const char *eq = strchr(s, '=');
		if (!colon || (eq && eq > colon)) {
			diag_error(c->d, t->loc, "C0415", "taint '%s' is not \"key=value:Effect\"", s);
			continue;
		}
		const char *effect = colon + 1;
		bool effect_ok = false;
		for (size_t i = 0; i < 3; i++)
			effect_ok |= !strcmp(effect, effects[i]);
		if (!effect_ok) {
			diag_error(c->d, t->loc, "C0416", "taint effect '%s' is not NoSchedule, PreferNoSchedule or NoExecute", effect);
			hint_suggest(c->d, effect, (const char **)effects, 3);
			continue;
		}
		size_t klen = eq ? (size_t)(eq - s) : (size_t)(colon - s);
		char *key = xstrndup(s, klen);
		char *val = eq ? xstrndup(eq + 1, (size_t)(colon - eq - 1)) : xstrdup("");
		bool prot;
		const char *why = label_key_problem(key, &prot);
		if (why || !*key)
			diag_error(c->d, t->loc, "C0417", "taint key '%s' is not valid: %s", key, why ? why : "it is empty");
		else if (!label_name(val, strlen(val), true))
			diag_error(c->d, t->loc, "C0418", "taint value '%s' is not valid", val);
		else
			json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s}", "key", key, "value", val,
							     "effect", effect, "text", s));
		free(key);
		free(val);
	}
}

void check_control_endpoint(struct model_ctx *c, struct netinfo *ni, json_t *cluster, json_t *nodes)
{
	struct ast_node *cl = c->b->cluster;
	struct ast_node *ce = value_get(cl, "control_endpoint");
	size_t ncontrol = 0, idx;
	json_t *n, *first = NULL;
	json_array_foreach(nodes, idx, n) {
		if (!strcmp(json_string_value(json_object_get(n, "role")), "control")) {
			if (!ncontrol)
				first = n;
			ncontrol++;
		}
	}
	json_object_set_new(cluster, "ha", json_boolean(ncontrol > 1));
	if (!ce || ce->kind != AST_IPV4) {
		/* A control_endpoint of the wrong type was reported already. */
		if (ncontrol > 1 && !block_get(cl, "control_endpoint")) {
			diag_error(c->d, cl->u.block.type_loc, "C0419", "%zu control nodes need a control_endpoint", ncontrol);
			diag_hint(c->d, "set control_endpoint to a free address in the node subnet: kube-vip serves it for the API servers");
		}
		json_t *ip = first ? json_object_get(first, "ip") : NULL;
		json_object_set(cluster, "control_endpoint", ip ? ip : json_null());
		return;
	}
	uint32_t a = ce->u.ip.addr;
	set_ip(cluster, "control_endpoint", a);
	char *ce_text = fmt_ip(a);
	json_array_foreach(nodes, idx, n) {
		const char *ip = json_string_value(json_object_get(n, "ip"));
		if (ip && !strcmp(ip, ce_text))
			diag_error(c->d, ce->loc, "C0420", "control_endpoint %s is node '%s''s address", ce_text,
				   json_string_value(json_object_get(n, "name")));
	}
	free(ce_text);
	if (ni->have_gateway && !cidr_contains(ni->gateway, ni->prefix, a)) {
		diag_error(c->d, ce->loc, "C0421", "control_endpoint is outside the node subnet");
		diag_note(c->d, ni->gateway_loc, "the gateway is here");
	} else if (!ni->have_gateway && first) {
		uint32_t fip;
		const char *s = json_string_value(json_object_get(first, "ip"));
		if (s && ipv4_parse(s, strlen(s), &fip) == NET_OK &&
		    !cidr_contains(fip, (uint8_t)json_integer_value(json_object_get(first, "prefix")), a))
			diag_error(c->d, ce->loc, "C0421", "control_endpoint is outside the node subnet");
	}
	if (ni->have_gateway && a == ni->gateway)
		diag_error(c->d, ce->loc, "C0422", "control_endpoint is the gateway's address");
	if (ni->have_pool && cidr_contains(ni->pool, ni->pool_prefix, a)) {
		diag_error(c->d, ce->loc, "C0423", "control_endpoint is inside lb_pool");
		diag_note(c->d, ni->pool_loc, "lb_pool is here");
	}
}
