/* proxmox: the Proxmox VE API client behind the proxmox.vm and proxmox.iso
 * builtins (argument schemas at the top of builtin.c).
 *
 * Authentication is either a ticket (POST /access/ticket with user and
 * password; every later POST carries the CSRFPreventionToken header) or an
 * API token (Authorization: PVEAPIToken=USER@REALM!ID=SECRET, no CSRF). The
 * password, the ticket and the token secret live only in memory, are wiped on
 * release and never reach the log. */
#ifndef CLUSTERC_PROXMOX_H
#define CLUSTERC_PROXMOX_H

#include <jansson.h>

#include "strbuf.h"

/* The builtins; same contract as builtin_run. */
int proxmox_vm(const json_t *args, const json_t *values, const json_t *overrides,
	       json_t *outputs, struct strbuf *log);
int proxmox_iso(const json_t *args, const json_t *values, const json_t *overrides,
		json_t *outputs, struct strbuf *log);

/* 1 when a stopped task's exitstatus means success: "OK" or "WARNINGS: n". */
int proxmox_task_ok(const char *exitstatus);
/* The node field of a UPID ("UPID:node:..."), appended to out; returns 0, or
 * -1 when upid is not a UPID. */
int proxmox_upid_node(const char *upid, struct strbuf *out);

#endif
