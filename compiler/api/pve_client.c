/* pve_client: see pve_client.h. */
#include "pve_client.h"
#include "proxmox.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builtin.h"
#include "sha256.h"
#include "xalloc.h"
void pve_init(struct pve *p, struct strbuf *log)
{
	memset(p, 0, sizeof(*p));
	http_client_init(&p->http);
	p->http.log = log;
	strbuf_init(&p->base);
	strbuf_init(&p->auth_hdr);
	strbuf_init(&p->csrf_hdr);
	strbuf_init(&p->ticket);
	p->ticket_renew_s = 3600;
	p->poll_ms = 1000;
	p->task_timeout_s = 900;
	p->log = log;
}

void pve_release(struct pve *p)
{
	http_client_release(&p->http);
	strbuf_release(&p->base);
	strbuf_wipe(&p->auth_hdr);
	strbuf_wipe(&p->csrf_hdr);
	strbuf_wipe(&p->ticket);
	free(p->node);
	free(p->user);
}

int pve_finish(struct pve *p, int rc, struct strbuf *err)
{
	if (rc)
		builtin_log_error(p->log, err);
	strbuf_addf(p->log, "(%lu HTTP requests)\n", p->http.requests);
	strbuf_release(err);
	pve_release(p);
	return rc;
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

int pve_plain_id(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

static long client_long(const json_t *args, const char *key, long dflt)
{
	json_t *v = json_object_get(json_object_get(args, "client"), key);
	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (long)json_integer_value(v);
	return dflt;
}

int pve_setup(struct pve *p, const json_t *args, const json_t *values,
	      const json_t *overrides, struct strbuf *err)
{
	const char *name = builtin_str_arg(args, "proxmox");
	const char *endpoint = builtin_str_arg(args, "endpoint");
	const char *node = builtin_str_arg(args, "node");
	json_t *auth = json_object_get(args, "auth");
	json_t *ov = json_object_get(overrides, "proxmox");
	int bad = 0, from_inventory = 0;

	if (!name || !pve_plain_id(name)) {
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
	if (!node || !pve_plain_id(node)) {
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
	p->ticket_renew_s = client_long(args, "ticket_renew_s", p->ticket_renew_s);

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
	if (builtin_value(values, user ? pw : tsec, "\r\n", &secret)) {
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


/* POST /access/ticket with password (the user's password at login, the
 * current ticket to renew it: Proxmox issues a fresh ticket for a valid one,
 * which is how a run longer than a ticket's 2 hours keeps going without
 * holding the password). Sets the cookie, CSRF header and ticket. */
static int ticket_request(struct pve *p, const char *password, const char *what, struct strbuf *err)
{
	struct strbuf form = STRBUF_INIT, url = STRBUF_INIT;
	struct http_response resp;
	int rc = -1;
	http_form_add(&form, "username", p->user);
	http_form_add(&form, "password", password);
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
	if (http_do(&p->http, &req, &resp, err)) {
		if (resp.status == 401 && p->ticket.len)
			strbuf_addf(err, "\n  hint: Proxmox refused to renew the ticket of %s (a ticket "
				    "lasts 2 hours; a single request that long outlives it); re-run apply",
				    p->user);
		else if (resp.status == 401)
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
	strbuf_wipe(&p->auth_hdr);
	strbuf_wipe(&p->csrf_hdr);
	strbuf_wipe(&p->ticket);
	strbuf_addf(&p->auth_hdr, "Cookie: PVEAuthCookie=%s", ticket);
	strbuf_addf(&p->csrf_hdr, "CSRFPreventionToken: %s", csrf);
	strbuf_addstr(&p->ticket, ticket);
	p->ticket_at = now_mono();
	strbuf_addf(p->log, "%s\n", what);
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

int pve_login(struct pve *p, struct strbuf *err)
{
	if (p->token) {
		strbuf_addf(p->log, "authenticating with API token %s\n", p->user);
		return 0;
	}
	/* auth_hdr holds the password until the ticket replaces it. */
	struct strbuf password = STRBUF_INIT;
	strbuf_addstr(&password, p->auth_hdr.buf);
	strbuf_wipe(&p->auth_hdr);
	strbuf_addf(p->log, "logging in to %s as %s\n", p->base.buf, p->user);
	int rc = ticket_request(p, password.buf, "logged in", err);
	strbuf_wipe(&password);
	return rc;
}

/* Renews the ticket once it is ticket_renew_s old, well before its 2 hours. */
static int pve_keep_ticket(struct pve *p, struct strbuf *err)
{
	if (p->token || !p->ticket.len || now_mono() - p->ticket_at < (double)p->ticket_renew_s)
		return 0;
	struct strbuf old = STRBUF_INIT;
	strbuf_addstr(&old, p->ticket.buf);
	int rc = ticket_request(p, old.buf, "ticket renewed", err);
	strbuf_wipe(&old);
	return rc;
}

int pve_call(struct pve *p, const char *method, const char *path, const struct strbuf *form,
	     const struct http_part *parts, size_t nparts, json_t **data, struct strbuf *err)
{
	struct strbuf url = STRBUF_INIT, what = STRBUF_INIT;
	struct http_response resp;
	const char *hdrs[3] = { NULL, NULL, NULL };
	int n = 0, rc = -1;

	if (pve_keep_ticket(p, err))
		return -1;
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

void pve_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int pve_task_wait(struct pve *p, const char *upid, const char *what, long limit_s,
		  struct strbuf *err)
{
	struct strbuf node = STRBUF_INIT, path = STRBUF_INIT;
	double start = now_mono();
	int rc = -1;
	if (proxmox_upid_node(upid, &node) || !pve_plain_id(node.buf)) {
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
					    now_mono() - start);
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
		if (now_mono() - start > (double)limit_s) {
			strbuf_addf(err, "%s: task still running after %lds; it was left running: %s",
				    what, limit_s, upid);
			goto out;
		}
		pve_sleep_ms(p->poll_ms);
	}
out:
	strbuf_release(&node);
	strbuf_release(&path);
	return rc;
}

int pve_content_addressed_name(const char *file, const char *name, struct strbuf *out,
			       struct strbuf *err)
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
