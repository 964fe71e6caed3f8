/* model_features: the model of the optional blocks: ceph, argocd, apps,
 * monitoring, and the component versions. */
#include "model_internal.h"
#include "sshkey.h"
#include "net.h"
#include "stdlib_data.h"
#include "xalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- optional features ---- */

json_t *build_ceph(struct model_ctx *c, size_t nworkers)
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
			diag_error(c->d, block_get(cb, "fsid")->loc, "C0436", "ceph fsid '%s' is not a UUID", fsid);
			diag_hint(c->d, "read it on a Ceph host with: ceph fsid");
		}
	}
	json_t *mons = json_array(), *mon_ips = json_array();
	struct ast_node *mv = block_get(cb, "monitors");
	if (mv && mv->kind == AST_LIST) {
		if (!mv->u.list.count)
			diag_error(c->d, mv->loc, "C0437", "ceph needs at least one monitor");
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

/* The hosts whose keys ArgoCD's argocd-ssh-known-hosts-cm ships with
 * (argo-cd manifests; "Manage SSH known hosts": Azure, Bitbucket, GitHub,
 * GitLab, Visual Studio). */
static bool argocd_knows_host(const char *h)
{
	static const char *const known[] = { "github.com", "gitlab.com", "bitbucket.org",
					     "ssh.dev.azure.com", "vs-ssh.visualstudio.com" };
	for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
		if (!strcmp(h, known[i]))
			return true;
	return false;
}

/* repo_host_keys: the git server's public host keys, stated, because
 * ArgoCD checks them and nothing may trust a key on first use. Each one
 * checked as an OpenSSH host key; "TYPE BASE64" without the comment. */
static json_t *argocd_host_keys(struct model_ctx *c, const struct ast_node *ab, const char *rhost)
{
	json_t *arr = json_array();
	struct ast_node *kv = block_get(ab, "repo_host_keys");
	if (kv && kv->kind == AST_LIST) {
		for (struct ast_node *it = kv->u.list.items; it; it = it->next) {
			if (it->kind != AST_STRING || it->poisoned)
				continue;
			struct strbuf k = STRBUF_INIT;
			if (ssh_host_key_parse(it->u.str, &k)) {
				diag_error(c->d, it->loc, "C0364", "'%.40s' is not an OpenSSH public host key", it->u.str);
				diag_hint(c->d, "give one line of the server's /etc/ssh/ssh_host_*_key.pub, "
					  "such as \"ssh-ed25519 AAAAC3Nza...\", without the host name");
			} else {
				json_array_append_new(arr, json_string(k.buf));
			}
			strbuf_release(&k);
		}
	} else if (rhost && !argocd_knows_host(rhost)) {
		diag_warning(c->d, block_get(ab, "repo") ? block_get(ab, "repo")->loc : ab->u.block.type_loc,
			     "C0450", "ArgoCD does not know the SSH host key of %s, and clusterc never trusts one "
			     "on first use: until it is stated, ArgoCD cannot read the repository", rhost);
		diag_hint(c->d, "add repo_host_keys = [\"ssh-ed25519 AAAA...\"], the content of "
			  "/etc/ssh/ssh_host_ed25519_key.pub on %s (read it there, not over the network)", rhost);
	}
	return arr;
}

/* The repository fields when repo was not usable (reported already). */
static void set_repo_unknown(json_t *j)
{
	json_object_set_new(j, "repo_host", json_null());
	json_object_set_new(j, "repo_path", json_null());
	json_object_set_new(j, "repo_path_encoded", json_null());
	json_object_set_new(j, "gitlab", json_false());
	json_object_set_new(j, "repo_known_host", json_null());
	json_object_set_new(j, "repo_host_keys", json_array());
}

/* A web UI's host attribute becomes an HTTPRoute hostname and a TLS name: a
 * DNS name (RFC 1123 subdomain), which the Gateway API CRD would also refuse
 * otherwise, at apply time. Returns the host, given or the default. */
static const char *web_host(struct model_ctx *c, const struct ast_node *b, const char *what, const char *fallback)
{
	const char *host = str_attr(b, "host", NULL);
	/* An all-digit last label is an IPv4 address, which the Gateway API
	 * forbids as a hostname (no top-level domain is all digits). */
	const char *last = host ? strrchr(host, '.') : NULL;
	last = last ? last + 1 : host;
	bool numeric = last && *last && strspn(last, "0123456789") == strlen(last);
	if (host && (numeric || !dns_subdomain(host, strlen(host))))
		diag_error(c->d, block_get(b, "host")->loc, "C0446", "%s host '%s' is not a DNS name", what, host);
	return host ? host : fallback;
}

json_t *build_argocd(struct model_ctx *c)
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
	json_object_set_new(j, "host", json_string(web_host(c, ab, "argocd", host.buf)));
	strbuf_release(&host);
	const char *project = str_attr(ab, "project", "homelab");
	if (!rfc1123_label(project))
		diag_error(c->d, block_get(ab, "project") ? block_get(ab, "project")->loc : ab->u.block.type_loc,
			   "C0438", "project '%s' is not a valid Kubernetes name", project);
	json_object_set_new(j, "project", json_string(project));
	/* git@host:group/project(.git) or ssh://git@host[:port]/group/project(.git) */
	const char *rhost = NULL, *rpath = NULL, *rport = NULL;
	size_t hlen = 0, plen = 0;
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
		if (*end == ':') {
			rport = end + 1;
			plen = strspn(rport, "0123456789");
		}
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
		set_repo_unknown(j);
	} else if (rhost && hlen && rpath && *rpath && !dns_subdomain(rhost, hlen)) {
		/* The host reaches scripts and known_hosts lines: a name, nothing else. */
		diag_error(c->d, rloc, "C0451", "repo '%s': '%.*s' is not a host name or IPv4 address", repo,
			   (int)hlen, rhost);
		set_repo_unknown(j);
	} else if (!rhost || !hlen || !rpath || !*rpath) {
		diag_error(c->d, rloc, "C0439", "repo '%s' is not an SSH git URL", repo);
		diag_hint(c->d, "ArgoCD reads the repository with a deploy key: write git@host:group/project.git");
		set_repo_unknown(j);
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
			diag_warning(c->d, rloc, "C0440", "repo URL does not end in .git: ArgoCD does not follow GitLab's redirect");
		json_object_set_new(j, "repo_host", json_string(h));
		json_object_set_new(j, "repo_path", json_string(path.buf));
		json_object_set_new(j, "repo_path_encoded", json_string(enc.buf));
		json_object_set_new(j, "gitlab", json_boolean(strstr(h, "gitlab") != NULL));
		json_object_set_new(j, "repo_host_keys", argocd_host_keys(c, ab, h));
		/* The name known_hosts gives the host: "[host]:port" off port 22. */
		struct strbuf kh = STRBUF_INIT;
		if (plen && !(plen == 2 && !strncmp(rport, "22", 2)))
			strbuf_addf(&kh, "[%s]:%.*s", h, (int)plen, rport);
		else
			strbuf_addstr(&kh, h);
		json_object_set_new(j, "repo_known_host", json_string(kh.buf));
		strbuf_release(&kh);
		free(h);
		strbuf_release(&path);
		strbuf_release(&enc);
	}
	return j;
}

json_t *build_apps(struct model_ctx *c)
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
			diag_error(c->d, ab->u.block.name_loc, "C0441", "app name '%s' is not a valid Kubernetes name", name);
		if (!c->b->argocd)
			diag_error(c->d, ab->u.block.type_loc, "C0442", "app '%s' needs an argocd block to deploy it", name);
		const char *ns = str_attr(ab, "namespace", name);
		if (!rfc1123_label(ns))
			diag_error(c->d, block_get(ab, "namespace") ? block_get(ab, "namespace")->loc : ab->u.block.name_loc,
				   "C0443", "namespace '%s' is not a valid Kubernetes name", ns);
		const char *path = str_attr(ab, "path", "");
		if (path[0] == '/' || strstr(path, ".."))
			diag_error(c->d, block_get(ab, "path")->loc, "C0444", "app path '%s' must be relative to the repository root", path);
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

json_t *build_monitoring(struct model_ctx *c)
{
	struct ast_node *mb = c->b->monitoring;
	if (!mb)
		return json_null();
	const char *domain = json_string_value(json_object_get(json_object_get(c->model, "cluster"), "domain"));
	json_t *j = json_object();
	struct ast_node *t = value_get(mb, "gpu_temperature_alert");
	long long temp = int_attr(mb, "gpu_temperature_alert", 80);
	if (t && t->kind == AST_INT && (temp < 30 || temp > 120))
		diag_error(c->d, t->loc, "C0445", "gpu_temperature_alert %lld is not a GPU temperature in °C (30 to 120)", temp);
	json_object_set_new(j, "gpu_temperature_alert", json_integer(temp));
	static const char *const parts[] = { "prometheus", "grafana", "alertmanager" };
	for (size_t i = 0; i < 3; i++) {
		struct ast_node *pb = block_get(mb, parts[i]);
		struct strbuf host = STRBUF_INIT;
		strbuf_addf(&host, "%s.%s", parts[i], domain);
		json_t *pj = json_object();
		json_object_set_new(pj, "host", json_string(web_host(c, pb, parts[i], host.buf)));
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
		/* A missing host was reported already. */
		const char *host = web_host(c, mx, "matrix", "");
		json_object_set_new(j, "matrix", json_pack("{s:s,s:s}", "host", host, "room", str_attr(mx, "room", "Alerts")));
	} else {
		json_object_set_new(j, "matrix", json_null());
	}
	return j;
}

/* Sets versions[key] from a string attribute. Versions become image tags and
 * chart versions inside manifests, so only tag characters pass. */
static void set_version(struct model_ctx *c, json_t *out, const char *key, const struct ast_node *v)
{
	if (!v || v->kind != AST_STRING || v->poisoned)
		return;
	bool ok = *v->u.str && strlen(v->u.str) <= 128;
	for (const char *q = v->u.str; ok && *q; q++)
		ok = isalnum((unsigned char)*q) || strchr("._-:/@+", *q);
	if (!ok) {
		diag_error(c->d, v->loc, "C0447", "version '%s' is not a version or image tag", v->u.str);
		diag_hint(c->d, "versions are letters, digits and . _ - : / @ +, such as \"1.18.1\"");
		return;
	}
	json_object_set_new(out, key, json_string(v->u.str));
}

json_t *build_versions(struct model_ctx *c)
{
	size_t len;
	char *text = stdlib_read("versions.json", &len);
	json_error_t err;
	json_t *pinned = text ? json_loads(text, 0, &err) : NULL;
	free(text);
	if (!json_is_object(pinned)) {
		diag_error(c->d, LOC_NONE, "C0448", "the stdlib's versions.json is missing or not a JSON object");
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
		if (!first_setting(c, &seen, a, "version"))
			continue;
		if (!json_object_get(pinned, name)) {
			diag_error(c->d, a->u.attr.name_loc, "C0449", "unknown component '%s' in versions", name);
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
