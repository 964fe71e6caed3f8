/* model_build: the resolved model as JSON (the template context and
 * model.json), built from the checked blocks: cluster, network, proxmox,
 * images and nodes here, the optional features in model_features.c; the
 * rules it applies on the way are in check_model.c. */
#include "model_internal.h"
#include "net.h"
#include "stdlib_data.h"
#include "version.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static json_t *build_cluster(struct model_ctx *c, struct netinfo *ni)
{
	const struct ast_node *cl = c->b->cluster;
	json_t *j = json_object();
	json_object_set_new(j, "name", json_string(cl->u.block.name ? cl->u.block.name : ""));
	json_object_set_new(j, "kubernetes", json_string(str_attr(cl, "kubernetes", "")));
	json_object_set_new(j, "crio", json_string(str_attr(cl, "crio", "")));
	json_object_set_new(j, "domain", json_string(str_attr(cl, "domain", "k8s.local")));
	json_object_set_new(j, "api_port", json_integer(6443));
	check_versions(c, cl);
	check_upgrade(c, cl);

	const char *name = cl->u.block.name;
	if (name && !rfc1123_label(name)) {
		diag_error(c->d, cl->u.block.name_loc, "C0319", "cluster name '%s' is not a valid DNS label", name);
		diag_hint(c->d, "use lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit");
	}
	const char *domain = str_attr(cl, "domain", NULL);
	if (domain && !dns_subdomain(domain, strlen(domain))) {
		diag_error(c->d, block_get(cl, "domain")->loc, "C0320", "domain '%s' is not a valid DNS name", domain);
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
		diag_error(c->d, at, "C0321", "the pod and service CIDRs overlap");
		if (ni->have_pod_loc && ni->have_svc_loc)
			diag_note(c->d, ni->pod_loc, "the pod CIDR is here");
	}

	const struct ast_node *ssh = block_get(cl, "ssh");
	json_t *js = json_object();
	if (str_attr(ssh, "user", NULL) && bad_ssh_user(str_attr(ssh, "user", NULL)))
		diag_error(c->d, block_get(ssh, "user")->loc, "C0322", "ssh user '%s' is not a valid user name",
			   str_attr(ssh, "user", NULL));
	check_ssh_port(c, ssh);
	json_object_set_new(js, "user", json_string(str_attr(ssh, "user", "ubuntu")));
	json_object_set_new(js, "key", json_string(str_attr(ssh, "key", "~/.ssh/id_ed25519")));
	json_object_set_new(js, "port", json_integer(int_attr(ssh, "port", 22)));
	json_object_set_new(j, "ssh", js);

	const struct ast_node *up = block_get(cl, "upgrade");
	struct ast_node *wa = value_get(up, "workers_at_once");
	if (wa && wa->kind == AST_INT && wa->u.num < 1)
		diag_error(c->d, wa->loc, "C0365", "upgrade.workers_at_once is %llu: at least one worker must be "
			   "upgraded at a time", (unsigned long long)wa->u.num);
	json_object_set_new(j, "upgrade", json_pack("{s:I}", "workers_at_once",
						      (json_int_t)int_attr(up, "workers_at_once", 1)));
	return j;
}

/* Reads ssh.public_key, or the text of the key file + ".pub". */
static void resolve_public_key(struct model_ctx *c, json_t *cluster, bool needed)
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
				   "C0323", "public_key is not one OpenSSH public key line");
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
		strbuf_rtrim_newlines(&text);
		json_object_set_new(js, "public_key", json_string(text.buf));
	} else if (needed) {
		struct loc at = ssh ? ssh->u.block.type_loc : c->b->cluster->u.block.type_loc;
		diag_error(c->d, at, "C0324", "cannot read the SSH public key '%s': %s", path.buf, strerror(errno));
		diag_hint(c->d, "nodes installed by autoinstall need it; set ssh { public_key = ... } or create the key");
		json_object_set_new(js, "public_key", json_null());
	} else {
		json_object_set_new(js, "public_key", json_null());
	}
	strbuf_release(&path);
	strbuf_release(&text);
}

static json_t *build_network(struct model_ctx *c, struct netinfo *ni)
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
			diag_error(c->d, pool->loc, "C0325", "lb_pool contains the gateway");
			diag_note(c->d, ni->gateway_loc, "the gateway is here");
		}
		if (!ni->pod_unknown && cidr_overlaps(ni->pool, ni->pool_prefix, ni->pod, ni->pod_p)) {
			diag_error(c->d, pool->loc, "C0326", "lb_pool overlaps the pod CIDR");
			if (ni->have_pod_loc)
				diag_note(c->d, ni->pod_loc, "the pod CIDR is here");
		}
		if (!ni->svc_unknown && cidr_overlaps(ni->pool, ni->pool_prefix, ni->svc, ni->svc_p)) {
			diag_error(c->d, pool->loc, "C0327", "lb_pool overlaps the service CIDR");
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

/* ---- proxmox and images ---- */

static json_t *build_proxmox(struct model_ctx *c, struct strmap *by_name)
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
			diag_error(c->d, block_get(p, "endpoint")->loc, "C0328", "proxmox endpoint '%s' is not an https:// URL", ep);
		} else if (!strncmp(ep, "http://", 7)) {
			diag_warning(c->d, block_get(p, "endpoint")->loc,
				     "C0329", "proxmox endpoint '%s' is plain http: credentials would cross the network in clear", ep);
		}
		json_object_set_new(j, "endpoint", json_string(ep));
		json_object_set_new(j, "node", json_string(str_attr(p, "node", "")));
		const char *user = str_attr(p, "user", NULL);
		const char *token_id = str_attr(p, "token_id", NULL);
		bool has_user = block_get(p, "user") != NULL, has_token_id = block_get(p, "token_id") != NULL;
		bool has_pw = block_get(p, "password") != NULL, has_tok = block_get(p, "token") != NULL;
		if (user && !strchr(user, '@')) {
			diag_error(c->d, block_get(p, "user")->loc, "C0330", "proxmox user '%s' has no realm", user);
			diag_hint(c->d, "write USER@REALM, such as \"root@pam\"");
		}
		if ((has_user || has_pw) && (has_token_id || has_tok)) {
			diag_error(c->d, p->u.block.type_loc, "C0331", "proxmox '%s' sets both a password and an API token", name);
			diag_hint(c->d, "use user + password, or token_id + token");
		} else if (!(has_user && has_pw) && !(has_token_id && has_tok)) {
			diag_error(c->d, p->u.block.type_loc, "C0332", "proxmox '%s' needs user + password, or token_id + token", name);
		}
		if (token_id && !strchr(token_id, '!')) {
			diag_error(c->d, block_get(p, "token_id")->loc, "C0333", "token_id '%s' is not USER@REALM!TOKEN", token_id);
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

static json_t *build_images(struct model_ctx *c, struct strmap *by_name)
{
	json_t *arr = json_array();
	size_t len;
	char *text = stdlib_read("defaults/image-ubuntu.json", &len);
	json_t *dflt = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!dflt) {
		diag_error(c->d, LOC_NONE, "C0334", "the stdlib has no valid defaults/image-ubuntu.json");
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
			diag_error(c->d, im->u.block.type_loc, "C0335", "image '%s' needs an iso URL", name);
		} else if (strncmp(iso, "https://", 8) && strncmp(iso, "http://", 7)) {
			diag_error(c->d, block_get(im, "iso")->loc, "C0336", "iso '%s' is not an http(s) URL", iso);
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
					   "C0337", "iso URL must end in a file name of letters, digits, '-', '_' and '.' ending in .iso");
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
					   "C0338", "sha256 must be 64 hexadecimal digits");
		} else if (iso) {
			diag_warning(c->d, im->u.block.type_loc, "C0339", "image '%s' has no sha256: the download cannot be verified", name);
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

struct node_facts {
	struct ast_node *blk;
	uint32_t ip;
	uint8_t prefix;
	bool has_prefix;
	struct loc ip_loc;
	bool control;
};

static json_t *build_nodes(struct model_ctx *c, struct netinfo *ni, struct strmap *proxmox,
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
			diag_error(c->d, nb->u.block.name_loc, "C0340", "node name '%s' is not a valid host name", name);
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
				diag_error(c->d, ipv->loc, "C0341", "address %s is used by node '%s' too", s, dup->blk->u.block.name);
				diag_note(c->d, dup->ip_loc, "'%s' has it here", dup->blk->u.block.name);
				free(s);
			}
			if (nf->prefix < 31 && (nf->ip == cidr_network(nf->ip, nf->prefix) ||
						nf->ip == cidr_broadcast(nf->ip, nf->prefix))) {
				char *s = fmt_ip(nf->ip), *net = fmt_cidr(cidr_network(nf->ip, nf->prefix), nf->prefix);
				diag_error(c->d, ipv->loc, "C0342", "node '%s' address %s is the %s address of %s, not a host address",
					   name, s, nf->ip == cidr_network(nf->ip, nf->prefix) ? "network" : "broadcast", net);
				free(s);
				free(net);
			}
			if (ni->have_gateway) {
				if (nf->ip == ni->gateway) {
					diag_error(c->d, ipv->loc, "C0343", "node '%s' has the gateway's address", name);
					diag_note(c->d, ni->gateway_loc, "the gateway is here");
				} else if (!cidr_contains(nf->ip, nf->prefix, ni->gateway)) {
					char *s = fmt_cidr(nf->ip, nf->prefix), *g = fmt_ip(ni->gateway);
					diag_error(c->d, ipv->loc, "C0344", "node '%s' address %s is outside the gateway %s's subnet",
						   name, s, g);
					diag_note(c->d, ni->gateway_loc, "the gateway is here");
					free(s);
					free(g);
				}
			}
			if (ni->have_pool && cidr_contains(ni->pool, ni->pool_prefix, nf->ip)) {
				char *s = fmt_ip(nf->ip), *pool = fmt_cidr(ni->pool, ni->pool_prefix);
				diag_error(c->d, ipv->loc, "C0345", "node '%s' address %s is inside lb_pool %s", name, s, pool);
				diag_note(c->d, ni->pool_loc, "lb_pool is here");
				free(s);
				free(pool);
			}
			if (!ni->pod_unknown && cidr_overlaps(ni->pod, ni->pod_p, nf->ip, nf->prefix)) {
				diag_error(c->d, ipv->loc, "C0346", "node '%s' subnet overlaps the pod CIDR", name);
				if (ni->have_pod_loc)
					diag_note(c->d, ni->pod_loc, "the pod CIDR is here");
				else
					diag_hint(c->d, "the pod CIDR is kubeadm's default 10.244.0.0/16; set pod_cidr in the cluster block to a range the nodes do not use");
			}
			if (!ni->svc_unknown && cidr_overlaps(ni->svc, ni->svc_p, nf->ip, nf->prefix)) {
				diag_error(c->d, ipv->loc, "C0347", "node '%s' subnet overlaps the service CIDR", name);
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
					diag_error(c->d, on->loc, "C0348", "there is no proxmox block named '%s'", on_name);
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
					diag_error(c->d, idv->loc, "C0349", "VM id %lld is outside Proxmox's range 100 to 999999999", vmid);
				} else if (on_name) {
					/* Duplicate ids matter per Proxmox host: key "host/id". */
					struct strbuf key = STRBUF_INIT;
					strbuf_addf(&key, "%s/%lld", on_name, vmid);
					char *k = arena_strdup(&c->u->arena, key.buf);
					strbuf_release(&key);
					struct ast_node *dup = strmap_put(&vmids, k, idv);
					if (dup) {
						diag_error(c->d, idv->loc, "C0350", "VM id %lld is used twice on proxmox '%s'", vmid, on_name);
						diag_note(c->d, dup->loc, "first used here");
					}
				}
			}
			json_object_set_new(jv, "id", json_integer(vmid));
			long long cores = int_attr(vm, "cores", 2);
			struct ast_node *cv = value_get(vm, "cores");
			if (cv && cv->kind == AST_INT && (cores < 1 || cores > 512))
				diag_error(c->d, cv->loc, "C0351", "cores must be between 1 and 512");
			json_object_set_new(jv, "cores", json_integer(cores));
			struct ast_node *mv = value_get(vm, "memory"), *dv = value_get(vm, "disk");
			unsigned long long mem = mv && mv->kind == AST_SIZE ? mv->u.num : 4096ull << 20;
			unsigned long long disk = dv && dv->kind == AST_SIZE ? dv->u.num : 20ull << 30;
			if (mv && mv->kind == AST_SIZE && (mem % (1u << 20) || mem < (512ull << 20)))
				diag_error(c->d, mv->loc, "C0352", "memory must be a whole number of MiB, at least 512MiB");
			if (dv && dv->kind == AST_SIZE && (disk % (1u << 30) || disk < (8ull << 30)))
				diag_error(c->d, dv->loc, "C0353", "disk must be a whole number of GiB, at least 8GiB");
			/* From VM start to the installed system's first boot: a live ISO
			 * boot, subiquity with security updates, a reboot. 8 to 15 minutes
			 * are common; 45 leaves room for a slow mirror. */
			struct ast_node *itv = value_get(vm, "install_timeout");
			long long install = int_attr(vm, "install_timeout", 45 * 60);
			if (itv && itv->kind == AST_DURATION && (install < 5 * 60 || install > 24 * 3600))
				diag_error(c->d, itv->loc, "C0354", "install_timeout must be between 5m and 24h");
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
			struct ast_node *imb = strmap_get(images, img);
			if (imv && strcmp(img, "ubuntu") && !imb) {
				diag_error(c->d, imv->loc, "C0355", "there is no image block named '%s'", img);
			} else if (imb && block_get(imb, "iso") && !block_get(imb, "sha256")) {
				/* The installer step downloads the ISO only to check it
				 * (stdlib/templates/iso/installer.sh, fetch_iso): an
				 * unverified image is a warning (C0339) until a VM uses it. */
				diag_error(c->d, imv ? imv->loc : vm->loc, "C0454",
					   "node '%s' installs image '%s', which has no sha256: its ISO cannot be verified",
					   nb->u.block.name, img);
				diag_note(c->d, imb->u.block.type_loc, "image '%s' is here", img);
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
				diag_error(c->d, block_get(gpu, "pci")->loc, "C0356", "PCI address '%s' is not in DDDD:BB:SS form", pci);
				diag_hint(c->d, "find it on the Proxmox host with: lspci -D | grep -i vga (drop the .function)");
			}
			if (!pci && !mapping) {
				diag_error(c->d, gpu->u.block.type_loc, "C0357", "gpu on node '%s' has no PCI address", name);
				diag_hint(c->d, "write gpu { pci = \"0000:01:00\" }, or name a Proxmox PCI mapping");
			}
			if (pve && !mapping && !strcmp(json_string_value(json_object_get(pve, "auth")), "token")) {
				diag_error(c->d, gpu->u.block.type_loc,
					   "C0358", "gpu on node '%s' needs a PCI 'mapping': proxmox '%s' logs in with an API token",
					   name, json_string_value(json_object_get(pve, "name")));
				diag_hint(c->d, "Proxmox accepts a raw hostpci0 only from root@pam with a password; create a PCI resource mapping (Datacenter > Resource Mappings) and set mapping = \"NAME\"");
			}
			json_object_set_new(jg, "pci", jstr_or_null(pci));
			json_object_set_new(jg, "mapping", jstr_or_null(mapping));
			const char *model = str_attr(gpu, "model", NULL);
			json_object_set_new(jg, "model", jstr_or_null(model));
			const char *driver = str_attr(gpu, "driver", NULL);
			if (driver && strncmp(driver, "nvidia-driver-", 14)) {
				diag_error(c->d, block_get(gpu, "driver")->loc, "C0359", "driver '%s' is not an nvidia-driver-* package", driver);
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
			diag_error(c->d, block_get(ssh, "host")->loc, "C0360", "ssh host '%s' is not a host name or address", host);
		}
		json_object_set_new(js, "host", host ? json_string(host) : json_incref(json_object_get(j, "ip")));
		json_object_set_new(js, "port", json_integer(int_attr(ssh, "port", json_integer_value(json_object_get(cssh, "port")))));
		const char *user = str_attr(ssh, "user", json_string_value(json_object_get(cssh, "user")));
		/* The cluster's own ssh user is checked once, in build_cluster. */
		if (str_attr(ssh, "user", NULL) && bad_ssh_user(user))
			diag_error(c->d, block_get(ssh, "user")->loc, "C0322", "ssh user '%s' is not a valid user name", user);
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
		diag_error(c->d, c->b->cluster->u.block.type_loc, "C0361", "the cluster has no control node");
		diag_hint(c->d, "give one node role = control");
	}
	strmap_release(&names);
	strmap_release(&ips);
	strmap_release(&vmids);
	free(f);
	return arr;
}

/* The order kubeadm upgrades nodes in (kubernetes.io, "Upgrading kubeadm
 * clusters"): the control nodes one after another, the first one first
 * (`kubeadm upgrade apply`), then the workers, workers_at_once of them at a
 * time. Each node names the node whose upgrade it waits for ("upgrade_after",
 * null for the first control node): workers_at_once chains of workers, so no
 * more than that many are drained at once. Draining every worker at once
 * (with two or more of them) leaves their pods nowhere to go but the control
 * nodes, which kubeadm taints: the upgrade would stop the cluster's workloads. */
static void set_upgrade_order(struct model_ctx *c, json_t *cluster, json_t *controls, json_t *workers)
{
	json_int_t at_once = json_integer_value(json_object_get(json_object_get(cluster, "upgrade"),
								  "workers_at_once"));
	size_t k = at_once < 1 ? 1 : (size_t)at_once, nc = json_array_size(controls);
	size_t nw = json_array_size(workers);
	struct ast_node *wa = value_get(block_get(c->b->cluster, "upgrade"), "workers_at_once");
	if (wa && nw >= 2 && k >= nw)
		diag_warning(c->d, wa->loc, "C0366", "upgrade.workers_at_once = %zu drains all %zu workers at once: "
			     "their pods have nowhere to run during an upgrade", k, nw);
	json_t *last = nc ? json_object_get(json_array_get(controls, nc - 1), "name") : NULL;
	for (size_t i = 0; i < nc; i++)
		json_object_set(json_array_get(controls, i), "upgrade_after",
				i ? json_object_get(json_array_get(controls, i - 1), "name") : json_null());
	for (size_t i = 0; i < json_array_size(workers); i++) {
		json_t *before = i >= k ? json_object_get(json_array_get(workers, i - k), "name") : last;
		json_object_set(json_array_get(workers, i), "upgrade_after", before ? before : json_null());
	}
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

json_t *model_build(struct unit *u, const struct check_blocks *b)
{
	if (!b->cluster)
		return NULL;
	struct model_ctx c = { u, u->diag, b, json_object() };
	struct netinfo ni;
	memset(&ni, 0, sizeof(ni));
	struct strmap proxmox, images;
	strmap_init(&proxmox);
	strmap_init(&images);

	/* The file by its base name only: where a checkout sits is not the model's. */
	const char *base = u->main_path ? strrchr(u->main_path, '/') : NULL;
	base = base ? base + 1 : u->main_path ? u->main_path : "";
	json_object_set_new(c.model, "clusterc",
			    json_pack("{s:s, s:s}", "version", CLUSTERC_VERSION, "source", base));
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
	check_runtime(&c, &ni);
	json_t *controls = subset(nodes, "role", "control");
	json_t *workers = subset(nodes, "role", "worker");
	set_upgrade_order(&c, cluster, controls, workers);
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
		diag_error(c.d, b->monitoring->u.block.type_loc, "C0362", "monitoring is deployed by ArgoCD, but there is no argocd block");
		diag_hint(c.d, "add argocd { repo = \"git@host:group/project.git\" }: the monitoring stack is an app tree ArgoCD syncs");
	}
	if (any_vm && !b->network && b->nnodes)
		diag_error(c.d, b->cluster->u.block.type_loc,
			   "C0363", "nodes with a vm block are installed with a static address and need a network block");

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
