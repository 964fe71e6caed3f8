#include "inventory.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

char *expand_home(const char *path)
{
	if (path[0] == '~' && (path[1] == '/' || !path[1])) {
		const char *home = getenv("HOME");
		struct strbuf sb = STRBUF_INIT;
		strbuf_addstr(&sb, home ? home : "");
		strbuf_addstr(&sb, path + 1);
		return strbuf_detach(&sb, NULL);
	}
	return xstrdup(path);
}

int inventory_load(struct inventory *inv, const char *path, struct strbuf *err)
{
	json_error_t je;
	memset(inv, 0, sizeof(*inv));
	inv->root = json_load_file(path, 0, &je);
	if (!inv->root) {
		strbuf_addf(err, "%s:%d: cannot read inventory: %s", path, je.line, je.text);
		return -1;
	}
	if (!json_is_object(json_object_get(inv->root, "hosts"))) {
		strbuf_addf(err, "%s: inventory has no \"hosts\" object", path);
		json_decref(inv->root);
		inv->root = NULL;
		return -1;
	}
	inv->path = xstrdup(path);
	return 0;
}

static char *opt_str(json_t *o, const char *k, int *bad)
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return expand_home(json_string_value(v));
}

int inventory_host(const struct inventory *inv, const char *name, struct ssh_host *h,
		   struct strbuf *err)
{
	json_t *e = json_object_get(json_object_get(inv->root, "hosts"), name);
	if (!e)
		return 1;
	if (!json_is_object(e)) {
		strbuf_addf(err, "%s: entry for '%s' is not an object", inv->path, name);
		return -1;
	}
	int bad = 0;
	memset(h, 0, sizeof(*h));
	h->name = xstrdup(name);
	h->address = opt_str(e, "address", &bad);
	h->user = opt_str(e, "user", &bad);
	h->key = opt_str(e, "key", &bad);
	h->known_hosts = opt_str(e, "known_hosts", &bad);
	h->proxy_jump = opt_str(e, "proxy_jump", &bad);
	json_t *port = json_object_get(e, "port");
	if (port && !json_is_null(port)) {
		if (!json_is_integer(port) || json_integer_value(port) <= 0 ||
		    json_integer_value(port) > 65535)
			bad = 1;
		else
			h->port = (int)json_integer_value(port);
	}
	if (bad || !h->address || !*h->address || h->address[0] == '-') {
		strbuf_addf(err, "%s: entry for '%s' needs a string \"address\" (and string "
			    "user/key/known_hosts/proxy_jump, integer port)", inv->path, name);
		ssh_host_release(h);
		return -1;
	}
	return 0;
}

json_t *inventory_overrides(const struct inventory *inv)
{
	if (!inv || !inv->root)
		return NULL;
	json_t *o = json_object();
	json_t *p = json_object_get(inv->root, "proxmox");
	json_t *g = json_object_get(inv->root, "gitlab");
	if (p)
		json_object_set(o, "proxmox", p);
	if (g)
		json_object_set(o, "gitlab", g);
	return o;
}

void inventory_release(struct inventory *inv)
{
	json_decref(inv->root);
	free(inv->path);
	memset(inv, 0, sizeof(*inv));
}
