/* proxmox.vm: creates and starts a VM, or checks an existing one against the
 * file (args schema in builtin.c). */
#include "pve_client.h"
#include "proxmox.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin.h"
#include "xalloc.h"

struct vm_spec {
	const char *name, *storage, *bridge, *iso, *cidata, *cidata_file, *machine, *bios, *cpu, *pci, *mapping;
	long vmid, cores, memory, disk;
	int onboot;
};

/* vm[key], or NULL when it is absent or null (an error when required). */
static const json_t *given_field(const json_t *vm, const char *key, int required, struct strbuf *err)
{
	const json_t *v = json_object_get(vm, key);
	if (v && !json_is_null(v))
		return v;
	if (required)
		strbuf_addf(err, "args: vm.%s is required\n", key);
	return NULL;
}

static long int_field(const json_t *vm, const char *key, long min, long max, int required,
		      long dflt, struct strbuf *err)
{
	const json_t *v = given_field(vm, key, required, err);
	if (!v)
		return dflt;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		strbuf_addf(err, "args: vm.%s must be an integer from %ld to %ld\n", key, min, max);
		return dflt;
	}
	return (long)json_integer_value(v);
}

static const char *id_field(const json_t *vm, const char *key, int required, struct strbuf *err)
{
	const json_t *v = given_field(vm, key, required, err);
	if (!v)
		return NULL;
	if (!json_is_string(v) || !pve_plain_id(json_string_value(v))) {
		strbuf_addf(err, "args: vm.%s must be a plain name (letters, digits, '-', '_', '.')\n", key);
		return NULL;
	}
	return json_string_value(v);
}

/* [DOMAIN:]BUS:DEV[.FN], hex: a host PCI address as hostpci accepts it. */
static int pci_address(const char *s)
{
	int colons = 0;
	for (const char *c = s; *c; c++) {
		if (*c == ':')
			colons++;
		else if (*c != '.' && !isxdigit((unsigned char)*c))
			return 0;
	}
	return *s && (colons == 1 || colons == 2);
}

static int vm_parse(const json_t *args, struct vm_spec *v, struct strbuf *err)
{
	size_t before = err->len;
	json_t *vm = json_object_get(args, "vm");
	memset(v, 0, sizeof(*v));
	if (!json_is_object(vm)) {
		strbuf_addstr(err, "args: \"vm\" must be an object\n");
		return -1;
	}
	v->name = id_field(vm, "name", 1, err);
	v->vmid = int_field(vm, "vmid", 100, 999999999, 1, 0, err);
	v->cores = int_field(vm, "cores", 1, 512, 0, 2, err);
	v->memory = int_field(vm, "memory_mib", 16, 16L * 1024 * 1024, 0, 4096, err);
	v->disk = int_field(vm, "disk_gib", 1, 1024L * 1024, 0, 32, err);
	v->storage = id_field(vm, "storage", 1, err);
	v->bridge = id_field(vm, "bridge", 1, err);
	v->machine = id_field(vm, "machine", 0, err);
	v->bios = id_field(vm, "bios", 0, err);
	v->cpu = id_field(vm, "cpu", 0, err);
	if (!v->cpu)
		v->cpu = "host";
	v->iso = builtin_str_arg(vm, "iso_volid");
	if (!v->iso || !strstr(v->iso, ":iso/") || strchr(v->iso, ',') || strchr(v->iso, '=')) {
		strbuf_addstr(err, "args: vm.iso_volid must be a volume id like local:iso/NAME.iso\n");
		v->iso = NULL;
	}
	json_t *cd = json_object_get(vm, "cidata_volid");
	if (cd && !json_is_null(cd)) {
		v->cidata = json_string_value(cd);
		if (!v->cidata || !strstr(v->cidata, ":iso/") || strchr(v->cidata, ',') ||
		    strchr(v->cidata, '=')) {
			strbuf_addstr(err, "args: vm.cidata_volid must be null or a volume id like "
				    "local:iso/NAME-cidata.iso\n");
			v->cidata = NULL;
		}
		/* cidata_file: the local seed ISO; the volid's file name then gets its
		 * content hash, as proxmox.iso with content_addressed uploads it. */
		v->cidata_file = builtin_str_arg(vm, "cidata_file");
	}
	json_t *ob = json_object_get(vm, "onboot");
	v->onboot = 1;
	if (ob && !json_is_null(ob)) {
		if (!json_is_boolean(ob))
			strbuf_addstr(err, "args: vm.onboot must be true or false\n");
		v->onboot = json_is_true(ob);
	}
	if (v->bios && strcmp(v->bios, "seabios") && strcmp(v->bios, "ovmf"))
		strbuf_addstr(err, "args: vm.bios must be \"seabios\" or \"ovmf\"\n");
	json_t *gpu = json_object_get(vm, "gpu");
	if (gpu && !json_is_null(gpu)) {
		v->pci = builtin_str_arg(gpu, "pci");
		v->mapping = builtin_str_arg(gpu, "mapping");
		if (!json_is_object(gpu) || (!!v->pci + !!v->mapping) != 1)
			strbuf_addstr(err, "args: vm.gpu must be null, {\"pci\": \"0000:01:00\"} or "
				    "{\"mapping\": \"ID\"}\n");
		else if (v->pci && !pci_address(v->pci))
			strbuf_addf(err, "args: vm.gpu.pci '%s' is not a PCI address like 0000:01:00\n", v->pci);
		else if (v->mapping && !pve_plain_id(v->mapping))
			strbuf_addstr(err, "args: vm.gpu.mapping must be a PCI resource mapping id\n");
		if (!v->machine)
			v->machine = "q35";
		else if (!strstr(v->machine, "q35"))
			strbuf_addf(err, "args: vm.machine '%s' cannot take a PCIe GPU; use q35\n", v->machine);
		if (!v->bios)
			v->bios = "ovmf";
	}
	return err->len > before ? -1 : 0;
}

static void vm_form(const struct vm_spec *v, struct strbuf *f)
{
	struct strbuf t = STRBUF_INIT;
#define ADDF(key, ...) do { strbuf_reset(&t); strbuf_addf(&t, __VA_ARGS__); http_form_add(f, key, t.buf); } while (0)
	ADDF("vmid", "%ld", v->vmid);
	http_form_add(f, "name", v->name);
	ADDF("cores", "%ld", v->cores);
	http_form_add(f, "sockets", "1");
	ADDF("memory", "%ld", v->memory);
	http_form_add(f, "balloon", "0");
	http_form_add(f, "cpu", v->cpu);
	http_form_add(f, "ostype", "l26");
	http_form_add(f, "scsihw", "virtio-scsi-pci");
	ADDF("scsi0", "%s:%ld", v->storage, v->disk);
	ADDF("net0", "virtio,bridge=%s", v->bridge);
	ADDF("ide2", "%s,media=cdrom", v->iso);
	/* The NoCloud seed (volume label CIDATA) as a second CD-ROM; not bootable. */
	if (v->cidata)
		ADDF("ide3", "%s,media=cdrom", v->cidata);
	http_form_add(f, "boot", "order=scsi0;ide2");
	http_form_add(f, "agent", "1");
	http_form_add(f, "onboot", v->onboot ? "1" : "0");
	if (v->machine)
		http_form_add(f, "machine", v->machine);
	if (v->bios) {
		http_form_add(f, "bios", v->bios);
		if (!strcmp(v->bios, "ovmf"))
			ADDF("efidisk0", "%s:1,efitype=4m,pre-enrolled-keys=0", v->storage);
	}
	if (v->pci) {
		/* Proxmox matches the address against lower-case hex only (qemu-server
		 * PCI.pm, $PCIRE); the cluster file may spell it in upper case. */
		strbuf_reset(&t);
		for (const char *c = v->pci; *c; c++)
			strbuf_addch(&t, tolower((unsigned char)*c));
		strbuf_addstr(&t, ",pcie=1,x-vga=0");
		http_form_add(f, "hostpci0", t.buf);
	} else if (v->mapping)
		ADDF("hostpci0", "mapping=%s,pcie=1", v->mapping);
#undef ADDF
	strbuf_release(&t);
}

static int vm_start(struct pve *p, const char *node, long vmid, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, what = STRBUF_INIT;
	json_t *data = NULL;
	int rc = -1;
	strbuf_addf(&path, "/nodes/%s/qemu/%ld/status/start", node, vmid);
	strbuf_addf(&what, "start VM %ld", vmid);
	if (pve_call(p, "POST", path.buf, NULL, NULL, 0, &data, err))
		goto out;
	if (!json_is_string(data)) {
		strbuf_addf(err, "%s: the answer is not a task id", what.buf);
		goto out;
	}
	strbuf_addf(p->log, "starting VM %ld: %s\n", vmid, json_string_value(data));
	rc = pve_task_wait(p, json_string_value(data), what.buf, 300, err);
out:
	json_decref(data);
	strbuf_release(&path);
	strbuf_release(&what);
	return rc;
}

/* Waits until VM vmid on node carries no lock (a create task may still hold
 * it), then puts its status ("running", "stopped") in status. */
static int vm_wait_unlocked(struct pve *p, const char *node, long vmid, struct strbuf *status,
			    struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	double start = now_mono();
	int rc = -1, told = 0;
	strbuf_addf(&path, "/nodes/%s/qemu/%ld/status/current", node, vmid);
	for (;;) {
		json_t *data = NULL;
		if (pve_call(p, "GET", path.buf, NULL, NULL, 0, &data, err))
			break;
		const char *lock = builtin_str_arg(data, "lock"), *st = builtin_str_arg(data, "status");
		if (!lock || !*lock) {
			strbuf_reset(status);
			strbuf_addstr(status, st ? st : "unknown");
			json_decref(data);
			rc = 0;
			break;
		}
		if (!told++)
			strbuf_addf(p->log, "VM %ld is locked (%s); waiting for the lock to clear\n", vmid, lock);
		json_decref(data);
		if (now_mono() - start > (double)p->task_timeout_s) {
			strbuf_addf(err, "VM %ld is still locked after %lds; check its tasks on node %s",
				    vmid, p->task_timeout_s, node);
			break;
		}
		pve_sleep_ms(p->poll_ms);
	}
	strbuf_release(&path);
	return rc;
}

/* After a create request failed: did an earlier attempt create the VM
 * anyway (a lost answer followed by a retry)? */
static int vm_appeared(struct pve *p, const struct vm_spec *v)
{
	struct strbuf e2 = STRBUF_INIT;
	json_t *list = NULL, *e;
	size_t i;
	int found = 0;
	if (!pve_call(p, "GET", "/cluster/resources?type=vm", NULL, NULL, 0, &list, &e2)) {
		json_array_foreach(list, i, e) {
			json_t *id = json_object_get(e, "vmid");
			const char *nm = builtin_str_arg(e, "name");
			if (json_is_integer(id) && json_integer_value(id) == v->vmid && nm &&
			    !strcmp(nm, v->name))
				found = 1;
		}
	}
	json_decref(list);
	strbuf_release(&e2);
	return found;
}

/* ---- an existing VM against the file: reported field by field, never changed */

/* A config value as text (Proxmox answers some numbers as strings). */
static void cfg_text(const json_t *cfg, const char *key, const char *dflt, struct strbuf *out)
{
	json_t *v = json_object_get(cfg, key);
	strbuf_reset(out);
	if (json_is_string(v))
		strbuf_addstr(out, json_string_value(v));
	else if (json_is_integer(v))
		strbuf_addf(out, "%lld", (long long)json_integer_value(v));
	else if (dflt)
		strbuf_addstr(out, dflt);
}

/* In a property string "a,k=v,k2=v2": the value of key, or with key NULL the
 * first element without its "name=" (e.g. "file=" or "cputype="). */
static void prop(const char *s, const char *key, const char *first_name, struct strbuf *out)
{
	strbuf_reset(out);
	size_t klen = key ? strlen(key) : 0;
	for (const char *e = s; e && *e;) {
		size_t n = strcspn(e, ",");
		if (!key) {
			size_t fl = first_name ? strlen(first_name) : 0;
			if (fl && n > fl && !strncmp(e, first_name, fl) && e[fl] == '=')
				e += fl + 1, n -= fl + 1;
			strbuf_add(out, e, n);
			return;
		}
		if (n > klen && !strncmp(e, key, klen) && e[klen] == '=') {
			strbuf_add(out, e + klen + 1, n - klen - 1);
			return;
		}
		e += n;
		if (*e == ',')
			e++;
	}
}

/* "50G", "51200M", "1T": a disk size as Proxmox prints it, in GiB (-1 if unknown). */
static double size_gib(const char *s)
{
	char *end;
	errno = 0;
	double n = strtod(s, &end);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'T': return n * 1024;
	case 'G': return n;
	case 'M': return n / 1024;
	case 'K': return n / (1024.0 * 1024);
	case '\0': return n / (1024.0 * 1024 * 1024);
	default: return -1;
	}
}

static void drift(struct strbuf *r, const char *field, const char *have, const char *want,
		  const char *fix)
{
	strbuf_addf(r, "  %-8s the VM has %s, the cluster file says %s", field, *have ? have : "(unset)", want);
	if (fix)
		strbuf_addf(r, "  (fix on the Proxmox host: %s)", fix);
	strbuf_addch(r, '\n');
}

/* Compares what vm_form would create with the VM's config (GET
 * /nodes/{node}/qemu/{vmid}/config; defaults from the qm.conf(5) schema when a
 * key is absent). The ISOs are not compared: they matter only for an install. */
static void vm_drift(const struct vm_spec *v, const json_t *cfg, struct strbuf *r)
{
	struct strbuf have = STRBUF_INIT, want = STRBUF_INIT, x = STRBUF_INIT, fix = STRBUF_INIT;
#define FIX(...) (strbuf_reset(&fix), strbuf_addf(&fix, __VA_ARGS__), fix.buf)
	cfg_text(cfg, "cores", "1", &have);
	strbuf_addf(&want, "%ld", v->cores);
	if (strcmp(have.buf, want.buf))
		drift(r, "cores", have.buf, want.buf, FIX("qm set %ld --cores %ld", v->vmid, v->cores));
	cfg_text(cfg, "sockets", "1", &have);
	if (strcmp(have.buf, "1"))
		drift(r, "sockets", have.buf, "1", FIX("qm set %ld --sockets 1", v->vmid));
	cfg_text(cfg, "memory", "512", &x);
	prop(x.buf, strstr(x.buf, "current=") ? "current" : NULL, NULL, &have);
	strbuf_reset(&want);
	strbuf_addf(&want, "%ld", v->memory);
	if (strcmp(have.buf, want.buf))
		drift(r, "memory", have.buf, want.buf, FIX("qm set %ld --memory %ld", v->vmid, v->memory));
	cfg_text(cfg, "cpu", "kvm64", &x);
	prop(x.buf, NULL, "cputype", &have);
	if (strcmp(have.buf, v->cpu))
		drift(r, "cpu", have.buf, v->cpu, FIX("qm set %ld --cpu %s", v->vmid, v->cpu));
	if (v->machine) {
		cfg_text(cfg, "machine", "pc", &have);
		strbuf_reset(&want);
		strbuf_addf(&want, "pc-%s-", v->machine);
		if (strcmp(have.buf, v->machine) && strncmp(have.buf, want.buf, want.len))
			drift(r, "machine", have.buf, v->machine, NULL);
	}
	cfg_text(cfg, "bios", "seabios", &have);
	if (strcmp(have.buf, v->bios ? v->bios : "seabios"))
		drift(r, "bios", have.buf, v->bios ? v->bios : "seabios", NULL);
	cfg_text(cfg, "onboot", "0", &have);
	if (strcmp(have.buf, v->onboot ? "1" : "0"))
		drift(r, "onboot", have.buf, v->onboot ? "1" : "0",
		      FIX("qm set %ld --onboot %d", v->vmid, v->onboot));
	cfg_text(cfg, "scsi0", "", &x);
	prop(x.buf, NULL, "file", &have);
	strbuf_setlen(&have, strcspn(have.buf, ":"));
	if (strcmp(have.buf, v->storage))
		drift(r, "storage", have.buf, v->storage, NULL);
	prop(x.buf, "size", NULL, &have);
	double gib = size_gib(have.buf);
	if (gib < 0 || gib < (double)v->disk - 0.001) {
		drift(r, "disk", have.buf, FIX("%ldG", v->disk), NULL);
		strbuf_addf(r, "           (grow it: qm disk resize %ld scsi0 %ldG, then grow the "
			    "guest's partition and filesystem)\n", v->vmid, v->disk);
	} else if (gib > (double)v->disk + 0.001) {
		drift(r, "disk", have.buf, FIX("%ldG", v->disk), NULL);
		strbuf_addstr(r, "           (a disk does not shrink: set the file back to the VM's size, "
			      "or rebuild the VM)\n");
	}
	cfg_text(cfg, "net0", "", &x);
	prop(x.buf, "bridge", NULL, &have);
	if (strcmp(have.buf, v->bridge))
		drift(r, "bridge", have.buf, v->bridge, NULL);
	cfg_text(cfg, "hostpci0", "", &x);
	if (v->mapping) {
		prop(x.buf, "mapping", NULL, &have);
		if (strcmp(have.buf, v->mapping))
			drift(r, "gpu", x.buf, FIX("mapping=%s", v->mapping), NULL);
	} else if (v->pci) {
		prop(x.buf, NULL, "host", &have);
		if (strcmp(have.buf, v->pci))
			drift(r, "gpu", x.buf, v->pci, NULL);
	} else if (x.len) {
		drift(r, "gpu", x.buf, "no GPU", FIX("qm set %ld --delete hostpci0", v->vmid));
	}
#undef FIX
	strbuf_release(&have);
	strbuf_release(&want);
	strbuf_release(&x);
	strbuf_release(&fix);
}

/* Reads the existing VM's config and fails with the field-by-field report
 * when it differs from the file: a changed file must not pass as applied. */
static int vm_check_existing(struct pve *p, const char *node, const struct vm_spec *v,
			     struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, report = STRBUF_INIT;
	json_t *cfg = NULL;
	int rc = -1;
	strbuf_addf(&path, "/nodes/%s/qemu/%ld/config", node, v->vmid);
	if (pve_call(p, "GET", path.buf, NULL, NULL, 0, &cfg, err))
		goto out;
	if (!json_is_object(cfg)) {
		strbuf_addf(err, "GET %s: the answer is not a VM config", path.buf);
		goto out;
	}
	vm_drift(v, cfg, &report);
	if (report.len) {
		strbuf_addf(err, "VM %ld '%s' on node %s differs from the cluster file:\n%s"
			    "clusterc does not change an existing VM. Change the VM (the commands above, "
			    "or the web UI) or the cluster file so they agree, then apply again; or "
			    "rebuild the VM (stop and remove it; the next apply creates and installs it).",
			    v->vmid, v->name, node, report.buf);
		goto out;
	}
	strbuf_addf(p->log, "VM %ld '%s' matches the cluster file (cores, memory, cpu, disk, bridge, "
		    "firmware, GPU)\n", v->vmid, v->name);
	rc = 0;
out:
	json_decref(cfg);
	strbuf_release(&path);
	strbuf_release(&report);
	return rc;
}

int proxmox_vm(const json_t *args, const json_t *values, const json_t *overrides,
	       json_t *outputs, struct strbuf *log)
{
	(void)outputs;
	struct pve p;
	struct vm_spec v;
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT, form = STRBUF_INIT, st = STRBUF_INIT;
	struct strbuf cidata = STRBUF_INIT;
	json_t *list = NULL, *data = NULL;
	int rc = 1;

	pve_init(&p, log);
	int bad = vm_parse(args, &v, &err);
	bad |= pve_setup(&p, args, values, overrides, &err);
	if (v.pci && p.user && p.token) {
		strbuf_addf(&err,
			    "refusing to create VM %ld with raw PCI passthrough (hostpci0=%s) using API token %s:\n"
			    "  Proxmox lets only root@pam itself set raw hostpci devices; any API token, even\n"
			    "  root@pam's, is refused (\"only root can set 'hostpci0' config for non-mapped devices\").\n"
			    "  Either authenticate as root@pam with a password (auth.user + auth.password_secret), or\n"
			    "  create a PCI resource mapping (Datacenter > Resource Mappings) and set gpu.mapping to its\n"
			    "  id; the token then needs Mapping.Use on /mapping/pci/<id>.\n",
			    v.vmid, v.pci, p.user);
		bad = 1;
	} else if (v.pci && p.user && strcmp(p.user, "root@pam")) {
		strbuf_addf(&err,
			    "refusing to create VM %ld with raw PCI passthrough (hostpci0=%s) as %s: Proxmox lets\n"
			    "  only root@pam set raw hostpci devices; log in as root@pam or use gpu.mapping\n",
			    v.vmid, v.pci, p.user);
		bad = 1;
	}
	if (bad)
		goto out;
	if (pve_login(&p, &err))
		goto out;

	/* Cluster-wide, because a VMID is unique across the cluster. */
	if (pve_call(&p, "GET", "/cluster/resources?type=vm", NULL, NULL, 0, &list, &err))
		goto out;
	size_t i;
	json_t *e;
	json_t *same_id = NULL, *same_name = NULL;
	json_array_foreach(list, i, e) {
		json_t *id = json_object_get(e, "vmid");
		const char *nm = builtin_str_arg(e, "name");
		if (json_is_integer(id) && json_integer_value(id) == v.vmid)
			same_id = e;
		else if (nm && !strcmp(nm, v.name) && !same_name)
			same_name = e;
	}
	if (same_id) {
		const char *nm = builtin_str_arg(same_id, "name"), *type = builtin_str_arg(same_id, "type");
		const char *node = builtin_str_arg(same_id, "node"), *status = builtin_str_arg(same_id, "status");
		if (!nm || strcmp(nm, v.name) || (type && strcmp(type, "qemu"))) {
			strbuf_addf(&err, "VMID %ld is already taken by %s '%s' on node %s; the cluster file "
				    "wants VM '%s' there: choose another vmid or remove the other guest",
				    v.vmid, type && strcmp(type, "qemu") ? type : "VM", nm ? nm : "(unnamed)",
				    node ? node : "?", v.name);
			goto out;
		}
		strbuf_addf(log, "VM %ld '%s' exists on node %s (%s); not creating it\n", v.vmid, v.name,
			    node ? node : "?", status ? status : "status unknown");
		if (!node || !pve_plain_id(node)) {
			strbuf_addf(&err, "VM %ld exists but the cluster did not say on which node", v.vmid);
			goto out;
		}
		if (vm_check_existing(&p, node, &v, &err))
			goto out;
		if (!status || strcmp(status, "running")) {
			if (vm_wait_unlocked(&p, node, v.vmid, &st, &err))
				goto out;
			if (strcmp(st.buf, "running") && vm_start(&p, node, v.vmid, &err))
				goto out;
		}
		strbuf_addf(log, "exists: VM %ld '%s'\n", v.vmid, v.name);
		rc = 0;
		goto out;
	}
	if (same_name) {
		json_t *oid = json_object_get(same_name, "vmid");
		strbuf_addf(&err, "a VM named '%s' already exists with vmid %lld on node %s, but the cluster "
			    "file says vmid %ld: set vm.vmid to %lld or remove the other VM",
			    v.name, (long long)json_integer_value(oid),
			    builtin_str_arg(same_name, "node") ? builtin_str_arg(same_name, "node") : "?", v.vmid,
			    (long long)json_integer_value(oid));
		goto out;
	}

	if (v.cidata && v.cidata_file) {
		const char *slash = strstr(v.cidata, ":iso/") + 5;
		strbuf_add(&cidata, v.cidata, (size_t)(slash - v.cidata));
		if (pve_content_addressed_name(v.cidata_file, slash, &cidata, &err))
			goto out;
		v.cidata = cidata.buf;
	}
	vm_form(&v, &form);
	strbuf_addf(&path, "/nodes/%s/qemu", p.node);
	strbuf_addf(log, "creating VM %ld '%s' on node %s: %ld cores, %ld MiB, %s:%ld GiB, bridge %s, "
		    "cpu %s%s%s%s%s\n", v.vmid, v.name, p.node, v.cores, v.memory, v.storage, v.disk,
		    v.bridge, v.cpu, v.pci ? ", GPU " : "", v.pci ? v.pci : "",
		    v.mapping ? ", GPU mapping " : "", v.mapping ? v.mapping : "");
	if (pve_call(&p, "POST", path.buf, &form, NULL, 0, &data, &err)) {
		/* A retried create whose first answer was lost fails with "already
		 * exists"; the VM is ours all the same. */
		if (!vm_appeared(&p, &v))
			goto out;
		strbuf_addf(log, "the create request failed (%.*s) but VM %ld '%s' exists now: an "
			    "earlier attempt went through; continuing\n",
			    (int)strcspn(err.buf, "\n"), err.buf, v.vmid, v.name);
		strbuf_reset(&err);
	} else if (!json_is_string(data)) {
		strbuf_addstr(&err, "create VM: the answer is not a task id");
		goto out;
	} else {
		struct strbuf what = STRBUF_INIT;
		strbuf_addf(&what, "create VM %ld", v.vmid);
		int w = pve_task_wait(&p, json_string_value(data), what.buf, p.task_timeout_s, &err);
		strbuf_release(&what);
		if (w)
			goto out;
	}
	if (vm_wait_unlocked(&p, p.node, v.vmid, &st, &err))
		goto out;
	if (strcmp(st.buf, "running") && vm_start(&p, p.node, v.vmid, &err))
		goto out;
	strbuf_addf(log, "created and started VM %ld '%s'\n", v.vmid, v.name);
	rc = 0;
out:
	json_decref(list);
	json_decref(data);
	strbuf_release(&path);
	strbuf_release(&form);
	strbuf_release(&st);
	strbuf_release(&cidata);
	return pve_finish(&p, rc, &err);
}
