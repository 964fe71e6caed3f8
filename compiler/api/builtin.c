/* builtin: dispatch of the runner's builtin steps (see builtin.h).
 *
 * THE ARGS SCHEMAS. The planner renders one JSON args file per builtin step;
 * these are the exact keys each builtin reads. Secret and input *names* appear
 * in args; their values arrive in `values` (a trailing newline is dropped).
 * Unknown keys are ignored.
 *
 * Shared by every builtin:
 *   "verify_tls": true            optional, default true; false is the explicit
 *                                 opt-in to skip TLS verification
 *   "ca_file": "/path/ca.pem"     optional extra CA (Proxmox:
 *                                 /etc/pve/pve-root-ca.pem copied locally)
 *   "fingerprint": "sha256:AB:.." optional: trust exactly the server certificate
 *                                 with this sha256 (`pvenode cert info`);
 *                                 not with ca_file or verify_tls false
 *   "client": {                   optional tuning, all positive integers:
 *     "timeout_s": 60, "connect_timeout_s": 10,       per HTTP request
 *     "attempts": 4,                                   tries in all
 *     "backoff_ms": 1000, "backoff_max_ms": 16000,     retry pauses (doubling)
 *     "poll_ms": 1000, "task_timeout_s": 900,          Proxmox task polling
 *     "ticket_renew_s": 3600 }                         renew a login ticket this old
 *                                                      (Proxmox tickets last 2 hours)
 * Endpoints must be https://; plain http:// is refused unless the host is a
 * loopback address (lab mocks).
 *
 * proxmox.vm
 *   { "proxmox": "pve",                      name of the proxmox block (overrides key)
 *     "endpoint": "https://10.0.0.2:8006",   /api2/json is appended
 *     "node": "pve",
 *     "auth": { "user": "root@pam", "password_secret": "PROXMOX_PASSWORD" }
 *          or { "token_id": "root@pam!clusterc", "token_secret": "PROXMOX_TOKEN" },
 *     "verify_tls": true, "ca_file": null,
 *     "vm": { "name": "k8s-node-1", "vmid": 101, "cores": 4, "memory_mib": 16384,
 *             "disk_gib": 250, "storage": "local-lvm", "bridge": "vmbr0",
 *             "iso_volid": "local:iso/ubuntu-24.04.3-autoinstall.iso",
 *             "cidata_volid": "local:iso/clusterc-homelab-k8s-node-1-cidata.iso" | null,
 *             "cidata_file": "infra/media/clusterc-homelab-k8s-node-1-cidata.iso",  optional:
 *                            the volid's file name gets this file's content hash, as
 *                            proxmox.iso's content_addressed names it (read only to create)
 *             "machine": null, "bios": null, "cpu": "host",
 *             "gpu": null | { "pci": "0000:01:00" } | { "mapping": "gtx1060" },
 *             "onboot": true } }
 *   Required in vm: name, vmid, storage, bridge, iso_volid. Defaults: cores 2,
 *   memory_mib 4096, disk_gib 32, cpu host, onboot true; with a gpu, machine
 *   defaults to q35 (anything not q35 is refused) and bios to ovmf (an
 *   explicit "seabios" is kept); bios ovmf adds efidisk0. Raw gpu.pci needs
 *   ticket auth as root@pam and is refused before any request otherwise.
 *   If VMID exists with the same name: "exists", started if stopped, success.
 *   Same VMID with another name, or the same name under another VMID: failure.
 *   Sent: cpu, scsihw=virtio-scsi-pci, scsi0=STORAGE:GiB, net0=virtio,bridge=BR,
 *   ide2=ISO,media=cdrom, ide3=CIDATA,media=cdrom (when cidata_volid is set),
 *   boot=order=scsi0;ide2, agent=1, ostype=l26, balloon=0, sockets=1, onboot;
 *   GPU: hostpci0=PCI,pcie=1,x-vga=0 or hostpci0=mapping=ID,pcie=1.
 *   No outputs (the runner accepts only declared ones; a host created in
 *   this run is known from the step having run).
 *
 * proxmox.iso
 *   { "proxmox": "pve", "endpoint": ..., "node": "pve", "auth": {...},
 *     "verify_tls": ..., "ca_file": ...,
 *     "iso_storage": "local",
 *     "file": "infra/media/NAME.iso",   relative to the working directory, which
 *                    the runner must set to out/<cluster>/ for builtins as for
 *                    local steps; or absolute. Read only when an upload is needed
 *     "name": "ubuntu-24.04.3-autoinstall.iso",       [A-Za-z0-9_.-]+ ending in .iso
 *     "sha256": "64 hex digits",                      optional; Proxmox verifies it
 *     "content_addressed": false }   optional; true: the stored name is NAME with "-" and
 *                    the first 16 hex digits of the file's sha256 before ".iso"
 *                    (x.iso -> x-0123456789abcdef.iso), so a stored copy is current
 *                    exactly when that name exists (the cidata seeds use it)
 *   Present when any volid on that storage ends in "iso/<name>": no upload,
 *   unless the local file exists and its size differs from the stored one
 *   (then it is uploaded again; Proxmox replaces the file). Proxmox offers no
 *   checksum of stored files, so a name that carries a content hash is the
 *   sure way to replace a changed ISO of the same size.
 *   No outputs.
 *
 * proxmox.hostkey
 *   { "proxmox": "pve", "endpoint": ..., "node": "pve", "auth": {...},
 *     "verify_tls": ..., "ca_file": ..., "fingerprint": ...,
 *     "vm": { "name": "k8s-node-1", "vmid": 181 },
 *     "marker": "/var/lib/clusterc/installed",  written by the installed system's
 *                    first boot (cloud-init runcmd), holding the node name
 *     "key_file": "/etc/ssh/ssh_host_ed25519_key.pub",
 *     "install_timeout_s": 2700, "poll_s": 10 }
 *   Waits (one GET status/current, POST agent/ping, GET agent/file-read of
 *   the marker per poll) until the installed system is up, reporting each
 *   stage once, then reads key_file. Fails at once on 401/403/a VM that does
 *   not exist or a marker naming another node; at the deadline with the stage
 *   reached and where to watch the console. Needs VM.Monitor on /vms/VMID
 *   (Proxmox's permission for the agent endpoints).
 *   Output: "host_key" = "TYPE BASE64", checked to be an OpenSSH key; the
 *   runner pins it as the known host key of the step's host.
 *
 * proxmox.vm_destroy
 *   { "proxmox": "pve", "endpoint": ..., "node": "pve", "auth": {...},
 *     "verify_tls": ..., "ca_file": ..., "fingerprint": ...,
 *     "vm": { "name": "k8s-node-3", "vmid": 183 } }
 *   The VM of a node removed from the file (its record carried forward in
 *   model.json); the plan marks the step "destroys", so it runs only under
 *   `apply --destroy`. Finds vmid in GET /cluster/resources?type=vm (the VM
 *   may have migrated to another node); absent is success (already gone); a
 *   VM of another name is refused with only reads sent. Otherwise stops it
 *   when not stopped, then DELETE with purge=1&destroy-unreferenced-disks=1
 *   (out of backup jobs and HA, its disks gone), each task waited for.
 *   Needs VM.PowerMgmt and VM.Allocate on /vms/VMID. No outputs.
 *
 * gitlab.deploy_key
 *   { "api": "https://gitlab.example.com/api/v4",
 *     "project_path": "group/sub/project",     a trailing .git is dropped; '/' is sent as %2F
 *     "title": "clusterc homelab argocd",
 *     "token_secret": "GITLAB_TOKEN",          needs scope api, role Maintainer
 *     "key_input": "argocd_deploy_pubkey",     the public key, from an earlier step
 *     "can_push": false,
 *     "verify_tls": true, "ca_file": null }
 *   Already registered when a listed key's "type base64" equals ours. No outputs.
 *
 * OVERRIDES (`overrides`, from the inventory): an object with optional
 *   "proxmox": { "<args.proxmox>": { "endpoint": URL, "verify_tls"?, "ca_file"?, "fingerprint"? } }
 *   "gitlab":  { "api": URL, "verify_tls"?, "ca_file"?, "fingerprint"? }
 * (the runner may pass the whole inventory; "hosts" is ignored). A present
 * entry replaces the args' endpoint/api, and its TLS options replace
 * the args' ones (the cluster file's CA belongs to the real server; absent
 * means the defaults: verify on, system CAs). "client" tuning stays from
 * args. When the inventory has a "proxmox" section without an entry for
 * args.proxmox, or a "gitlab" section without "api", the builtin fails rather
 * than contact the address in the cluster file: an inventory means "this is
 * a lab", as for hosts. */
#include "builtin.h"

#include <string.h>

#include "gitlab.h"
#include "proxmox.h"

typedef int (*builtin_fn)(const json_t *args, const json_t *values, const json_t *overrides,
			  json_t *outputs, struct strbuf *log);

static const struct {
	const char *name;
	builtin_fn fn;
} builtins[] = {
	{ "proxmox.vm", proxmox_vm },
	{ "proxmox.iso", proxmox_iso },
	{ "proxmox.hostkey", proxmox_hostkey },
	{ "proxmox.vm_destroy", proxmox_vm_destroy },
	{ "gitlab.deploy_key", gitlab_deploy_key },
};

int builtin_exists(const char *name)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (!strcmp(builtins[i].name, name))
			return 1;
	return 0;
}

int builtin_run(const char *name, const json_t *args, const json_t *values,
		const json_t *overrides, json_t *outputs, struct strbuf *log)
{
	json_t *empty = NULL;
	int rc = 1;
	if (!json_is_object(args)) {
		strbuf_addf(log, "error: %s: the args file is not a JSON object\n", name);
		return 1;
	}
	if (!values)
		values = empty = json_object();
	if (overrides && !json_is_object(overrides)) {
		strbuf_addf(log, "error: %s: the inventory overrides are not a JSON object\n", name);
		goto out;
	}
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		if (!strcmp(builtins[i].name, name)) {
			rc = builtins[i].fn(args, values, overrides, outputs, log);
			goto out;
		}
	}
	strbuf_addf(log, "error: unknown builtin '%s' (known: proxmox.vm, proxmox.iso, "
		    "proxmox.hostkey, proxmox.vm_destroy, gitlab.deploy_key)\n", name);
out:
	json_decref(empty);
	return rc;
}

void builtin_log_error(struct strbuf *log, const struct strbuf *err)
{
	const char *p = err->buf;
	while (*p) {
		size_t n = strcspn(p, "\n");
		if (*p != ' ')
			strbuf_addstr(log, "error: ");
		strbuf_add(log, p, n);
		strbuf_addch(log, '\n');
		p += n;
		if (*p)
			p++;
	}
}

const char *builtin_str_arg(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int builtin_value(const json_t *values, const char *name, const char *trim, struct strbuf *out)
{
	json_t *v = json_object_get(values, name);
	if (!json_is_string(v))
		return -1;
	strbuf_addstr(out, json_string_value(v));
	while (out->len && out->buf[out->len - 1] && strchr(trim, out->buf[out->len - 1]))
		strbuf_setlen(out, out->len - 1);
	return out->len ? 0 : -1;
}
