/* proxmox.hostkey: learns a new VM's SSH host key before the first SSH
 * connection, through the Proxmox guest agent over the authenticated (and
 * fingerprint- or CA-verified) API, so the runner never trusts a key on first
 * use (args schema in builtin.c).
 *
 * It waits, up to the install deadline, for the installed system rather than
 * the installer: the marker file names the node and is written by the
 * installed system's cloud-init `runcmd` at first boot, which runs in
 * cloud-init's final stage, after its ssh module has (re)generated the host
 * keys. The live installer has no such file (the target is under /target
 * there), so a key read from it is never mistaken for the node's. */
#include "pve_client.h"
#include "proxmox.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "builtin.h"
#include "sha256.h"
#include "sshkey.h"
#include "xalloc.h"

struct hostkey_args {
	const char *name;
	long vmid;
	const char *marker;
	const char *key_file;
	long install_timeout_s;
	long poll_s;
};

static int parse_args(const json_t *args, struct hostkey_args *a, struct strbuf *err)
{
	json_t *vm = json_object_get(args, "vm");
	json_t *id = json_object_get(vm, "vmid");
	a->name = builtin_str_arg(vm, "name");
	a->vmid = json_is_integer(id) ? (long)json_integer_value(id) : 0;
	a->marker = builtin_str_arg(args, "marker");
	a->key_file = builtin_str_arg(args, "key_file");
	json_t *t = json_object_get(args, "install_timeout_s"), *ps = json_object_get(args, "poll_s");
	a->install_timeout_s = json_is_integer(t) ? (long)json_integer_value(t) : 2700;
	a->poll_s = json_is_integer(ps) ? (long)json_integer_value(ps) : 10;
	int bad = 0;
	if (!a->name || !pve_plain_id(a->name) || a->vmid < 100 || a->vmid > 999999999) {
		strbuf_addstr(err, "args: \"vm\" must be {\"name\": NAME, \"vmid\": 100..999999999}\n");
		bad = 1;
	}
	if (!a->marker || a->marker[0] != '/' || !a->key_file || a->key_file[0] != '/') {
		strbuf_addstr(err, "args: \"marker\" and \"key_file\" must be absolute paths in the guest\n");
		bad = 1;
	}
	if (a->install_timeout_s < 1 || a->install_timeout_s > 86400 || a->poll_s < 1 || a->poll_s > 600) {
		strbuf_addstr(err, "args: \"install_timeout_s\" must be 1..86400 and \"poll_s\" 1..600\n");
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* GET agent/file-read; returns 0 with the content, -1 (err set) otherwise. */
static int agent_read(struct pve *p, long vmid, const char *file, struct strbuf *content,
		      struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "/nodes/%s/qemu/%ld/agent/file-read?file=", p->node, vmid);
	http_urlencode(&path, file);
	json_t *data = NULL;
	int rc = pve_call(p, "GET", path.buf, NULL, NULL, 0, &data, err);
	const char *c = rc ? NULL : builtin_str_arg(data, "content");
	if (!rc && !c) {
		strbuf_addf(err, "agent file-read %s: the answer has no content", file);
		rc = -1;
	}
	if (c) {
		strbuf_reset(content);
		strbuf_addstr(content, c);
	}
	json_decref(data);
	strbuf_release(&path);
	return rc;
}

/* The HTTP status of the last failed call, from its message ("HTTP 403"). */
static long failed_status(const struct strbuf *err)
{
	const char *h = strstr(err->buf, "HTTP ");
	return h ? strtol(h + 5, NULL, 10) : 0;
}

enum stage { VM_NOT_RUNNING, VM_RUNNING, AGENT_UP, INSTALLED };

static const char *const stage_words[] = {
	"the VM is not running", "the VM is running, the guest agent does not answer yet",
	"the guest agent answers, the installed system has not finished its first boot",
	"the installed system is up",
};

/* What probe returns for a failed call: -1 with its error passed on when
 * waiting cannot cure it, else 0 (look again later). */
static int incurable(bool fatal, const struct strbuf *e, struct strbuf *err)
{
	if (!fatal)
		return 0;
	strbuf_addstr(err, e->buf);
	return -1;
}

/* One look at the VM: how far it got. Returns -1 only for an error that
 * waiting cannot cure (credentials, permissions, a VM that is gone). */
static int probe(struct pve *p, const struct hostkey_args *a, enum stage *stage, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, e = STRBUF_INIT, marker = STRBUF_INIT;
	json_t *data = NULL;
	int rc = 0;
	*stage = VM_NOT_RUNNING;
	strbuf_addf(&path, "/nodes/%s/qemu/%ld/status/current", p->node, a->vmid);
	if (pve_call(p, "GET", path.buf, NULL, NULL, 0, &data, &e)) {
		long st = failed_status(&e);
		rc = incurable(st == 401 || st == 403 || st == 404 || (st == 500 && strstr(e.buf, "does not exist")),
			       &e, err);
		goto out;
	}
	const char *status = builtin_str_arg(data, "status");
	if (!status || strcmp(status, "running"))
		goto out;
	*stage = VM_RUNNING;
	strbuf_reset(&path);
	strbuf_addf(&path, "/nodes/%s/qemu/%ld/agent/ping", p->node, a->vmid);
	json_decref(data);
	data = NULL;
	strbuf_reset(&e);
	if (pve_call(p, "POST", path.buf, NULL, NULL, 0, &data, &e)) {
		rc = incurable(failed_status(&e) == 403, &e, err);
		goto out;
	}
	*stage = AGENT_UP;
	strbuf_reset(&e);
	if (agent_read(p, a->vmid, a->marker, &marker, &e)) {
		rc = incurable(failed_status(&e) == 403, &e, err);
		goto out;
	}
	strbuf_rtrim_newlines(&marker);
	if (!strcmp(marker.buf, a->name)) {
		*stage = INSTALLED;
	} else {
		strbuf_addf(err, "%s in VM %ld names '%.64s', not '%s': the VM holds another node's system; "
			    "check the vmid in the cluster file", a->marker, a->vmid, marker.buf, a->name);
		rc = -1;
	}
out:
	json_decref(data);
	strbuf_release(&path);
	strbuf_release(&e);
	strbuf_release(&marker);
	return rc;
}

int proxmox_hostkey(const json_t *args, const json_t *values, const json_t *overrides,
		    json_t *outputs, struct strbuf *log)
{
	struct pve p;
	struct hostkey_args a;
	struct strbuf err = STRBUF_INIT, content = STRBUF_INIT, key = STRBUF_INIT;
	int rc = 1;

	pve_init(&p, log);
	int bad = parse_args(args, &a, &err);
	bad |= pve_setup(&p, args, values, overrides, &err);
	if (bad || pve_login(&p, &err))
		goto out;
	/* Each look is one try: the wait itself is the retry, and a guest agent
	 * that is not up yet answers 500, which must not cost backoff pauses. */
	int attempts = p.http.attempts;
	p.http.attempts = 1;
	double start = now_mono();
	enum stage stage, told = (enum stage)-1;
	for (;;) {
		if (probe(&p, &a, &stage, &err))
			goto out;
		double waited = now_mono() - start;
		if (stage != told) {
			strbuf_addf(log, "VM %ld '%s' after %.0fs: %s\n", a.vmid, a.name, waited, stage_words[stage]);
			told = stage;
		}
		if (stage == INSTALLED)
			break;
		if (waited + (double)a.poll_s > (double)a.install_timeout_s) {
			strbuf_addf(&err, "VM %ld '%s' did not finish installing within %ld %s: %s.\n"
				    "  Watch its console (Proxmox web UI: node %s > VM %ld > Console, or `qm terminal "
				    "%ld` on the host); a slow mirror or a failed install shows there. The deadline "
				    "is the node's vm.install_timeout.", a.vmid, a.name,
				    a.install_timeout_s % 60 ? a.install_timeout_s : a.install_timeout_s / 60,
				    a.install_timeout_s % 60 ? "s" : "min", stage_words[stage], p.node, a.vmid, a.vmid);
			goto out;
		}
		pve_sleep_ms(a.poll_s * 1000);
	}
	p.http.attempts = attempts;
	if (agent_read(&p, a.vmid, a.key_file, &content, &err))
		goto out;
	if (ssh_host_key_parse(content.buf, &key)) {
		strbuf_addf(&err, "%s in VM %ld is not an OpenSSH public key", a.key_file, a.vmid);
		goto out;
	}
	/* The runner pins it for this step's host (the VM's node). */
	json_object_set_new(outputs, "host_key", json_string(key.buf));
	/* The fingerprint as ssh-keygen -l prints it, to compare on the console. */
	struct strbuf blob = STRBUF_INIT, fp = STRBUF_INIT;
	const char *b64 = strchr(key.buf, ' ') + 1;
	base64_decode(&blob, b64, strlen(b64));
	unsigned char digest[SHA256_DIGEST_LEN];
	struct sha256 sh;
	sha256_init(&sh);
	sha256_update(&sh, blob.buf, blob.len);
	sha256_final(&sh, digest);
	base64_encode(&fp, digest, sizeof(digest));
	while (fp.len && fp.buf[fp.len - 1] == '=')
		strbuf_setlen(&fp, fp.len - 1);
	strbuf_addf(log, "host key of %s read through the guest agent: %.*s SHA256:%s\n", a.name,
		    (int)(b64 - 1 - key.buf), key.buf, fp.buf);
	strbuf_release(&blob);
	strbuf_release(&fp);
	rc = 0;
out:
	strbuf_release(&content);
	strbuf_release(&key);
	return pve_finish(&p, rc, &err);
}
