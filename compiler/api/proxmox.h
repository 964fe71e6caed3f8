/* proxmox: the proxmox.* builtins (argument schemas at the top of
 * builtin.c): proxmox_vm.c, proxmox_iso.c, proxmox_hostkey.c, over the API
 * session in pve_client.c. */
#ifndef CLUSTERC_PROXMOX_H
#define CLUSTERC_PROXMOX_H

#include <jansson.h>

#include "strbuf.h"

/* The builtins; same contract as builtin_run. */
int proxmox_vm(const json_t *args, const json_t *values, const json_t *overrides,
	       json_t *outputs, struct strbuf *log);
int proxmox_iso(const json_t *args, const json_t *values, const json_t *overrides,
		json_t *outputs, struct strbuf *log);
int proxmox_hostkey(const json_t *args, const json_t *values, const json_t *overrides,
		    json_t *outputs, struct strbuf *log);
int proxmox_vm_destroy(const json_t *args, const json_t *values, const json_t *overrides,
		       json_t *outputs, struct strbuf *log);

/* 1 when a stopped task's exitstatus means success: "OK" or "WARNINGS: n". */
int proxmox_task_ok(const char *exitstatus);
/* The node field of a UPID ("UPID:node:..."), appended to out; returns 0, or
 * -1 when upid is not a UPID. */
int proxmox_upid_node(const char *upid, struct strbuf *out);

#endif
