/* proxmox.vm_destroy: stops and destroys the VM of a node removed from the
 * cluster file (args schema in builtin.c). The plan marks the step
 * "destroys", so the runner runs it only under `apply --destroy`.
 *
 * The VM must still be the node's: a vmid that now holds a VM of another
 * name is refused with nothing sent but reads, and an absent VM is already
 * gone (success), so a second run changes nothing. */
#include "pve_client.h"
#include "proxmox.h"

#include <string.h>

#include "builtin.h"

/* Looks vmid up in the cluster's VM list: 1 found (its name and node set),
 * 0 absent, -1 with err set. */
static int vm_find(struct pve *p, long vmid, struct strbuf *name, struct strbuf *node,
		   struct strbuf *err)
{
	json_t *list = NULL, *e;
	size_t i;
	if (pve_call(p, "GET", "/cluster/resources?type=vm", NULL, NULL, 0, &list, err))
		return -1;
	int found = 0;
	json_array_foreach(list, i, e) {
		json_t *id = json_object_get(e, "vmid");
		if (!json_is_integer(id) || json_integer_value(id) != vmid)
			continue;
		const char *nm = builtin_str_arg(e, "name"), *nd = builtin_str_arg(e, "node");
		strbuf_addstr(name, nm ? nm : "");
		strbuf_addstr(node, nd && pve_plain_id(nd) ? nd : p->node);
		found = 1;
		break;
	}
	json_decref(list);
	return found;
}

/* One call that answers a task id, then the wait for that task. */
static int vm_task(struct pve *p, const char *method, const char *path, const char *what,
		   struct strbuf *err)
{
	json_t *data = NULL;
	int rc = -1;
	if (pve_call(p, method, path, NULL, NULL, 0, &data, err))
		goto out;
	if (!json_is_string(data)) {
		strbuf_addf(err, "%s: the answer is not a task id", what);
		goto out;
	}
	strbuf_addf(p->log, "%s: %s\n", what, json_string_value(data));
	rc = pve_task_wait(p, json_string_value(data), what, p->task_timeout_s, err);
out:
	json_decref(data);
	return rc;
}

int proxmox_vm_destroy(const json_t *args, const json_t *values, const json_t *overrides,
		       json_t *outputs, struct strbuf *log)
{
	(void)outputs;
	struct pve p;
	struct strbuf err = STRBUF_INIT, name = STRBUF_INIT, node = STRBUF_INIT, path = STRBUF_INIT,
		      what = STRBUF_INIT, st = STRBUF_INIT;
	int rc = 1;
	json_t *vm = json_object_get(args, "vm"), *id = json_object_get(vm, "vmid");
	const char *want = builtin_str_arg(vm, "name");
	long vmid = json_is_integer(id) ? (long)json_integer_value(id) : 0;

	pve_init(&p, log);
	int bad = 0;
	if (!want || !pve_plain_id(want) || vmid < 100 || vmid > 999999999) {
		strbuf_addstr(&err, "args: \"vm\" must be {\"name\": NAME, \"vmid\": 100..999999999}\n");
		bad = 1;
	}
	bad |= pve_setup(&p, args, values, overrides, &err);
	if (bad || pve_login(&p, &err))
		goto out;
	int found = vm_find(&p, vmid, &name, &node, &err);
	if (found < 0)
		goto out;
	if (!found) {
		strbuf_addf(log, "VM %ld '%s' is already gone\n", vmid, want);
		rc = 0;
		goto out;
	}
	if (strcmp(name.buf, want)) {
		strbuf_addf(&err, "VM %ld on node %s is named '%s', not '%s': it is not the removed "
			    "node's VM, so it is left alone. Destroy it by hand if it should go, or "
			    "remove the node's record from model.json if its VM is already gone.",
			    vmid, node.buf, name.buf, want);
		goto out;
	}
	strbuf_addf(&path, "/nodes/%s/qemu/%ld/status/current", node.buf, vmid);
	json_t *cur = NULL;
	if (pve_call(&p, "GET", path.buf, NULL, NULL, 0, &cur, &err))
		goto out;
	const char *s = builtin_str_arg(cur, "status");
	strbuf_addstr(&st, s ? s : "unknown");
	json_decref(cur);
	if (strcmp(st.buf, "stopped")) {
		strbuf_reset(&path);
		strbuf_addf(&path, "/nodes/%s/qemu/%ld/status/stop", node.buf, vmid);
		strbuf_addf(&what, "stop VM %ld '%s'", vmid, want);
		if (vm_task(&p, "POST", path.buf, what.buf, &err))
			goto out;
	}
	strbuf_reset(&path);
	strbuf_reset(&what);
	strbuf_addf(&path, "/nodes/%s/qemu/%ld?purge=1&destroy-unreferenced-disks=1", node.buf, vmid);
	strbuf_addf(&what, "destroy VM %ld '%s'", vmid, want);
	if (vm_task(&p, "DELETE", path.buf, what.buf, &err))
		goto out;
	strbuf_addf(log, "destroyed VM %ld '%s' on node %s\n", vmid, want, node.buf);
	rc = 0;
out:
	strbuf_release(&name);
	strbuf_release(&node);
	strbuf_release(&path);
	strbuf_release(&what);
	strbuf_release(&st);
	return pve_finish(&p, rc, &err);
}
