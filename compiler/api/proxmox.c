/* proxmox: see proxmox.h; the args schemas are documented in builtin.c. */
#include "proxmox.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builtin.h"
#include "http.h"
#include "sha256.h"
#include "xalloc.h"

struct pve {
	struct http_client http;
	struct strbuf base;      /* https://host:8006/api2/json */
	char *node;
	int token;               /* 1: API token, 0: ticket */
	char *user;              /* user@realm (ticket) or user@realm!id (token) */
	struct strbuf auth_hdr;  /* secret: the cookie or token header */
	struct strbuf csrf_hdr;  /* secret: CSRFPreventionToken header (ticket only) */
	long poll_ms;
	long task_timeout_s;
	struct strbuf *log;
};

static void pve_init(struct pve *p, struct strbuf *log)
{
	memset(p, 0, sizeof(*p));
	http_client_init(&p->http);
	p->http.log = log;
	strbuf_init(&p->base);
	strbuf_init(&p->auth_hdr);
	strbuf_init(&p->csrf_hdr);
	p->poll_ms = 1000;
	p->task_timeout_s = 900;
	p->log = log;
}

static void pve_release(struct pve *p)
{
	http_client_release(&p->http);
	strbuf_release(&p->base);
	strbuf_wipe(&p->auth_hdr);
	strbuf_wipe(&p->csrf_hdr);
	free(p->node);
	free(p->user);
}

int proxmox_task_ok(const char *exitstatus)
{
	return exitstatus && (!strcmp(exitstatus, "OK") || !strncmp(exitstatus, "WARNINGS", 8));
}

int proxmox_upid_node(const char *upid, struct strbuf *out)
{
	if (strncmp(upid, "UPID:", 5))
		return -1;
	const char *s = upid + 5, *e = strchr(s, ':');
	if (!e || e == s)
		return -1;
	strbuf_add(out, s, (size_t)(e - s));
	return 0;
}

/* A name that is safe inside a URL path and a Proxmox property string. */
static int plain_id(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

/* The value of a secret or input by name, without a trailing newline. */
static int value_of(const json_t *values, const char *name, struct strbuf *out)
{
	json_t *v = json_object_get(values, name);
	if (!json_is_string(v))
		return -1;
	strbuf_addstr(out, json_string_value(v));
	while (out->len && (out->buf[out->len - 1] == '\n' || out->buf[out->len - 1] == '\r'))
		strbuf_setlen(out, out->len - 1);
	return out->len ? 0 : -1;
}

static long client_long(const json_t *args, const char *key, long dflt)
{
	json_t *v = json_object_get(json_object_get(args, "client"), key);
	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (long)json_integer_value(v);
	return dflt;
}

/* Reads endpoint, node, auth and the client options; applies the inventory
 * override. Nothing is sent. */
static int pve_setup(struct pve *p, const json_t *args, const json_t *values,
		     const json_t *overrides, struct strbuf *err)
{
	const char *name = builtin_str_arg(args, "proxmox");
	const char *endpoint = builtin_str_arg(args, "endpoint");
	const char *node = builtin_str_arg(args, "node");
	json_t *auth = json_object_get(args, "auth");
	json_t *ov = json_object_get(overrides, "proxmox");
	int bad = 0, from_inventory = 0;

	if (!name || !plain_id(name)) {
		strbuf_addstr(err, "args: \"proxmox\" (the name of the proxmox block) must be a plain name\n");
		bad = 1;
	}
	if (json_is_object(ov) && name) {
		json_t *mine = json_object_get(ov, name);
		const char *oe = builtin_str_arg(mine, "endpoint");
		if (!oe) {
			strbuf_addf(err, "the inventory has a \"proxmox\" section but no endpoint for '%s'; "
				    "refusing to fall back to the cluster file's endpoint\n", name);
			bad = 1;
		} else {
			endpoint = oe;
			strbuf_addf(p->log, "endpoint for '%s' from the inventory: %s\n", name, oe);
			/* The lab's TLS options replace the cluster file's: its CA
			 * file belongs to the real server. */
			if (http_client_configure(&p->http, mine, HTTP_CFG_TLS, err)) {
				strbuf_addch(err, '\n');
				bad = 1;
			}
			from_inventory = 1;
		}
	}
	if (!endpoint) {
		strbuf_addstr(err, "args: \"endpoint\" is required\n");
		bad = 1;
	} else if (http_url_check(endpoint, err)) {
		strbuf_addch(err, '\n');
		bad = 1;
	} else {
		strbuf_addstr(&p->base, endpoint);
		while (p->base.len && p->base.buf[p->base.len - 1] == '/')
			strbuf_setlen(&p->base, p->base.len - 1);
		if (p->base.len >= 10 && !strcmp(p->base.buf + p->base.len - 10, "/api2/json"))
			strbuf_setlen(&p->base, p->base.len - 10);
		strbuf_addstr(&p->base, "/api2/json");
	}
	if (!node || !plain_id(node)) {
		strbuf_addstr(err, "args: \"node\" must be the Proxmox node name\n");
		bad = 1;
	} else {
		p->node = xstrdup(node);
	}
	if (http_client_configure(&p->http, args,
				  from_inventory ? HTTP_CFG_CLIENT : HTTP_CFG_TLS | HTTP_CFG_CLIENT, err)) {
		strbuf_addch(err, '\n');
		bad = 1;
	}
	p->poll_ms = client_long(args, "poll_ms", p->poll_ms);
	p->task_timeout_s = client_long(args, "task_timeout_s", p->task_timeout_s);

	const char *user = builtin_str_arg(auth, "user"), *pw = builtin_str_arg(auth, "password_secret");
	const char *tid = builtin_str_arg(auth, "token_id"), *tsec = builtin_str_arg(auth, "token_secret");
	if (!json_is_object(auth) || (!!user + !!tid) != 1) {
		strbuf_addstr(err, "args: \"auth\" must be {\"user\", \"password_secret\"} or "
			    "{\"token_id\", \"token_secret\"}\n");
		return -1;
	}
	if (user) {
		if (!pw || !strchr(user, '@')) {
			strbuf_addstr(err, "args: auth.user must be USER@REALM (e.g. root@pam) and "
				    "auth.password_secret the name of the password secret\n");
			return -1;
		}
		p->user = xstrdup(user);
		p->token = 0;
	} else {
		const char *bang = strchr(tid, '!');
		if (!tsec || !strchr(tid, '@') || !bang || !bang[1] || strchr(tid, '=')) {
			strbuf_addstr(err, "args: auth.token_id must be USER@REALM!TOKENID and "
				    "auth.token_secret the name of the token secret\n");
			return -1;
		}
		p->user = xstrdup(tid);
		p->token = 1;
	}
	if (bad)
		return -1;
	/* The secret is looked up last, after every structural check. */
	struct strbuf secret = STRBUF_INIT;
	if (value_of(values, user ? pw : tsec, &secret)) {
		strbuf_addf(err, "secret '%s' was not provided (declare it in the step's secrets)\n",
			    user ? pw : tsec);
		strbuf_wipe(&secret);
		return -1;
	}
	for (size_t i = 0; p->token && i < secret.len; i++) {
		if ((unsigned char)secret.buf[i] < 0x20 || secret.buf[i] == 0x7f) {
			strbuf_addf(err, "secret '%s' contains a control character; an API token "
				    "secret is a UUID\n", tsec);
			strbuf_wipe(&secret);
			return -1;
		}
	}
	if (p->token) {
		strbuf_addf(&p->auth_hdr, "Authorization: PVEAPIToken=%s=%s", p->user, secret.buf);
	} else {
		/* Kept in auth_hdr until login swaps it for the cookie. */
		strbuf_addstr(&p->auth_hdr, secret.buf);
	}
	strbuf_wipe(&secret);
	return 0;
}

/* Parses an answer's {"data": ...}; returns a new reference or NULL. */
static json_t *answer_data(const struct http_response *r, const char *what, struct strbuf *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(r->body.buf, r->body.len, 0, &jerr);
	if (!json_is_object(root) || !json_object_get(root, "data")) {
		strbuf_addf(err, "%s: the answer is not a Proxmox JSON envelope (%s)", what,
			    root ? "no \"data\" member" : jerr.text);
		json_decref(root);
		return NULL;
	}
	json_t *data = json_incref(json_object_get(root, "data"));
	json_decref(root);
	return data;
}

/* One API call. form: a urlencoded body for POST or NULL; parts: multipart.
 * Returns 0 with *data set (caller decrefs), or -1 with err set. */
static int pve_call(struct pve *p, const char *method, const char *path,
		    const struct strbuf *form, const struct http_part *parts, size_t nparts,
		    json_t **data, struct strbuf *err)
{
	struct strbuf url = STRBUF_INIT, what = STRBUF_INIT;
	struct http_response resp;
	const char *hdrs[3] = { NULL, NULL, NULL };
	int n = 0, rc = -1;

	strbuf_addf(&url, "%s%s", p->base.buf, path);
	hdrs[n++] = p->auth_hdr.buf;
	if (!p->token && strcmp(method, "GET"))
		hdrs[n++] = p->csrf_hdr.buf;
	struct http_request req = {
		.method = method, .url = url.buf, .headers = hdrs,
		.content_type = form ? "application/x-www-form-urlencoded" : NULL,
		.body = form ? form->buf : NULL, .body_len = form ? form->len : 0,
		.parts = parts, .nparts = nparts, .timeout_s = parts ? -1 : 0,
		.final_500 = strcmp(method, "GET") != 0,
	};
	http_response_init(&resp);
	if (http_do(&p->http, &req, &resp, err)) {
		if (resp.status == 401)
			strbuf_addstr(err, "\n  hint: the ticket or token was rejected; check the credentials "
				    "and that the token has not expired or been removed");
		else if (resp.status == 403)
			strbuf_addf(err, "\n  hint: '%s' lacks the privilege named above; grant it on the "
				    "path shown (pveum acl modify)", p->user);
		goto out;
	}
	strbuf_addf(&what, "%s %s", method, url.buf);
	*data = answer_data(&resp, what.buf, err);
	if (*data)
		rc = 0;
out:
	http_response_release(&resp);
	strbuf_release(&url);
	strbuf_release(&what);
	return rc;
}

/* FIXME: a ticket lasts 2 hours and is not renewed (POSTing it back as the
 * password would); one builtin step stays well below that unless an ISO
 * upload crawls, and each step logs in afresh. */
static int pve_login(struct pve *p, struct strbuf *err)
{
	if (p->token) {
		strbuf_addf(p->log, "authenticating with API token %s\n", p->user);
		return 0;
	}
	struct strbuf form = STRBUF_INIT, url = STRBUF_INIT;
	struct http_response resp;
	int rc = -1;
	http_form_add(&form, "username", p->user);
	http_form_add(&form, "password", p->auth_hdr.buf);
	strbuf_wipe(&p->auth_hdr);
	strbuf_addf(&url, "%s/access/ticket", p->base.buf);
	/* A wrong password is answered after 3 s; a shorter limit would turn it
	 * into a timeout and a retried login. */
	struct http_request req = {
		.method = "POST", .url = url.buf,
		.content_type = "application/x-www-form-urlencoded",
		.body = form.buf, .body_len = form.len,
		.timeout_s = p->http.timeout_s < 15 ? 15 : p->http.timeout_s,
	};
	http_response_init(&resp);
	strbuf_addf(p->log, "logging in to %s as %s\n", p->base.buf, p->user);
	if (http_do(&p->http, &req, &resp, err)) {
		if (resp.status == 401)
			strbuf_addf(err, "\n  hint: Proxmox rejected the user name or password for %s "
				    "(it answers failed logins after a 3-second delay); check the "
				    "password secret and the realm", p->user);
		goto out;
	}
	json_t *data = answer_data(&resp, "POST /access/ticket", err);
	const char *ticket = builtin_str_arg(data, "ticket"), *csrf = builtin_str_arg(data, "CSRFPreventionToken");
	if (!ticket || !csrf) {
		if (data)
			strbuf_addstr(err, "POST /access/ticket: the answer has no ticket or CSRFPreventionToken");
		json_decref(data);
		goto out;
	}
	strbuf_addf(&p->auth_hdr, "Cookie: PVEAuthCookie=%s", ticket);
	strbuf_addf(&p->csrf_hdr, "CSRFPreventionToken: %s", csrf);
	/* The parsed answer holds the ticket too; clear it before freeing. */
	json_string_set(json_object_get(data, "ticket"), "");
	json_string_set(json_object_get(data, "CSRFPreventionToken"), "");
	json_decref(data);
	rc = 0;
out:
	strbuf_wipe(&form);
	http_response_release(&resp);
	strbuf_release(&url);
	return rc;
}

/* Appends the last lines of a task's log to err. */
static void task_log_tail(struct pve *p, const char *node, const char *upid, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, e2 = STRBUF_INIT;
	json_t *data = NULL;
	strbuf_addf(&path, "/nodes/%s/tasks/", node);
	http_urlencode(&path, upid);
	strbuf_addstr(&path, "/log?start=0&limit=500");
	if (pve_call(p, "GET", path.buf, NULL, NULL, 0, &data, &e2) == 0 && json_is_array(data)) {
		size_t n = json_array_size(data), from = n > 12 ? n - 12 : 0;
		if (n)
			strbuf_addstr(err, "\n  task log (last lines):");
		for (size_t i = from; i < n; i++) {
			const char *t = builtin_str_arg(json_array_get(data, i), "t");
			if (t)
				strbuf_addf(err, "\n    %s", t);
		}
	} else {
		strbuf_addf(err, "\n  (task log unavailable: %s)", e2.buf);
	}
	json_decref(data);
	strbuf_release(&path);
	strbuf_release(&e2);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Polls a task until it stops; 0 when it ended OK or with warnings. */
static int pve_task_wait(struct pve *p, const char *upid, const char *what, long limit_s,
			 struct strbuf *err)
{
	struct strbuf node = STRBUF_INIT, path = STRBUF_INIT;
	double start = now_s();
	int rc = -1;
	if (proxmox_upid_node(upid, &node) || !plain_id(node.buf)) {
		strbuf_addf(err, "%s: the answer is not a task id (UPID)", what);
		goto out;
	}
	strbuf_addf(&path, "/nodes/%s/tasks/", node.buf);
	http_urlencode(&path, upid);
	strbuf_addstr(&path, "/status");
	for (;;) {
		json_t *data = NULL;
		if (pve_call(p, "GET", path.buf, NULL, NULL, 0, &data, err))
			goto out;
		const char *status = builtin_str_arg(data, "status");
		if (status && !strcmp(status, "stopped")) {
			const char *exitstatus = builtin_str_arg(data, "exitstatus");
			if (proxmox_task_ok(exitstatus)) {
				strbuf_addf(p->log, "%s: task finished (%s) in %.1fs\n", what, exitstatus,
					    now_s() - start);
				rc = 0;
			} else {
				strbuf_addf(err, "%s: task failed: %s", what,
					    exitstatus ? exitstatus : "(no exit status)");
				task_log_tail(p, node.buf, upid, err);
			}
			json_decref(data);
			goto out;
		}
		json_decref(data);
		if (now_s() - start > (double)limit_s) {
			strbuf_addf(err, "%s: task still running after %lds; it was left running: %s",
				    what, limit_s, upid);
			goto out;
		}
		sleep_ms(p->poll_ms);
	}
out:
	strbuf_release(&node);
	strbuf_release(&path);
	return rc;
}

/* Content-addressed ISO names (issue 10): Proxmox keeps no checksum of a stored
 * file, so a name that carries the content hash is how a changed file of the same
 * size is told apart. ca_name appends to OUT the name NAME (".iso" at its end) with
 * "-" and the first 16 hex digits of FILE's sha256 before ".iso". */
static int ca_name(const char *file, const char *name, struct strbuf *out, struct strbuf *err)
{
	size_t nl = strlen(name);
	if (nl < 5 || strcmp(name + nl - 4, ".iso")) {
		strbuf_addf(err, "content-addressed name: '%s' does not end in .iso\n", name);
		return 1;
	}
	FILE *f = fopen(file, "rb");
	if (!f) {
		strbuf_addf(err, "cannot read %s (its sha256 names the ISO): %s\n", file, strerror(errno));
		return 1;
	}
	struct sha256 c;
	struct strbuf hex = STRBUF_INIT;
	unsigned char buf[65536];
	size_t n;
	sha256_init(&c);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sha256_update(&c, buf, n);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		strbuf_addf(err, "cannot read %s\n", file);
		return 1;
	}
	sha256_final_hex(&c, &hex);
	strbuf_add(out, name, nl - 4);
	strbuf_addf(out, "-%.16s.iso", hex.buf);
	strbuf_release(&hex);
	return 0;
}

/* ---- proxmox.vm */

struct vm_spec {
	const char *name, *storage, *bridge, *iso, *cidata, *cidata_file, *machine, *bios, *cpu, *pci, *mapping;
	long vmid, cores, memory, disk;
	int onboot;
};

static long int_field(const json_t *vm, const char *key, long min, long max, int required,
		      long dflt, struct strbuf *err)
{
	json_t *v = json_object_get(vm, key);
	if (!v || json_is_null(v)) {
		if (required)
			strbuf_addf(err, "args: vm.%s is required\n", key);
		return dflt;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		strbuf_addf(err, "args: vm.%s must be an integer from %ld to %ld\n", key, min, max);
		return dflt;
	}
	return (long)json_integer_value(v);
}

static const char *id_field(const json_t *vm, const char *key, int required, struct strbuf *err)
{
	json_t *v = json_object_get(vm, key);
	if (!v || json_is_null(v)) {
		if (required)
			strbuf_addf(err, "args: vm.%s is required\n", key);
		return NULL;
	}
	if (!json_is_string(v) || !plain_id(json_string_value(v))) {
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
		else if (v->mapping && !plain_id(v->mapping))
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
	if (v->pci)
		ADDF("hostpci0", "%s,pcie=1,x-vga=0", v->pci);
	else if (v->mapping)
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
	double start = now_s();
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
		if (now_s() - start > (double)p->task_timeout_s) {
			strbuf_addf(err, "VM %ld is still locked after %lds; check its tasks on node %s",
				    vmid, p->task_timeout_s, node);
			break;
		}
		sleep_ms(p->poll_ms);
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

static void set_started(json_t *outputs, const struct vm_spec *v)
{
	struct strbuf k = STRBUF_INIT, val = STRBUF_INIT;
	strbuf_addf(&k, "vm_%s_started", v->name);
	strbuf_addf(&val, "%ld", v->vmid);
	json_object_set_new(outputs, k.buf, json_string(val.buf));
	strbuf_release(&k);
	strbuf_release(&val);
}

int proxmox_vm(const json_t *args, const json_t *values, const json_t *overrides,
	       json_t *outputs, struct strbuf *log)
{
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
		if (!status || strcmp(status, "running")) {
			if (!node || !plain_id(node)) {
				strbuf_addf(&err, "VM %ld exists but the cluster did not say on which node", v.vmid);
				goto out;
			}
			if (vm_wait_unlocked(&p, node, v.vmid, &st, &err))
				goto out;
			if (strcmp(st.buf, "running") && vm_start(&p, node, v.vmid, &err))
				goto out;
		}
		set_started(outputs, &v);
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
		if (ca_name(v.cidata_file, slash, &cidata, &err))
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
	set_started(outputs, &v);
	strbuf_addf(log, "created and started VM %ld '%s'\n", v.vmid, v.name);
	rc = 0;
out:
	if (rc)
		builtin_log_error(log, &err);
	strbuf_addf(log, "(%lu HTTP requests)\n", p.http.requests);
	json_decref(list);
	json_decref(data);
	strbuf_release(&err);
	strbuf_release(&path);
	strbuf_release(&form);
	strbuf_release(&st);
	strbuf_release(&cidata);
	pve_release(&p);
	return rc;
}

/* ---- proxmox.iso */

static int is_sha256_hex(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isxdigit((unsigned char)s[n]))
			return 0;
	return n == 64;
}

int proxmox_iso(const json_t *args, const json_t *values, const json_t *overrides,
		json_t *outputs, struct strbuf *log)
{
	struct pve p;
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT, suffix = STRBUF_INIT, caname = STRBUF_INIT;
	json_t *list = NULL, *data = NULL;
	const char *storage = builtin_str_arg(args, "iso_storage"), *file = builtin_str_arg(args, "file");
	const char *name = builtin_str_arg(args, "name"), *sha = builtin_str_arg(args, "sha256");
	json_t *ca = json_object_get(args, "content_addressed");
	int rc = 1, bad = 0;
	(void)outputs;

	pve_init(&p, log);
	if (!storage || !plain_id(storage)) {
		strbuf_addstr(&err, "args: \"iso_storage\" must be a storage id such as local\n");
		bad = 1;
	}
	if (!file || !*file) {
		strbuf_addstr(&err, "args: \"file\" must name the ISO to upload\n");
		bad = 1;
	}
	if (!name || !plain_id(name) || strlen(name) < 5 || strcmp(name + strlen(name) - 4, ".iso")) {
		strbuf_addstr(&err, "args: \"name\" must be a file name of letters, digits, '-', '_', '.' "
			    "ending in .iso (Proxmox renames anything else)\n");
		bad = 1;
	}
	if (json_object_get(args, "sha256") && !json_is_null(json_object_get(args, "sha256")) &&
	    (!sha || !is_sha256_hex(sha))) {
		strbuf_addstr(&err, "args: \"sha256\" must be 64 hex digits\n");
		bad = 1;
	}
	if (ca && !json_is_boolean(ca)) {
		strbuf_addstr(&err, "args: \"content_addressed\" must be true or false\n");
		bad = 1;
	}
	/* content_addressed: the stored name carries the local file's sha256, so the
	 * file on the storage is current exactly when that name is there. */
	if (!bad && json_is_true(ca)) {
		if (ca_name(file, name, &caname, &err))
			bad = 1;
		else
			name = caname.buf;
	}
	bad |= pve_setup(&p, args, values, overrides, &err);
	if (bad || pve_login(&p, &err))
		goto out;

	strbuf_addf(&path, "/nodes/%s/storage/%s/content?content=iso", p.node, storage);
	if (pve_call(&p, "GET", path.buf, NULL, NULL, 0, &list, &err))
		goto out;
	strbuf_addf(&suffix, "iso/%s", name);
	/* The local file, when there is one, tells a stale copy by its size. */
	struct stat st;
	errno = 0;
	int have_local = stat(file, &st) == 0 && S_ISREG(st.st_mode);
	int local_errno = errno;
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *volid = builtin_str_arg(e, "volid");
		size_t vl = volid ? strlen(volid) : 0;
		if (vl > suffix.len && !strcmp(volid + vl - suffix.len, suffix.buf) &&
		    (volid[vl - suffix.len - 1] == ':' || volid[vl - suffix.len - 1] == '/')) {
			json_t *size = json_object_get(e, "size");
			if (have_local && json_is_integer(size) &&
			    json_integer_value(size) != (json_int_t)st.st_size) {
				strbuf_addf(log, "%s is on storage %s but its size differs (%lld bytes there, "
					    "%lld here); uploading it again (Proxmox replaces it)\n", volid,
					    storage, (long long)json_integer_value(size), (long long)st.st_size);
				break;
			}
			strbuf_addf(log, "exists: %s is already on storage %s; not uploading\n", volid, storage);
			rc = 0;
			goto out;
		}
	}

	if (!have_local) {
		strbuf_addf(&err, "cannot upload %s: %s", file,
			    local_errno ? strerror(local_errno) : "not a regular file");
		if (file[0] != '/') {
			char *cwd = getcwd(NULL, 0);
			strbuf_addf(&err, "\n  (relative paths are read from the working directory, %s; "
				    "builtins run in out/<cluster>/)", cwd ? cwd : "unknown");
			free(cwd);
		}
		goto out;
	}
	struct http_part parts[4];
	size_t np = 0;
	parts[np++] = (struct http_part){ .name = "content", .value = "iso" };
	if (sha) {
		parts[np++] = (struct http_part){ .name = "checksum-algorithm", .value = "sha256" };
		parts[np++] = (struct http_part){ .name = "checksum", .value = sha };
	}
	parts[np++] = (struct http_part){ .name = "filename", .path = file, .filename = name };
	strbuf_reset(&path);
	strbuf_addf(&path, "/nodes/%s/storage/%s/upload", p.node, storage);
	strbuf_addf(log, "uploading %s (%.1f MiB) to storage %s as %s\n", file,
		    (double)st.st_size / (1024.0 * 1024.0), storage, name);
	double t0 = now_s();
	if (pve_call(&p, "POST", path.buf, NULL, parts, np, &data, &err))
		goto out;
	double dt = now_s() - t0;
	strbuf_addf(log, "uploaded in %.1fs (%.1f MiB/s)\n", dt,
		    dt > 0 ? (double)st.st_size / (1024.0 * 1024.0) / dt : 0.0);
	if (!json_is_string(data)) {
		strbuf_addstr(&err, "upload: the answer is not a task id");
		goto out;
	}
	if (pve_task_wait(&p, json_string_value(data), "copy the uploaded ISO", p.task_timeout_s, &err))
		goto out;
	strbuf_addf(log, "uploaded: %s:iso/%s\n", storage, name);
	rc = 0;
out:
	if (rc)
		builtin_log_error(log, &err);
	strbuf_addf(log, "(%lu HTTP requests)\n", p.http.requests);
	json_decref(list);
	json_decref(data);
	strbuf_release(&err);
	strbuf_release(&path);
	strbuf_release(&suffix);
	strbuf_release(&caname);
	pve_release(&p);
	return rc;
}
