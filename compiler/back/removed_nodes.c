/* removed_nodes: the nodes the previous build of this cluster had and the
 * file no longer names. The previous OUTDIR/<cluster>/model.json is the only
 * record of them; from it only a node's name, role, address and VM id are
 * taken, each checked, so a hand-edited or foreign model.json cannot put
 * anything else into the plan. */
#include "removed_nodes.h"
#include "net.h"
#include "sort.h"
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

/* An RFC 1123 label, the form every node name has. */
static bool node_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool ip_ok(const char *s)
{
	uint32_t a;
	return s && ipv4_parse(s, strlen(s), &a) == NET_OK;
}

/* One checked record {name, role, ip, vm: {proxmox, vmid} | null}, or NULL.
 * Reads both a node of "nodes" (vm: {on, id}) and an earlier record of
 * "removed_nodes" (vm: {proxmox, vmid}). */
static json_t *record_of(const json_t *n)
{
	const char *name = json_string_value(json_object_get(n, "name"));
	const char *role = json_string_value(json_object_get(n, "role"));
	const char *ip = json_string_value(json_object_get(n, "ip"));
	if (!node_name_ok(name) || !role || (strcmp(role, "control") && strcmp(role, "worker")) ||
	    (ip && !ip_ok(ip)))
		return NULL;
	const json_t *vm = json_object_get(n, "vm");
	json_t *rvm = json_null();
	if (json_is_object(vm)) {
		const json_t *px = json_object_get(vm, "proxmox");
		const json_t *id = json_object_get(vm, "vmid");
		if (!px)
			px = json_object_get(vm, "on");
		if (!id)
			id = json_object_get(vm, "id");
		const char *pxs = json_string_value(px);
		if (!node_name_ok(pxs) || !json_is_integer(id) || json_integer_value(id) < 100 ||
		    json_integer_value(id) > 999999999)
			return NULL;
		rvm = json_pack("{s:s,s:I}", "proxmox", pxs, "vmid", json_integer_value(id));
	} else if (vm && !json_is_null(vm)) {
		return NULL;
	}
	return json_pack("{s:s,s:s,s:o,s:o}", "name", name, "role", role, "ip",
			 ip ? json_string(ip) : json_null(), "vm", rvm);
}

bool removed_named_in(const json_t *list, const char *name)
{
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(json_object_get(v, "name"));
		if (s && !strcmp(s, name))
			return true;
	}
	return false;
}

static bool proxmox_known(const json_t *model, const char *px)
{
	return removed_named_in(json_object_get(model, "proxmox"), px);
}

/* Adds the records of prev[key] that the file no longer names; false when
 * one is malformed. */
static bool collect(json_t *model, const json_t *prev, const char *key, json_t *found)
{
	const json_t *list = json_object_get(prev, key);
	if (!list)
		return true;
	if (!json_is_array(list))
		return false;
	const json_t *nodes = json_object_get(model, "nodes");
	size_t i;
	const json_t *n;
	json_array_foreach(list, i, n) {
		json_t *r = record_of(n);
		if (!r)
			return false;
		const char *name = json_string_value(json_object_get(r, "name"));
		if (removed_named_in(nodes, name) || json_object_get(found, name))
			json_decref(r);
		else
			json_object_set_new(found, name, r);
	}
	return true;
}

void removed_nodes_add(json_t *model, const json_t *prev, const char *outdir, struct diag *d)
{
	const char *cluster = json_string_value(json_object_get(json_object_get(model, "cluster"), "name"));
	if (!prev)
		return;
	json_t *found = json_object();
	if (!collect(model, prev, "nodes", found) || !collect(model, prev, "removed_nodes", found)) {
		diag_warning(d, LOC_NONE, "C0613", "%s/%s/model.json: the previous build's model has a malformed "
			     "node entry; nodes removed from the file since are not planned for removal",
			     outdir, cluster);
		json_object_clear(found);
	}
	if (json_object_size(found)) {
		json_t *arr = json_array();
		/* json_object_foreach order is insertion order: sort by name. */
		size_t n = json_object_size(found), k = 0;
		const char **names = calloc(n, sizeof(*names));
		const char *key;
		json_t *v;
		json_object_foreach(found, key, v)
			names[k++] = key;
		qsort(names, n, sizeof(*names), cmp_str_ptr);
		for (k = 0; k < n; k++) {
			json_t *r = json_object_get(found, names[k]);
			const char *px = json_string_value(json_object_get(json_object_get(r, "vm"), "proxmox"));
			if (px && !proxmox_known(model, px)) {
				diag_warning(d, LOC_NONE, "C0614", "removed node '%s': its VM %lld is on Proxmox '%s', "
					     "which the file no longer names; clusterc cannot destroy it",
					     names[k], (long long)json_integer_value(json_object_get(
							 json_object_get(r, "vm"), "vmid")), px);
				json_object_set_new(r, "vm", json_null());
			}
			json_array_append(arr, r);
		}
		free(names);
		json_object_set_new(model, "removed_nodes", arr);
	}
	json_decref(found);
}
