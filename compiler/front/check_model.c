/* check_model: the cross-block rules of LANGUAGE.md, applied while the
 * resolved model is built as JSON (the template context and model.json). Every
 * duplicate and overlap check is a hash lookup or a per-node comparison, so
 * cost grows linearly with the number of nodes. */
#include "check.h"
#include "net.h"
#include "stdlib_data.h"
#include "strmap.h"
#include "version.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	struct unit *u;
	struct diag *d;
	const struct check_blocks *b;
	json_t *model;
};

/* ---- small accessors ---- */

/* An attribute's value for the rules below, or NULL when it is absent or
 * poisoned (its problem was reported where the value was made: an overflowing
 * number, a missing env(), a bad string), so that no rule piles on. */
static struct ast_node *value_get(const struct ast_node *blk, const char *name)
{
	struct ast_node *v = block_get(blk, name);
	return v && !v->poisoned ? v : NULL;
}

static const char *str_attr(const struct ast_node *blk, const char *name, const char *dflt)
{
	struct ast_node *v = blk ? block_get(blk, name) : NULL;
	if (v && v->poisoned)
		return dflt;
	return v && (v->kind == AST_STRING || v->kind == AST_REF) ? v->u.str : dflt;
}

static long long int_attr(const struct ast_node *blk, const char *name, long long dflt)
{
	struct ast_node *v = blk ? value_get(blk, name) : NULL;
	return v && (v->kind == AST_INT || v->kind == AST_SIZE || v->kind == AST_DURATION) ? (long long)v->u.num : dflt;
}

static int bool_attr(const struct ast_node *blk, const char *name, int dflt)
{
	struct ast_node *v = blk ? value_get(blk, name) : NULL;
	return v && v->kind == AST_BOOL ? v->u.boolean : dflt;
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *secret_json(const struct ast_node *blk, const char *name)
{
	struct ast_node *v = blk ? value_get(blk, name) : NULL;
	if (!v || v->kind != AST_SECRET)
		return json_null();
	return json_pack("{s:s}", "secret", v->u.str);
}

static char *fmt_ip(uint32_t a)
{
	struct strbuf sb = STRBUF_INIT;
	ipv4_format(&sb, a);
	return strbuf_detach(&sb, NULL);
}

static char *fmt_cidr(uint32_t a, uint8_t p)
{
	struct strbuf sb = STRBUF_INIT;
	cidr_format(&sb, a, p);
	return strbuf_detach(&sb, NULL);
}

static void set_ip(json_t *obj, const char *key, uint32_t a)
{
	char *s = fmt_ip(a);
	json_object_set_new(obj, key, json_string(s));
	free(s);
}

static void set_cidr(json_t *obj, const char *key, uint32_t a, uint8_t p)
{
	char *s = fmt_cidr(a, p);
	json_object_set_new(obj, key, json_string(s));
	free(s);
}

static void hint_suggest(struct diag *d, const char *word, const char **cands, size_t n)
{
	const char *s = diag_suggest(word, cands, n);
	if (s)
		diag_hint(d, "did you mean '%s'?", s);
}

/* ---- Kubernetes name rules ---- */

static bool rfc1123_label(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

static bool dns_subdomain(const char *s, size_t n)
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

static bool parse_minor(const char *s, int *major, int *minor)
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

static void check_versions(struct ctx *c, const struct ast_node *cl)
{
	struct ast_node *kv = value_get(cl, "kubernetes"), *cv = value_get(cl, "crio");
	int kma, kmi, cma, cmi;
	/* A poisoned value (a missing env(), a bad string) was reported already. */
	if ((kv && kv->poisoned) || (cv && cv->poisoned))
		return;
	bool kok = kv && kv->kind == AST_STRING && parse_minor(kv->u.str, &kma, &kmi);
	bool cok = cv && cv->kind == AST_STRING && parse_minor(cv->u.str, &cma, &cmi);
	if (kv && kv->kind == AST_STRING && !kok) {
		diag_error(c->d, kv->loc, "'%s' is not a Kubernetes minor version", kv->u.str);
		diag_hint(c->d, "write MAJOR.MINOR, such as \"1.34\": the package repositories are per minor version");
	}
	if (cv && cv->kind == AST_STRING && !cok) {
		diag_error(c->d, cv->loc, "'%s' is not a CRI-O minor version", cv->u.str);
		diag_hint(c->d, "write MAJOR.MINOR, such as \"1.34\"");
	}
	if (kok && kma != 1)
		diag_error(c->d, kv->loc, "Kubernetes %s does not exist: only major version 1 does", kv->u.str);
	if (cok && cma != 1)
		diag_error(c->d, cv->loc, "CRI-O %s does not exist: only major version 1 does", cv->u.str);
	if (!kok || !cok || kma != 1 || cma != 1)
		return;
	if (cmi == kmi)
		return;
	if (cmi == kmi - 1) {
		diag_warning(c->d, cv->loc, "CRI-O %s with Kubernetes %s is unusual: CRI-O follows the Kubernetes minor",
			     cv->u.str, kv->u.str);
		diag_hint(c->d, "crio = \"%s\" matches; one minor behind works but is not the tested pairing", kv->u.str);
		return;
	}
	diag_error(c->d, cv->loc, "CRI-O %s does not fit Kubernetes %s", cv->u.str, kv->u.str);
	diag_hint(c->d, "use the same minor version for both, crio = \"%s\"", kv->u.str);
}

/* A user name that would be an ssh option or break a command line. */
static bool bad_ssh_user(const char *user)
{
	return !*user || user[0] == '-' || strpbrk(user, " \t\n'\"$`\\;&|<>@");
}

static void check_ssh_port(struct ctx *c, const struct ast_node *ssh)
{
	struct ast_node *p = value_get(ssh, "port");
	if (p && p->kind == AST_INT && (p->u.num < 1 || p->u.num > 65535))
		diag_error(c->d, p->loc, "ssh port %llu is not between 1 and 65535", (unsigned long long)p->u.num);
}

/* ---- network facts shared by several rules ---- */

struct netinfo {
	bool have_gateway;
	uint32_t gateway;
	struct loc gateway_loc;
	uint8_t prefix;        /* the node subnet's prefix */
	bool have_pool;
	uint32_t pool;
	uint8_t pool_prefix;
	struct loc pool_loc;
	uint32_t pod, svc;
	uint8_t pod_p, svc_p;
	struct loc pod_loc, svc_loc;
	bool have_pod_loc, have_svc_loc;
	/* Written but unusable (reported already): rules that need it are skipped. */
	bool pod_unknown, svc_unknown;
};

static json_t *build_cluster(struct ctx *c, struct netinfo *ni)
{
	const struct ast_node *cl = c->b->cluster;
	json_t *j = json_object();
	json_object_set_new(j, "name", json_string(cl->u.block.name ? cl->u.block.name : ""));
	json_object_set_new(j, "kubernetes", json_string(str_attr(cl, "kubernetes", "")));
	json_object_set_new(j, "crio", json_string(str_attr(cl, "crio", "")));
	json_object_set_new(j, "domain", json_string(str_attr(cl, "domain", "k8s.local")));
	json_object_set_new(j, "api_port", json_integer(6443));
	check_versions(c, cl);

	const char *name = cl->u.block.name;
	if (name && !rfc1123_label(name)) {
		diag_error(c->d, cl->u.block.name_loc, "cluster name '%s' is not a valid DNS label", name);
		diag_hint(c->d, "use lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit");
	}
	const char *domain = str_attr(cl, "domain", NULL);
	if (domain && !dns_subdomain(domain, strlen(domain))) {
		diag_error(c->d, block_get(cl, "domain")->loc, "domain '%s' is not a valid DNS name", domain);
	}

	/* Pod and service networks, with kubeadm's defaults. */
	ni->pod = 0x0AF40000u; ni->pod_p = 16;   /* 10.244.0.0/16 */
	ni->svc = 0x0A600000u; ni->svc_p = 12;   /* 10.96.0.0/12 */
	struct ast_node *pv = value_get(cl, "pod_cidr"), *sv = value_get(cl, "service_cidr");
	if (pv && pv->kind == AST_CIDR) {
		ni->pod = pv->u.ip.addr; ni->pod_p = pv->u.ip.prefix; ni->pod_loc = pv->loc; ni->have_pod_loc = true;
	}
	if (sv && sv->kind == AST_CIDR) {
		ni->svc = sv->u.ip.addr; ni->svc_p = sv->u.ip.prefix; ni->svc_loc = sv->loc; ni->have_svc_loc = true;
	}
	ni->pod_unknown = block_get(cl, "pod_cidr") && !ni->have_pod_loc;
	ni->svc_unknown = block_get(cl, "service_cidr") && !ni->have_svc_loc;
	set_cidr(j, "pod_cidr", cidr_network(ni->pod, ni->pod_p), ni->pod_p);
	set_cidr(j, "service_cidr", cidr_network(ni->svc, ni->svc_p), ni->svc_p);
	if (!ni->pod_unknown && !ni->svc_unknown && cidr_overlaps(ni->pod, ni->pod_p, ni->svc, ni->svc_p)) {
		struct loc at = ni->have_svc_loc ? ni->svc_loc : ni->have_pod_loc ? ni->pod_loc : cl->u.block.type_loc;
		diag_error(c->d, at, "the pod and service CIDRs overlap");
		if (ni->have_pod_loc && ni->have_svc_loc)
			diag_note(c->d, ni->pod_loc, "the pod CIDR is here");
	}

	const struct ast_node *ssh = block_get(cl, "ssh");
	json_t *js = json_object();
	if (str_attr(ssh, "user", NULL) && bad_ssh_user(str_attr(ssh, "user", NULL)))
		diag_error(c->d, block_get(ssh, "user")->loc, "ssh user '%s' is not a valid user name",
			   str_attr(ssh, "user", NULL));
	check_ssh_port(c, ssh);
	json_object_set_new(js, "user", json_string(str_attr(ssh, "user", "ubuntu")));
	json_object_set_new(js, "key", json_string(str_attr(ssh, "key", "~/.ssh/id_ed25519")));
	json_object_set_new(js, "port", json_integer(int_attr(ssh, "port", 22)));
	json_object_set_new(j, "ssh", js);
	return j;
}

/* Reads ssh.public_key, or the text of the key file + ".pub". */
static void resolve_public_key(struct ctx *c, json_t *cluster, bool needed)
{
	const struct ast_node *ssh = block_get(c->b->cluster, "ssh");
	json_t *js = json_object_get(cluster, "ssh");
	const char *given = str_attr(ssh, "public_key", NULL);
	if (given && *given) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_addstr(&sb, given);
		while (sb.len && (sb.buf[sb.len - 1] == '\n' || sb.buf[sb.len - 1] == ' '))
			strbuf_setlen(&sb, sb.len - 1);
		if (strchr(sb.buf, '\n') || (strncmp(sb.buf, "ssh-", 4) && strncmp(sb.buf, "ecdsa-", 6))) {
			diag_error(c->d, block_get(ssh, "public_key")->loc,
				   "public_key is not one OpenSSH public key line");
			diag_hint(c->d, "give the text of the .pub file, such as \"ssh-ed25519 AAAA... me@host\"");
		}
		json_object_set_new(js, "public_key", json_string(sb.buf));
		strbuf_release(&sb);
		return;
	}
	const char *key = json_string_value(json_object_get(js, "key"));
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	if (key[0] == '~' && key[1] == '/') {
		const char *home = getenv("HOME");
		strbuf_addf(&path, "%s%s.pub", home ? home : "", key + 1);
	} else {
		strbuf_addf(&path, "%s.pub", key);
	}
	if (strbuf_read_file(&text, path.buf) == 0) {
		while (text.len && (text.buf[text.len - 1] == '\n' || text.buf[text.len - 1] == '\r'))
			strbuf_setlen(&text, text.len - 1);
		json_object_set_new(js, "public_key", json_string(text.buf));
	} else if (needed) {
		struct loc at = ssh ? ssh->u.block.type_loc : c->b->cluster->u.block.type_loc;
		diag_error(c->d, at, "cannot read the SSH public key '%s': %s", path.buf, strerror(errno));
		diag_hint(c->d, "nodes installed by autoinstall need it; set ssh { public_key = ... } or create the key");
		json_object_set_new(js, "public_key", json_null());
	} else {
		json_object_set_new(js, "public_key", json_null());
	}
	strbuf_release(&path);
	strbuf_release(&text);
}

static json_t *build_network(struct ctx *c, struct netinfo *ni)
{
	const struct ast_node *nb = c->b->network;
	if (!nb)
		return json_null();
	json_t *j = json_object();
	struct ast_node *gw = value_get(nb, "gateway");
	if (gw && gw->kind == AST_IPV4) {
		ni->have_gateway = true;
		ni->gateway = gw->u.ip.addr;
		ni->gateway_loc = gw->loc;
		set_ip(j, "gateway", gw->u.ip.addr);
	} else {
		json_object_set_new(j, "gateway", json_null());
	}
	json_t *ns = json_array();
	struct ast_node *nsv = block_get(nb, "nameservers");
	if (nsv && nsv->kind == AST_LIST) {
		for (struct ast_node *it = nsv->u.list.items; it; it = it->next)
			if (it->kind == AST_IPV4 && !it->poisoned) {
				char *s = fmt_ip(it->u.ip.addr);
				json_array_append_new(ns, json_string(s));
				free(s);
			}
	} else if (ni->have_gateway) {
		char *s = fmt_ip(ni->gateway);
		json_array_append_new(ns, json_string(s));
		free(s);
	}
	json_object_set_new(j, "nameservers", ns);
	struct ast_node *pool = value_get(nb, "lb_pool");
	if (pool && pool->kind == AST_CIDR) {
		ni->have_pool = true;
		ni->pool = pool->u.ip.addr;
		ni->pool_prefix = pool->u.ip.prefix;
		ni->pool_loc = pool->loc;
		/* As written: Cilium masks host bits itself, as the seed relied on. */
		set_cidr(j, "lb_pool", pool->u.ip.addr, pool->u.ip.prefix);
		if (ni->have_gateway && cidr_contains(ni->pool, ni->pool_prefix, ni->gateway)) {
			diag_error(c->d, pool->loc, "lb_pool contains the gateway");
			diag_note(c->d, ni->gateway_loc, "the gateway is here");
		}
		if (!ni->pod_unknown && cidr_overlaps(ni->pool, ni->pool_prefix, ni->pod, ni->pod_p)) {
			diag_error(c->d, pool->loc, "lb_pool overlaps the pod CIDR");
			if (ni->have_pod_loc)
				diag_note(c->d, ni->pod_loc, "the pod CIDR is here");
		}
		if (!ni->svc_unknown && cidr_overlaps(ni->pool, ni->pool_prefix, ni->svc, ni->svc_p)) {
			diag_error(c->d, pool->loc, "lb_pool overlaps the service CIDR");
			if (ni->have_svc_loc)
				diag_note(c->d, ni->svc_loc, "the service CIDR is here");
		}
	} else {
		json_object_set_new(j, "lb_pool", json_null());
	}
	json_object_set_new(j, "encryption", json_string(str_attr(nb, "encryption", "wireguard")));
	json_object_set_new(j, "ingress", json_string(str_attr(nb, "ingress", "ingress_controller")));
	json_t *ifs = json_array();
	struct ast_node *ifv = block_get(nb, "l2_interfaces");
	if (ifv && ifv->kind == AST_LIST)
		for (struct ast_node *it = ifv->u.list.items; it; it = it->next)
			if (it->kind == AST_STRING)
				json_array_append_new(ifs, json_string(it->u.str));
	json_object_set_new(j, "l2_interfaces", ifs);
	return j;
}

/* Proxmox identifiers (node, storage and bridge names) follow its
 * configuration ID rule: a letter, then letters, digits, '-', '_' or '.'. They
 * are written into API arguments, so nothing else may pass. */
static void check_pve_id(struct ctx *c, const struct ast_node *blk, const char *attr)
{
	struct ast_node *v = blk ? block_get(blk, attr) : NULL;
	if (!v || v->kind != AST_STRING || v->poisoned)
		return;
	const char *s = v->u.str;
	bool ok = isalpha((unsigned char)s[0]) && strlen(s) <= 64;
	for (const char *p = s; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
	if (!ok) {
		diag_error(c->d, v->loc, "%s '%s' is not a Proxmox identifier", attr, s);
		diag_hint(c->d, "Proxmox names start with a letter, then letters, digits, '-', '_' or '.'");
	}
}

/* Records a named block; a second one of that name is reported with both
 * places. Returns false for the duplicate. */
static bool first_definition(struct ctx *c, struct strmap *seen, struct ast_node *blk)
{
	struct ast_node *prev = strmap_put(seen, blk->u.block.name, blk);
	if (!prev)
		return true;
	diag_error(c->d, blk->u.block.name_loc, "%s '%s' is defined twice", blk->u.block.type,
		   blk->u.block.name);
	diag_note(c->d, prev->u.block.name_loc, "first defined here");
	return false;
}

/* ---- proxmox and images ---- */

static json_t *build_proxmox(struct ctx *c, struct strmap *by_name)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < c->b->nproxmox; i++) {
		struct ast_node *p = c->b->proxmox[i];
		const char *name = p->u.block.name;
		if (!name)
			continue;
		if (!first_definition(c, by_name, p))
			continue;
		json_t *j = json_object();
		json_object_set_new(j, "name", json_string(name));
		const char *ep = str_attr(p, "endpoint", "");
		if (!block_get(p, "endpoint") || block_get(p, "endpoint")->poisoned) {
			/* missing, or its env() is missing: already reported */
		} else if (strncmp(ep, "https://", 8) && strncmp(ep, "http://", 7)) {
			diag_error(c->d, block_get(p, "endpoint")->loc, "proxmox endpoint '%s' is not an https:// URL", ep);
		} else if (!strncmp(ep, "http://", 7)) {
			diag_warning(c->d, block_get(p, "endpoint")->loc,
				     "proxmox endpoint '%s' is plain http: credentials would cross the network in clear", ep);
		}
		json_object_set_new(j, "endpoint", json_string(ep));
		json_object_set_new(j, "node", json_string(str_attr(p, "node", "")));
		const char *user = str_attr(p, "user", NULL);
		const char *token_id = str_attr(p, "token_id", NULL);
		bool has_user = block_get(p, "user") != NULL, has_token_id = block_get(p, "token_id") != NULL;
		bool has_pw = block_get(p, "password") != NULL, has_tok = block_get(p, "token") != NULL;
		if (user && !strchr(user, '@')) {
			diag_error(c->d, block_get(p, "user")->loc, "proxmox user '%s' has no realm", user);
			diag_hint(c->d, "write USER@REALM, such as \"root@pam\"");
		}
		if ((has_user || has_pw) && (has_token_id || has_tok)) {
			diag_error(c->d, p->u.block.type_loc, "proxmox '%s' sets both a password and an API token", name);
			diag_hint(c->d, "use user + password, or token_id + token");
		} else if (!(has_user && has_pw) && !(has_token_id && has_tok)) {
			diag_error(c->d, p->u.block.type_loc, "proxmox '%s' needs user + password, or token_id + token", name);
		}
		if (token_id && !strchr(token_id, '!')) {
			diag_error(c->d, block_get(p, "token_id")->loc, "token_id '%s' is not USER@REALM!TOKEN", token_id);
		}
		json_object_set_new(j, "user", jstr_or_null(user));
		json_object_set_new(j, "password", secret_json(p, "password"));
		json_object_set_new(j, "token_id", jstr_or_null(token_id));
		json_object_set_new(j, "token", secret_json(p, "token"));
		json_object_set_new(j, "auth", json_string(token_id ? "token" : "ticket"));
		static const char *const ids[] = { "node", "storage", "iso_storage", "bridge" };
		for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++)
			check_pve_id(c, p, ids[k]);
		json_object_set_new(j, "storage", json_string(str_attr(p, "storage", "local-lvm")));
		json_object_set_new(j, "iso_storage", json_string(str_attr(p, "iso_storage", "local")));
		json_object_set_new(j, "bridge", json_string(str_attr(p, "bridge", "vmbr0")));
		check_proxmox_tls(c->d, p);
		json_object_set_new(j, "verify_tls", json_boolean(bool_attr(p, "verify_tls", 1)));
		json_object_set_new(j, "ca_file", jstr_or_null(str_attr(p, "ca_file", NULL)));
		json_object_set_new(j, "fingerprint", jstr_or_null(str_attr(p, "fingerprint", NULL)));
		json_array_append_new(arr, j);
	}
	return arr;
}

static json_t *build_images(struct ctx *c, struct strmap *by_name)
{
	json_t *arr = json_array();
	size_t len;
	char *text = stdlib_read("defaults/image-ubuntu.json", &len);
	json_t *dflt = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!dflt) {
		diag_error(c->d, LOC_NONE, "the stdlib has no valid defaults/image-ubuntu.json");
		dflt = json_object();
	}
	bool ubuntu_overridden = false;
	static const char *const keys[] = { "iso", "sha256", "locale", "keyboard", "timezone" };
	for (size_t i = 0; i < c->b->nimages; i++) {
		struct ast_node *im = c->b->images[i];
		const char *name = im->u.block.name;
		if (!name)
			continue;
		if (!first_definition(c, by_name, im))
			continue;
		bool is_default = !strcmp(name, "ubuntu");
		ubuntu_overridden |= is_default;
		json_t *j = json_object();
		json_object_set_new(j, "name", json_string(name));
		for (size_t k = 0; k < 5; k++) {
			const char *v = str_attr(im, keys[k], NULL);
			json_t *dv = json_object_get(dflt, keys[k]);
			if (v)
				json_object_set_new(j, keys[k], json_string(v));
			else if (is_default || strcmp(keys[k], "iso"))
				json_object_set(j, keys[k], k < 2 && !is_default ? json_null() : dv ? dv : json_null());
			else
				json_object_set_new(j, keys[k], json_null());
		}
		const char *iso = json_string_value(json_object_get(j, "iso"));
		if (!iso) {
			diag_error(c->d, im->u.block.type_loc, "image '%s' needs an iso URL", name);
		} else if (strncmp(iso, "https://", 8) && strncmp(iso, "http://", 7)) {
			diag_error(c->d, block_get(im, "iso")->loc, "iso '%s' is not an http(s) URL", iso);
		} else {
			/* The file name becomes a Proxmox volume name: keep it to what
			 * Proxmox stores unchanged. */
			const char *base = strrchr(iso, '/') + 1;
			size_t bl = strlen(base);
			bool ok = bl > 4 && !strcmp(base + bl - 4, ".iso") && !strpbrk(iso, " \t\n\"'\\`$<>");
			for (const char *q = base; ok && *q; q++)
				ok = isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == '.';
			if (!ok) {
				diag_error(c->d, block_get(im, "iso") ? block_get(im, "iso")->loc : im->u.block.type_loc,
					   "iso URL must end in a file name of letters, digits, '-', '_' and '.' ending in .iso");
			}
		}
		const char *sha = json_string_value(json_object_get(j, "sha256"));
		if (sha) {
			size_t n = strlen(sha);
			bool hex = n == 64;
			for (size_t k = 0; hex && k < n; k++)
				hex = isxdigit((unsigned char)sha[k]);
			if (!hex)
				diag_error(c->d, block_get(im, "sha256") ? block_get(im, "sha256")->loc : im->u.block.type_loc,
					   "sha256 must be 64 hexadecimal digits");
		} else if (iso) {
			diag_warning(c->d, im->u.block.type_loc, "image '%s' has no sha256: the download cannot be verified", name);
		}
		json_array_append_new(arr, j);
	}
	if (!ubuntu_overridden) {
		json_t *j = json_deep_copy(dflt);
		json_object_set_new(j, "name", json_string("ubuntu"));
		json_array_insert_new(arr, 0, j);
	}
	json_decref(dflt);
	/* iso_file: the name the ISO has once downloaded. */
	size_t idx;
	json_t *im;
	json_array_foreach(arr, idx, im) {
		const char *iso = json_string_value(json_object_get(im, "iso"));
		const char *slash = iso ? strrchr(iso, '/') : NULL;
		json_object_set_new(im, "iso_file", slash && slash[1] ? json_string(slash + 1) : json_null());
	}
	return arr;
}

/* ---- nodes ---- */

static const char *gpu_type_of(const char *model, struct strbuf *sb)
{
	/* "GTX 1060" -> "gtx-1060": a label value the device plugin step applies. */
	if (!model || !*model)
		return "nvidia-gpu";
	bool dash = false;
	for (const char *p = model; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (isalnum(ch)) {
			if (dash && sb->len)
				strbuf_addch(sb, '-');
			strbuf_addch(sb, tolower(ch));
			dash = false;
		} else {
			dash = true;
		}
		if (sb->len >= 63)
			break;
	}
	while (sb->len && sb->buf[sb->len - 1] == '-')
		strbuf_setlen(sb, sb->len - 1);
	return sb->len ? sb->buf : "nvidia-gpu";
}

static bool pci_ok(const char *s)
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

static void check_labels(struct ctx *c, struct ast_node *labels, json_t *out)
{
	if (!labels || labels->kind != AST_MAP)
		return;
	struct strmap seen;
	strmap_init(&seen);
	for (struct ast_node *e = labels->u.list.items; e; e = e->next) {
		const char *k = e->u.attr.name;
		struct ast_node *v = e->u.attr.value;
		struct ast_node *prev = strmap_put(&seen, k, e);
		if (prev) {
			diag_error(c->d, e->u.attr.name_loc, "label '%s' is set twice", k);
			diag_note(c->d, prev->u.attr.name_loc, "first set here");
			continue;
		}
		bool protected_prefix;
		const char *why = label_key_problem(k, &protected_prefix);
		if (protected_prefix) {
			diag_error(c->d, e->u.attr.name_loc, "label '%s' uses a protected prefix", k);
			diag_hint(c->d, "kubernetes.io/, k8s.io/ and nvidia.com/ belong to Kubernetes and its device plugins; clusterc never sets or removes them");
			continue;
		}
		if (why) {
			diag_error(c->d, e->u.attr.name_loc, "label key '%s' is not valid: %s", k, why);
			continue;
		}
		if (!strcmp(k, "accelerator") || !strcmp(k, "gpu-type")) {
			diag_error(c->d, e->u.attr.name_loc, "label '%s' is managed by clusterc from the gpu block", k);
			diag_hint(c->d, "describe the card with gpu { model = \"...\" } instead");
			continue;
		}
		if (v->kind != AST_STRING || v->poisoned)
			continue;
		if (!label_name(v->u.str, strlen(v->u.str), true)) {
			diag_error(c->d, v->loc, "label value '%s' is not valid", v->u.str);
			diag_hint(c->d, "values are at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit");
			continue;
		}
		json_object_set_new(out, k, json_string(v->u.str));
	}
	strmap_release(&seen);
}

static void check_taints(struct ctx *c, struct ast_node *taints, json_t *out)
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
			diag_error(c->d, t->loc, "taint '%s' is not \"key=value:Effect\"", s);
			continue;
		}
		const char *effect = colon + 1;
		bool effect_ok = false;
		for (size_t i = 0; i < 3; i++)
			effect_ok |= !strcmp(effect, effects[i]);
		if (!effect_ok) {
			diag_error(c->d, t->loc, "taint effect '%s' is not NoSchedule, PreferNoSchedule or NoExecute", effect);
			hint_suggest(c->d, effect, (const char **)effects, 3);
			continue;
		}
		size_t klen = eq ? (size_t)(eq - s) : (size_t)(colon - s);
		char *key = xstrndup(s, klen);
		char *val = eq ? xstrndup(eq + 1, (size_t)(colon - eq - 1)) : xstrdup("");
		bool prot;
		const char *why = label_key_problem(key, &prot);
		if (why || !*key)
			diag_error(c->d, t->loc, "taint key '%s' is not valid: %s", key, why ? why : "it is empty");
		else if (!label_name(val, strlen(val), true))
			diag_error(c->d, t->loc, "taint value '%s' is not valid", val);
		else
			json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s}", "key", key, "value", val,
							     "effect", effect, "text", s));
		free(key);
		free(val);
	}
}

struct node_facts {
	struct ast_node *blk;
	uint32_t ip;
	uint8_t prefix;
	bool has_prefix;
	struct loc ip_loc;
	bool control;
};

static json_t *build_nodes(struct ctx *c, struct netinfo *ni, struct strmap *proxmox,
			   struct strmap *images, json_t *proxmox_json, bool *any_vm)
{
	json_t *arr = json_array();
	size_t n = c->b->nnodes;
	struct node_facts *f = xcalloc(n ? n : 1, sizeof(*f));
	struct strmap names, ips, vmids;
	strmap_init(&names);
	strmap_init(&ips);
	strmap_init(&vmids);
	const json_t *cssh = json_object_get(json_object_get(c->model, "cluster"), "ssh");
	/* The node subnet's prefix: the first one written, else /24. */
	ni->prefix = 24;
	for (size_t i = 0; i < n; i++) {
		struct ast_node *ip = value_get(c->b->nodes[i], "ip");
		if (ip && ip->kind == AST_CIDR) {
			ni->prefix = ip->u.ip.prefix;
			break;
		}
	}
	size_t ncontrol = 0;
	*any_vm = false;
	for (size_t i = 0; i < n; i++) {
		struct ast_node *nb = c->b->nodes[i];
		const char *name = nb->u.block.name;
		if (!name)
			continue;
		struct node_facts *nf = &f[i];
		nf->blk = nb;
		json_t *j = json_object();
		json_object_set_new(j, "name", json_string(name));
		first_definition(c, &names, nb);
		if (!rfc1123_label(name)) {
			diag_error(c->d, nb->u.block.name_loc, "node name '%s' is not a valid host name", name);
			diag_hint(c->d, "host names are RFC 1123 labels: lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit");
		}
		const char *role = str_attr(nb, "role", "worker");
		nf->control = !strcmp(role, "control");
		json_object_set_new(j, "role", json_string(role));
		json_object_set_new(j, "index", json_integer((json_int_t)i));
		json_object_set_new(j, "control_index", nf->control ? json_integer((json_int_t)ncontrol) : json_null());
		json_object_set_new(j, "first_control", json_boolean(nf->control && ncontrol == 0));
		if (nf->control)
			ncontrol++;

		struct ast_node *ipv = block_get(nb, "ip");
		if (ipv && !ipv->poisoned && (ipv->kind == AST_IPV4 || ipv->kind == AST_CIDR)) {
			nf->ip = ipv->u.ip.addr;
			nf->has_prefix = ipv->kind == AST_CIDR;
			nf->prefix = nf->has_prefix ? ipv->u.ip.prefix : ni->prefix;
			nf->ip_loc = ipv->loc;
			set_ip(j, "ip", nf->ip);
			json_object_set_new(j, "prefix", json_integer(nf->prefix));
			set_cidr(j, "cidr", nf->ip, nf->prefix);
			struct node_facts *dup = u32map_put(&ips, nf->ip, nf);
			if (dup) {
				char *s = fmt_ip(nf->ip);
				diag_error(c->d, ipv->loc, "address %s is used by node '%s' too", s, dup->blk->u.block.name);
				diag_note(c->d, dup->ip_loc, "'%s' has it here", dup->blk->u.block.name);
				free(s);
			}
			if (nf->prefix < 31 && (nf->ip == cidr_network(nf->ip, nf->prefix) ||
						nf->ip == cidr_broadcast(nf->ip, nf->prefix))) {
				char *s = fmt_ip(nf->ip), *net = fmt_cidr(cidr_network(nf->ip, nf->prefix), nf->prefix);
				diag_error(c->d, ipv->loc, "node '%s' address %s is the %s address of %s, not a host address",
					   name, s, nf->ip == cidr_network(nf->ip, nf->prefix) ? "network" : "broadcast", net);
				free(s);
				free(net);
			}
			if (ni->have_gateway) {
				if (nf->ip == ni->gateway) {
					diag_error(c->d, ipv->loc, "node '%s' has the gateway's address", name);
					diag_note(c->d, ni->gateway_loc, "the gateway is here");
				} else if (!cidr_contains(nf->ip, nf->prefix, ni->gateway)) {
					char *s = fmt_cidr(nf->ip, nf->prefix), *g = fmt_ip(ni->gateway);
					diag_error(c->d, ipv->loc, "node '%s' address %s is outside the gateway %s's subnet",
						   name, s, g);
					diag_note(c->d, ni->gateway_loc, "the gateway is here");
					free(s);
					free(g);
				}
			}
			if (ni->have_pool && cidr_contains(ni->pool, ni->pool_prefix, nf->ip)) {
				char *s = fmt_ip(nf->ip), *pool = fmt_cidr(ni->pool, ni->pool_prefix);
				diag_error(c->d, ipv->loc, "node '%s' address %s is inside lb_pool %s", name, s, pool);
				diag_note(c->d, ni->pool_loc, "lb_pool is here");
				free(s);
				free(pool);
			}
			if (!ni->pod_unknown && cidr_overlaps(ni->pod, ni->pod_p, nf->ip, nf->prefix)) {
				diag_error(c->d, ipv->loc, "node '%s' subnet overlaps the pod CIDR", name);
				if (ni->have_pod_loc)
					diag_note(c->d, ni->pod_loc, "the pod CIDR is here");
				else
					diag_hint(c->d, "the pod CIDR is kubeadm's default 10.244.0.0/16; set pod_cidr in the cluster block to a range the nodes do not use");
			}
			if (!ni->svc_unknown && cidr_overlaps(ni->svc, ni->svc_p, nf->ip, nf->prefix)) {
				diag_error(c->d, ipv->loc, "node '%s' subnet overlaps the service CIDR", name);
				if (ni->have_svc_loc)
					diag_note(c->d, ni->svc_loc, "the service CIDR is here");
				else
					diag_hint(c->d, "the service CIDR is kubeadm's default 10.96.0.0/12; set service_cidr in the cluster block to a range the nodes do not use");
			}
		} else {
			json_object_set_new(j, "ip", json_null());
			json_object_set_new(j, "prefix", json_null());
			json_object_set_new(j, "cidr", json_null());
		}

		json_t *labels = json_object();
		check_labels(c, block_get(nb, "labels"), labels);
		json_object_set_new(j, "labels", labels);
		json_t *taints = json_array();
		check_taints(c, block_get(nb, "taints"), taints);
		json_object_set_new(j, "taints", taints);

		struct ast_node *vm = block_get(nb, "vm");
		struct ast_node *gpu = block_get(nb, "gpu");
		const json_t *pve = NULL;
		if (vm && vm->kind == AST_BLOCK) {
			*any_vm = true;
			json_t *jv = json_object();
			struct ast_node *on = block_get(vm, "on");
			const char *on_name = on && (on->kind == AST_REF || on->kind == AST_STRING) ? on->u.str : NULL;
			if (on_name) {
				struct ast_node *p = strmap_get(proxmox, on_name);
				if (!p) {
					diag_error(c->d, on->loc, "there is no proxmox block named '%s'", on_name);
					size_t np = c->b->nproxmox;
					const char **cands = xcalloc(np + 1, sizeof(*cands));
					for (size_t k = 0; k < np; k++)
						cands[k] = c->b->proxmox[k]->u.block.name ? c->b->proxmox[k]->u.block.name : "";
					hint_suggest(c->d, on_name, cands, np);
					free(cands);
				} else {
					size_t idx;
					json_t *pj;
					json_array_foreach(proxmox_json, idx, pj)
						if (!strcmp(json_string_value(json_object_get(pj, "name")), on_name))
							pve = pj;
				}
			}
			json_object_set_new(jv, "on", jstr_or_null(on_name));
			struct ast_node *idv = value_get(vm, "id");
			long long vmid = int_attr(vm, "id", 0);
			if (idv && idv->kind == AST_INT) {
				if (vmid < 100 || vmid > 999999999) {
					diag_error(c->d, idv->loc, "VM id %lld is outside Proxmox's range 100 to 999999999", vmid);
				} else if (on_name) {
					/* Duplicate ids matter per Proxmox host: key "host/id". */
					struct strbuf key = STRBUF_INIT;
					strbuf_addf(&key, "%s/%lld", on_name, vmid);
					char *k = arena_strdup(&c->u->arena, key.buf);
					strbuf_release(&key);
					struct ast_node *dup = strmap_put(&vmids, k, idv);
					if (dup) {
						diag_error(c->d, idv->loc, "VM id %lld is used twice on proxmox '%s'", vmid, on_name);
						diag_note(c->d, dup->loc, "first used here");
					}
				}
			}
			json_object_set_new(jv, "id", json_integer(vmid));
			long long cores = int_attr(vm, "cores", 2);
			struct ast_node *cv = value_get(vm, "cores");
			if (cv && cv->kind == AST_INT && (cores < 1 || cores > 512))
				diag_error(c->d, cv->loc, "cores must be between 1 and 512");
			json_object_set_new(jv, "cores", json_integer(cores));
			struct ast_node *mv = value_get(vm, "memory"), *dv = value_get(vm, "disk");
			unsigned long long mem = mv && mv->kind == AST_SIZE ? mv->u.num : 4096ull << 20;
			unsigned long long disk = dv && dv->kind == AST_SIZE ? dv->u.num : 20ull << 30;
			if (mv && mv->kind == AST_SIZE && (mem % (1u << 20) || mem < (512ull << 20)))
				diag_error(c->d, mv->loc, "memory must be a whole number of MiB, at least 512MiB");
			if (dv && dv->kind == AST_SIZE && (disk % (1u << 30) || disk < (8ull << 30)))
				diag_error(c->d, dv->loc, "disk must be a whole number of GiB, at least 8GiB");
			/* From VM start to the installed system's first boot: a live ISO
			 * boot, subiquity with security updates, a reboot. 8 to 15 minutes
			 * are common; 45 leaves room for a slow mirror. */
			struct ast_node *itv = value_get(vm, "install_timeout");
			long long install = int_attr(vm, "install_timeout", 45 * 60);
			if (itv && itv->kind == AST_DURATION && (install < 5 * 60 || install > 24 * 3600))
				diag_error(c->d, itv->loc, "install_timeout must be between 5m and 24h");
			json_object_set_new(jv, "install_timeout_s", json_integer(install));
			json_object_set_new(jv, "memory_mib", json_integer((json_int_t)(mem >> 20)));
			json_object_set_new(jv, "disk_gib", json_integer((json_int_t)(disk >> 30)));
			check_pve_id(c, vm, "storage");
			const char *storage = str_attr(vm, "storage", NULL);
			if (!storage && pve)
				storage = json_string_value(json_object_get(pve, "storage"));
			json_object_set_new(jv, "storage", json_string(storage ? storage : "local-lvm"));
			/* Only a name can name an image; anything else was reported. */
			struct ast_node *imv = value_get(vm, "image");
			if (imv && imv->kind != AST_REF && imv->kind != AST_STRING)
				imv = NULL;
			const char *img = imv ? imv->u.str : "ubuntu";
			if (imv && strcmp(img, "ubuntu") && !strmap_get(images, img)) {
				diag_error(c->d, imv->loc, "there is no image block named '%s'", img);
			}
			json_object_set_new(jv, "image", json_string(img));
			json_object_set_new(jv, "machine", gpu ? json_string("q35") : json_null());
			json_object_set_new(jv, "bios", json_string(str_attr(vm, "bios", gpu ? "ovmf" : "seabios")));
			json_object_set_new(j, "vm", jv);
		} else {
			json_object_set_new(j, "vm", json_null());
		}

		if (gpu && gpu->kind == AST_BLOCK) {
			json_t *jg = json_object();
			const char *pci = str_attr(gpu, "pci", NULL), *mapping = str_attr(gpu, "mapping", NULL);
			if (pci && !pci_ok(pci)) {
				diag_error(c->d, block_get(gpu, "pci")->loc, "PCI address '%s' is not in DDDD:BB:SS form", pci);
				diag_hint(c->d, "find it on the Proxmox host with: lspci -D | grep -i vga (drop the .function)");
			}
			if (!pci && !mapping) {
				diag_error(c->d, gpu->u.block.type_loc, "gpu on node '%s' has no PCI address", name);
				diag_hint(c->d, "write gpu { pci = \"0000:01:00\" }, or name a Proxmox PCI mapping");
			}
			if (pve && !mapping && !strcmp(json_string_value(json_object_get(pve, "auth")), "token")) {
				diag_error(c->d, gpu->u.block.type_loc,
					   "gpu on node '%s' needs a PCI 'mapping': proxmox '%s' logs in with an API token",
					   name, json_string_value(json_object_get(pve, "name")));
				diag_hint(c->d, "Proxmox accepts a raw hostpci0 only from root@pam with a password; create a PCI resource mapping (Datacenter > Resource Mappings) and set mapping = \"NAME\"");
			}
			json_object_set_new(jg, "pci", jstr_or_null(pci));
			json_object_set_new(jg, "mapping", jstr_or_null(mapping));
			const char *model = str_attr(gpu, "model", NULL);
			json_object_set_new(jg, "model", jstr_or_null(model));
			const char *driver = str_attr(gpu, "driver", NULL);
			if (driver && strncmp(driver, "nvidia-driver-", 14)) {
				diag_error(c->d, block_get(gpu, "driver")->loc, "driver '%s' is not an nvidia-driver-* package", driver);
				diag_hint(c->d, "such as \"nvidia-driver-570-server\"; leave it out to pick the second-newest server driver");
			}
			json_object_set_new(jg, "driver", jstr_or_null(driver));
			struct strbuf t = STRBUF_INIT;
			json_object_set_new(jg, "type", json_string(gpu_type_of(model, &t)));
			strbuf_release(&t);
			json_object_set_new(j, "gpu", jg);
		} else {
			json_object_set_new(j, "gpu", json_null());
		}

		struct ast_node *ssh = block_get(nb, "ssh");
		check_ssh_port(c, ssh);
		json_t *js = json_object();
		const char *host = str_attr(ssh, "host", NULL);
		if (host && (host[0] == '-' || strpbrk(host, " \t\n'\"$`\\;&|<>"))) {
			diag_error(c->d, block_get(ssh, "host")->loc, "ssh host '%s' is not a host name or address", host);
		}
		json_object_set_new(js, "host", host ? json_string(host) : json_incref(json_object_get(j, "ip")));
		json_object_set_new(js, "port", json_integer(int_attr(ssh, "port", json_integer_value(json_object_get(cssh, "port")))));
		const char *user = str_attr(ssh, "user", json_string_value(json_object_get(cssh, "user")));
		/* The cluster's own ssh user is checked once, in build_cluster. */
		if (str_attr(ssh, "user", NULL) && bad_ssh_user(user))
			diag_error(c->d, block_get(ssh, "user")->loc, "ssh user '%s' is not a valid user name", user);
		json_object_set_new(js, "user", json_string(user));
		json_object_set_new(js, "key", json_string(str_attr(ssh, "key", json_string_value(json_object_get(cssh, "key")))));
		json_object_set_new(j, "ssh", js);
		json_array_append_new(arr, j);
	}
	bool roles_known = true;
	for (size_t i = 0; i < n; i++) {
		struct ast_node *r = block_get(c->b->nodes[i], "role");
		/* A missing or wrong role was reported; "no control node" would repeat it. */
		roles_known &= r && !c->b->nodes[i]->poisoned && ((r->kind == AST_REF || r->kind == AST_STRING) &&
				      (!strcmp(r->u.str, "control") || !strcmp(r->u.str, "worker")));
	}
	if (ncontrol == 0 && c->b->cluster && roles_known) {
		diag_error(c->d, c->b->cluster->u.block.type_loc, "the cluster has no control node");
		diag_hint(c->d, "give one node role = control");
	}
	strmap_release(&names);
	strmap_release(&ips);
	strmap_release(&vmids);
	free(f);
	return arr;
}

static void check_control_endpoint(struct ctx *c, struct netinfo *ni, json_t *cluster, json_t *nodes)
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
			diag_error(c->d, cl->u.block.type_loc, "%zu control nodes need a control_endpoint", ncontrol);
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
			diag_error(c->d, ce->loc, "control_endpoint %s is node '%s''s address", ce_text,
				   json_string_value(json_object_get(n, "name")));
	}
	free(ce_text);
	if (ni->have_gateway && !cidr_contains(ni->gateway, ni->prefix, a)) {
		diag_error(c->d, ce->loc, "control_endpoint is outside the node subnet");
		diag_note(c->d, ni->gateway_loc, "the gateway is here");
	} else if (!ni->have_gateway && first) {
		uint32_t fip;
		const char *s = json_string_value(json_object_get(first, "ip"));
		if (s && ipv4_parse(s, strlen(s), &fip) == NET_OK &&
		    !cidr_contains(fip, (uint8_t)json_integer_value(json_object_get(first, "prefix")), a))
			diag_error(c->d, ce->loc, "control_endpoint is outside the node subnet");
	}
	if (ni->have_gateway && a == ni->gateway)
		diag_error(c->d, ce->loc, "control_endpoint is the gateway's address");
	if (ni->have_pool && cidr_contains(ni->pool, ni->pool_prefix, a)) {
		diag_error(c->d, ce->loc, "control_endpoint is inside lb_pool");
		diag_note(c->d, ni->pool_loc, "lb_pool is here");
	}
}

/* ---- optional features ---- */

static json_t *build_ceph(struct ctx *c, size_t nworkers)
{
	struct ast_node *cb = c->b->ceph;
	if (!cb)
		return json_null();
	json_t *j = json_object();
	json_object_set_new(j, "fsid", json_string(str_attr(cb, "fsid", "")));
	const char *fsid = str_attr(cb, "fsid", NULL);
	if (fsid) {
		/* A Ceph fsid is a UUID. */
		bool ok = strlen(fsid) == 36;
		for (size_t i = 0; ok && i < 36; i++)
			ok = (i == 8 || i == 13 || i == 18 || i == 23) ? fsid[i] == '-' : isxdigit((unsigned char)fsid[i]);
		if (!ok) {
			diag_error(c->d, block_get(cb, "fsid")->loc, "ceph fsid '%s' is not a UUID", fsid);
			diag_hint(c->d, "read it on a Ceph host with: ceph fsid");
		}
	}
	json_t *mons = json_array(), *mon_ips = json_array();
	struct ast_node *mv = block_get(cb, "monitors");
	if (mv && mv->kind == AST_LIST) {
		if (!mv->u.list.count)
			diag_error(c->d, mv->loc, "ceph needs at least one monitor");
		for (struct ast_node *it = mv->u.list.items; it; it = it->next) {
			if ((it->kind != AST_ENDPOINT && it->kind != AST_IPV4) || it->poisoned)
				continue;
			struct strbuf sb = STRBUF_INIT;
			ipv4_format(&sb, it->u.ip.addr);
			json_array_append_new(mon_ips, json_string(sb.buf));
			strbuf_addf(&sb, ":%u", it->kind == AST_ENDPOINT ? it->u.ip.port : 6789);
			json_array_append_new(mons, json_string(sb.buf));
			strbuf_release(&sb);
		}
	}
	json_object_set_new(j, "monitors", mons);
	json_object_set_new(j, "monitor_ips", mon_ips);
	json_object_set_new(j, "user", json_string(str_attr(cb, "user", "")));
	json_object_set_new(j, "key", secret_json(cb, "key"));
	json_object_set_new(j, "admin_key", secret_json(cb, "admin_key"));
	json_object_set_new(j, "fs_name", json_string(str_attr(cb, "fs_name", "cephfs")));
	json_object_set_new(j, "default_class", json_string("cephfs"));
	json_object_set_new(j, "is_default", json_boolean(bool_attr(cb, "default_class", 1)));
	json_object_set_new(j, "provisioner_replicas", json_integer(nworkers >= 2 ? 2 : 1));
	return j;
}

static json_t *build_argocd(struct ctx *c)
{
	struct ast_node *ab = c->b->argocd;
	if (!ab)
		return json_null();
	json_t *j = json_object();
	const char *repo = str_attr(ab, "repo", "");
	json_object_set_new(j, "repo", json_string(repo));
	json_object_set_new(j, "token", secret_json(ab, "token"));
	const char *domain = json_string_value(json_object_get(json_object_get(c->model, "cluster"), "domain"));
	struct strbuf host = STRBUF_INIT;
	strbuf_addf(&host, "argocd.%s", domain ? domain : "k8s.local");
	json_object_set_new(j, "host", json_string(str_attr(ab, "host", host.buf)));
	strbuf_release(&host);
	const char *project = str_attr(ab, "project", "homelab");
	if (!rfc1123_label(project))
		diag_error(c->d, block_get(ab, "project") ? block_get(ab, "project")->loc : ab->u.block.type_loc,
			   "project '%s' is not a valid Kubernetes name", project);
	json_object_set_new(j, "project", json_string(project));
	/* git@host:group/project(.git) or ssh://git@host[:port]/group/project(.git) */
	const char *rhost = NULL, *rpath = NULL;
	size_t hlen = 0;
	if (!strncmp(repo, "ssh://", 6)) {
		const char *p = repo + 6;
		const char *at = strchr(p, '@');
		const char *slash = strchr(p, '/');
		if (at && slash && at < slash)
			p = at + 1;
		const char *end = p;
		while (*end && *end != '/' && *end != ':')
			end++;
		rhost = p;
		hlen = (size_t)(end - p);
		rpath = slash ? slash + 1 : NULL;
	} else {
		const char *at = strchr(repo, '@');
		const char *colon = strchr(repo, ':');
		if (at && colon && at < colon) {
			rhost = at + 1;
			hlen = (size_t)(colon - at - 1);
			rpath = colon + 1;
		}
	}
	struct loc rloc = block_get(ab, "repo") ? block_get(ab, "repo")->loc : ab->u.block.type_loc;
	/* Missing, poisoned or not a string (a secret()): reported already. */
	bool repo_unknown = !value_get(ab, "repo") || value_get(ab, "repo")->kind != AST_STRING;
	if (repo_unknown) {
		json_object_set_new(j, "repo_host", json_null());
		json_object_set_new(j, "repo_path", json_null());
		json_object_set_new(j, "repo_path_encoded", json_null());
		json_object_set_new(j, "gitlab", json_false());
	} else if (!rhost || !hlen || !rpath || !*rpath) {
		diag_error(c->d, rloc, "repo '%s' is not an SSH git URL", repo);
		diag_hint(c->d, "ArgoCD reads the repository with a deploy key: write git@host:group/project.git");
		json_object_set_new(j, "repo_host", json_null());
		json_object_set_new(j, "repo_path", json_null());
		json_object_set_new(j, "repo_path_encoded", json_null());
		json_object_set_new(j, "gitlab", json_false());
	} else {
		char *h = xstrndup(rhost, hlen);
		struct strbuf path = STRBUF_INIT, enc = STRBUF_INIT;
		strbuf_addstr(&path, rpath);
		if (path.len > 4 && !strcmp(path.buf + path.len - 4, ".git"))
			strbuf_setlen(&path, path.len - 4);
		for (size_t i = 0; i < path.len; i++) {
			if (path.buf[i] == '/')
				strbuf_addstr(&enc, "%2F");
			else
				strbuf_addch(&enc, path.buf[i]);
		}
		if (strlen(repo) < 4 || strcmp(repo + strlen(repo) - 4, ".git"))
			diag_warning(c->d, rloc, "repo URL does not end in .git: ArgoCD does not follow GitLab's redirect");
		json_object_set_new(j, "repo_host", json_string(h));
		json_object_set_new(j, "repo_path", json_string(path.buf));
		json_object_set_new(j, "repo_path_encoded", json_string(enc.buf));
		json_object_set_new(j, "gitlab", json_boolean(strstr(h, "gitlab") != NULL));
		free(h);
		strbuf_release(&path);
		strbuf_release(&enc);
	}
	return j;
}

static json_t *build_apps(struct ctx *c)
{
	json_t *arr = json_array();
	struct strmap names;
	strmap_init(&names);
	const char *repo = c->b->argocd ? str_attr(c->b->argocd, "repo", NULL) : NULL;
	for (size_t i = 0; i < c->b->napps; i++) {
		struct ast_node *ab = c->b->apps[i];
		const char *name = ab->u.block.name;
		if (!name)
			continue;
		if (!first_definition(c, &names, ab))
			continue;
		if (!rfc1123_label(name))
			diag_error(c->d, ab->u.block.name_loc, "app name '%s' is not a valid Kubernetes name", name);
		if (!c->b->argocd)
			diag_error(c->d, ab->u.block.type_loc, "app '%s' needs an argocd block to deploy it", name);
		const char *ns = str_attr(ab, "namespace", name);
		if (!rfc1123_label(ns))
			diag_error(c->d, block_get(ab, "namespace") ? block_get(ab, "namespace")->loc : ab->u.block.name_loc,
				   "namespace '%s' is not a valid Kubernetes name", ns);
		const char *path = str_attr(ab, "path", "");
		if (path[0] == '/' || strstr(path, ".."))
			diag_error(c->d, block_get(ab, "path")->loc, "app path '%s' must be relative to the repository root", path);
		const char *sync = str_attr(ab, "sync", "auto");
		bool automated = !strcmp(sync, "auto");
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:b,s:b}",
			"name", name, "path", path, "namespace", ns,
			"repo", jstr_or_null(str_attr(ab, "repo", repo)),
			"revision", str_attr(ab, "revision", "HEAD"), "sync", sync,
			"prune", automated && bool_attr(ab, "prune", 1),
			"self_heal", automated && bool_attr(ab, "self_heal", 1)));
	}
	strmap_release(&names);
	return arr;
}

static json_t *build_monitoring(struct ctx *c)
{
	struct ast_node *mb = c->b->monitoring;
	if (!mb)
		return json_null();
	const char *domain = json_string_value(json_object_get(json_object_get(c->model, "cluster"), "domain"));
	json_t *j = json_object();
	struct ast_node *t = value_get(mb, "gpu_temperature_alert");
	long long temp = int_attr(mb, "gpu_temperature_alert", 80);
	if (t && t->kind == AST_INT && (temp < 30 || temp > 120))
		diag_error(c->d, t->loc, "gpu_temperature_alert %lld is not a GPU temperature in °C (30 to 120)", temp);
	json_object_set_new(j, "gpu_temperature_alert", json_integer(temp));
	static const char *const parts[] = { "prometheus", "grafana", "alertmanager" };
	for (size_t i = 0; i < 3; i++) {
		struct ast_node *pb = block_get(mb, parts[i]);
		struct strbuf host = STRBUF_INIT;
		strbuf_addf(&host, "%s.%s", parts[i], domain);
		json_t *pj = json_object();
		json_object_set_new(pj, "host", json_string(str_attr(pb, "host", host.buf)));
		strbuf_release(&host);
		if (i == 0) {
			json_object_set_new(pj, "retention_hours", json_integer(int_attr(pb, "retention", 200 * 3600) / 3600));
			long long st = int_attr(pb, "storage", 0);
			json_object_set_new(pj, "storage_gib", st ? json_integer(st >> 30) : json_null());
		}
		if (i == 2)
			json_object_set_new(pj, "repeat_interval_minutes",
					    json_integer(int_attr(pb, "repeat_interval", 12 * 3600) / 60));
		json_object_set_new(j, parts[i], pj);
	}
	struct ast_node *mx = block_get(mb, "matrix");
	if (mx && mx->kind == AST_BLOCK) {
		const char *host = str_attr(mx, "host", "");
		/* A missing or unusable host was reported already. */
		if (str_attr(mx, "host", NULL) && !dns_subdomain(host, strlen(host)))
			diag_error(c->d, block_get(mx, "host") ? block_get(mx, "host")->loc : mx->u.block.type_loc,
				   "matrix host '%s' is not a DNS name", host);
		json_object_set_new(j, "matrix", json_pack("{s:s,s:s}", "host", host, "room", str_attr(mx, "room", "Alerts")));
	} else {
		json_object_set_new(j, "matrix", json_null());
	}
	return j;
}

/* Sets versions[key] from a string attribute. Versions become image tags and
 * chart versions inside manifests, so only tag characters pass. */
static void set_version(struct ctx *c, json_t *out, const char *key, const struct ast_node *v)
{
	if (!v || v->kind != AST_STRING || v->poisoned)
		return;
	bool ok = *v->u.str && strlen(v->u.str) <= 128;
	for (const char *q = v->u.str; ok && *q; q++)
		ok = isalnum((unsigned char)*q) || strchr("._-:/@+", *q);
	if (!ok) {
		diag_error(c->d, v->loc, "version '%s' is not a version or image tag", v->u.str);
		diag_hint(c->d, "versions are letters, digits and . _ - : / @ +, such as \"1.18.1\"");
		return;
	}
	json_object_set_new(out, key, json_string(v->u.str));
}

static json_t *build_versions(struct ctx *c)
{
	size_t len;
	char *text = stdlib_read("versions.json", &len);
	json_error_t err;
	json_t *pinned = text ? json_loads(text, 0, &err) : NULL;
	free(text);
	if (!json_is_object(pinned)) {
		diag_error(c->d, LOC_NONE, "the stdlib's versions.json is missing or not a JSON object");
		json_decref(pinned);
		return json_object();
	}
	json_t *out = json_deep_copy(pinned);
	/* The ceph and argocd blocks may pin their own component too. */
	if (c->b->ceph)
		set_version(c, out, "ceph_csi", block_get(c->b->ceph, "csi_version"));
	if (c->b->argocd)
		set_version(c, out, "argocd", block_get(c->b->argocd, "version"));
	struct ast_node *vb = c->b->versions;
	if (!vb) {
		json_decref(pinned);
		return out;
	}
	size_t nk = json_object_size(pinned), k = 0;
	const char **cands = xcalloc(nk + 1, sizeof(*cands));
	const char *key;
	json_t *val;
	json_object_foreach(pinned, key, val)
		cands[k++] = key;
	struct strmap seen;
	strmap_init(&seen);
	for (struct ast_node *a = vb->u.block.body; a; a = a->next) {
		if (a->kind != AST_ATTR)
			continue;
		const char *name = a->u.attr.name;
		struct ast_node *prev = strmap_put(&seen, name, a);
		if (prev) {
			diag_error(c->d, a->u.attr.name_loc, "version '%s' is set twice", name);
			diag_note(c->d, prev->u.attr.name_loc, "first set here");
			continue;
		}
		if (!json_object_get(pinned, name)) {
			diag_error(c->d, a->u.attr.name_loc, "unknown component '%s' in versions", name);
			hint_suggest(c->d, name, cands, nk);
			continue;
		}
		set_version(c, out, name, a->u.attr.value);
	}
	strmap_release(&seen);
	free(cands);
	json_decref(pinned);
	return out;
}

static json_t *subset(json_t *nodes, const char *field, const char *equals)
{
	json_t *arr = json_array();
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n) {
		json_t *v = json_object_get(n, field);
		bool take = equals ? json_is_string(v) && !strcmp(json_string_value(v), equals) : !json_is_null(v);
		if (take)
			json_array_append(arr, n);
	}
	return arr;
}

json_t *check_model(struct unit *u, const struct check_blocks *b)
{
	if (!b->cluster)
		return NULL;
	struct ctx c = { u, u->diag, b, json_object() };
	struct netinfo ni;
	memset(&ni, 0, sizeof(ni));
	struct strmap proxmox, images;
	strmap_init(&proxmox);
	strmap_init(&images);

	json_object_set_new(c.model, "clusterc", json_pack("{s:s}", "version", CLUSTERC_VERSION));
	json_t *cluster = build_cluster(&c, &ni);
	json_object_set_new(c.model, "cluster", cluster);
	json_object_set_new(c.model, "network", build_network(&c, &ni));
	json_t *pj = build_proxmox(&c, &proxmox);
	json_object_set_new(c.model, "proxmox", pj);
	json_object_set_new(c.model, "images", build_images(&c, &images));
	bool any_vm = false;
	json_t *nodes = build_nodes(&c, &ni, &proxmox, &images, pj, &any_vm);
	json_object_set_new(c.model, "nodes", nodes);
	resolve_public_key(&c, cluster, any_vm);
	check_control_endpoint(&c, &ni, cluster, nodes);
	json_t *controls = subset(nodes, "role", "control");
	json_t *workers = subset(nodes, "role", "worker");
	json_object_set(c.model, "first_control", json_array_size(controls) ? json_array_get(controls, 0) : json_null());
	json_object_set_new(c.model, "controls", controls);
	json_object_set_new(c.model, "workers", workers);
	json_object_set_new(c.model, "gpu_nodes", subset(nodes, "gpu", NULL));
	json_object_set_new(c.model, "ceph", build_ceph(&c, json_array_size(workers)));
	json_object_set_new(c.model, "argocd", build_argocd(&c));
	json_object_set_new(c.model, "apps", build_apps(&c));
	json_object_set_new(c.model, "monitoring", build_monitoring(&c));
	json_object_set_new(c.model, "versions", build_versions(&c));
	if (b->monitoring && !b->argocd) {
		diag_error(c.d, b->monitoring->u.block.type_loc, "monitoring is deployed by ArgoCD, but there is no argocd block");
		diag_hint(c.d, "add argocd { repo = \"git@host:group/project.git\" }: the monitoring stack is an app tree ArgoCD syncs");
	}
	if (any_vm && !b->network && b->nnodes)
		diag_error(c.d, b->cluster->u.block.type_loc,
			   "nodes with a vm block are installed with a static address and need a network block");

	json_t *net = json_object_get(c.model, "network");
	const char *ingress = json_is_object(net) ? json_string_value(json_object_get(net, "ingress")) : "none";
	json_t *feat = json_object();
	json_object_set_new(feat, "proxmox", json_boolean(any_vm));
	json_object_set_new(feat, "gpu", json_boolean(json_array_size(json_object_get(c.model, "gpu_nodes")) > 0));
	json_object_set_new(feat, "ceph", json_boolean(b->ceph != NULL));
	json_object_set_new(feat, "gitops", json_boolean(b->argocd != NULL));
	json_object_set_new(feat, "monitoring", json_boolean(b->monitoring != NULL));
	json_object_set_new(feat, "ha", json_object_get(cluster, "ha") ? json_incref(json_object_get(cluster, "ha")) : json_false());
	json_object_set_new(feat, "network", json_boolean(json_is_object(net)));
	json_object_set_new(feat, "gateway_api", json_boolean(!strcmp(ingress, "gateway_api")));
	json_object_set_new(feat, "ingress_controller", json_boolean(!strcmp(ingress, "ingress_controller")));
	json_object_set_new(feat, "wireguard", json_boolean(json_is_object(net) &&
		!strcmp(json_string_value(json_object_get(net, "encryption")), "wireguard")));
	json_object_set_new(feat, "l2", json_boolean(json_is_object(net) && !json_is_null(json_object_get(net, "lb_pool"))));
	json_object_set_new(c.model, "features", feat);

	strmap_release(&proxmox);
	strmap_release(&images);
	if (diag_failed(c.d)) {
		json_decref(c.model);
		return NULL;
	}
	return c.model;
}
