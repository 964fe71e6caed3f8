/* gitlab: see gitlab.h. */
#include "gitlab.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "http.h"
#include "xalloc.h"

/* Pages of deploy keys we are willing to read (100 per page). */
#define GITLAB_MAX_PAGES 50

/* A key or token ends at its last non-blank byte (isspace in the C locale). */
#define BLANKS " \t\n\v\f\r"

static int key_type(const char *s, size_t n)
{
	static const char *const types[] = {
		"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
		"ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
		"sk-ecdsa-sha2-nistp256@openssh.com", "ssh-dss",
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i]) == n && !strncmp(s, types[i], n))
			return 1;
	return 0;
}

int gitlab_key_core(const char *line, struct strbuf *out)
{
	const char *p = line;
	/* Skip an authorized_keys options field, if any, by finding the type. */
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, " \t\r\n");
		if (!n)
			return -1;
		if (key_type(p, n)) {
			const char *b = p + n;
			while (*b == ' ' || *b == '\t')
				b++;
			size_t bn = strcspn(b, " \t\r\n");
			if (bn < 16 || strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					     "0123456789+/=") < bn)
				return -1;
			strbuf_add(out, p, n);
			strbuf_addch(out, ' ');
			strbuf_add(out, b, bn);
			return 0;
		}
		p += n;
	}
	return -1;
}

static int path_ok(const char *s)
{
	if (!s || !*s || *s == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//"))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_./", *s))
			return 0;
	return 1;
}

static void auth_hint(long status, const char *project, struct strbuf *err)
{
	if (status == 401)
		strbuf_addstr(err, "\n  hint: GitLab rejected the token (expired, revoked or mistyped); it "
			    "needs the 'api' scope");
	else if (status == 403)
		strbuf_addf(err, "\n  hint: the token's user may not manage deploy keys of %s: the token "
			    "needs the 'api' scope and the Maintainer role (or higher) on the project",
			    project);
	else if (status == 404)
		strbuf_addf(err, "\n  hint: project %s was not found or the token cannot see it", project);
}

int gitlab_deploy_key(const json_t *args, const json_t *values, const json_t *overrides,
		      json_t *outputs, struct strbuf *log)
{
	struct http_client c;
	struct strbuf err = STRBUF_INIT, base = STRBUF_INIT, url = STRBUF_INIT;
	struct strbuf token = STRBUF_INIT, hdr = STRBUF_INIT, key = STRBUF_INIT, core = STRBUF_INIT;
	struct strbuf other = STRBUF_INIT, next = STRBUF_INIT, proj = STRBUF_INIT;
	struct http_response resp;
	const char *api = builtin_str_arg(args, "api"), *project = builtin_str_arg(args, "project_path");
	const char *title = builtin_str_arg(args, "title"), *tsec = builtin_str_arg(args, "token_secret");
	const char *kin = builtin_str_arg(args, "key_input");
	json_t *cp = json_object_get(args, "can_push");
	json_t *ov = json_object_get(overrides, "gitlab");
	json_t *body = NULL;
	int rc = 1, bad = 0;
	(void)outputs;

	http_client_init(&c);
	c.log = log;
	http_response_init(&resp);
	if (json_is_object(ov)) {
		const char *oa = builtin_str_arg(ov, "api");
		if (!oa) {
			strbuf_addstr(&err, "the inventory has a \"gitlab\" section without \"api\"; refusing "
				    "to fall back to the cluster file's GitLab\n");
			bad = 1;
		} else {
			api = oa;
			strbuf_addf(log, "GitLab API from the inventory: %s\n", oa);
		}
	}
	if (!api) {
		strbuf_addstr(&err, "args: \"api\" (e.g. https://gitlab.example.com/api/v4) is required\n");
		bad = 1;
	} else if (http_url_check(api, &err)) {
		strbuf_addch(&err, '\n');
		bad = 1;
	}
	if (!path_ok(project)) {
		strbuf_addstr(&err, "args: \"project_path\" must be the project's full path, e.g. "
			    "group/sub/project (no leading or trailing /)\n");
		bad = 1;
	} else if (strlen(project) > 4 && !strcmp(project + strlen(project) - 4, ".git")) {
		/* The path of git@host:group/proj.git; the API wants it without .git. */
		strbuf_add(&proj, project, strlen(project) - 4);
		project = proj.buf;
	}
	if (!title || !*title) {
		strbuf_addstr(&err, "args: \"title\" is required\n");
		bad = 1;
	}
	if (!tsec || !kin) {
		strbuf_addstr(&err, "args: \"token_secret\" and \"key_input\" must name the token secret "
			    "and the public key input\n");
		bad = 1;
	}
	if (cp && !json_is_null(cp) && !json_is_boolean(cp)) {
		strbuf_addstr(&err, "args: \"can_push\" must be true or false\n");
		bad = 1;
	}
	/* With an inventory entry, its TLS options replace the cluster file's. */
	if (http_client_configure(&c, args, json_is_object(ov) ? HTTP_CFG_CLIENT
				  : HTTP_CFG_TLS | HTTP_CFG_CLIENT, &err)) {
		strbuf_addch(&err, '\n');
		bad = 1;
	}
	if (json_is_object(ov) && http_client_configure(&c, ov, HTTP_CFG_TLS, &err)) {
		strbuf_addch(&err, '\n');
		bad = 1;
	}
	if (bad)
		goto out;
	if (builtin_value(values, kin, BLANKS, &key) || gitlab_key_core(key.buf, &core)) {
		strbuf_addf(&err, "input '%s' is not an OpenSSH public key (\"ssh-ed25519 AAAA... comment\")",
			    kin);
		goto out;
	}
	if (builtin_value(values, tsec, BLANKS, &token)) {
		strbuf_addf(&err, "secret '%s' was not provided (declare it in the step's secrets)", tsec);
		goto out;
	}
	for (size_t i = 0; i < token.len; i++) {
		if ((unsigned char)token.buf[i] < 0x20 || token.buf[i] == 0x7f) {
			strbuf_addf(&err, "secret '%s' contains a control character; a GitLab token "
				    "is one line", tsec);
			goto out;
		}
	}
	strbuf_addf(&hdr, "PRIVATE-TOKEN: %s", token.buf);
	strbuf_wipe(&token);
	const char *hdrs[] = { hdr.buf, NULL };

	strbuf_addstr(&base, api);
	while (base.len && base.buf[base.len - 1] == '/')
		strbuf_setlen(&base, base.len - 1);
	strbuf_addstr(&base, "/projects/");
	http_urlencode(&base, project);  /* '/' becomes %2F; the path has nothing else to encode */
	strbuf_addstr(&base, "/deploy_keys");

	{
		/* Show which key without echoing it whole: type and the base64 tail. */
		const char *sp = strchr(core.buf, ' ');
		size_t bl = strlen(sp + 1);
		strbuf_addf(log, "deploy key %.*s ...%s for %s\n", (int)(sp - core.buf), core.buf,
			    sp + 1 + (bl > 12 ? bl - 12 : 0), project);
	}

	strbuf_addstr(&next, "1");
	for (int page = 0; next.len; page++) {
		if (page >= GITLAB_MAX_PAGES) {
			strbuf_addf(&err, "GET %s: more than %d pages of deploy keys; giving up", base.buf,
				    GITLAB_MAX_PAGES);
			goto out;
		}
		strbuf_reset(&url);
		strbuf_addf(&url, "%s?per_page=100&page=", base.buf);
		http_urlencode(&url, next.buf);
		struct http_request req = { .method = "GET", .url = url.buf, .headers = hdrs };
		if (http_do(&c, &req, &resp, &err)) {
			auth_hint(resp.status, project, &err);
			goto out;
		}
		json_error_t jerr;
		json_t *list = json_loadb(resp.body.buf, resp.body.len, 0, &jerr);
		if (!json_is_array(list)) {
			strbuf_addf(&err, "GET %s: the answer is not a JSON list (%s)", url.buf,
				    list ? "another JSON value" : jerr.text);
			json_decref(list);
			goto out;
		}
		size_t i;
		json_t *e;
		json_array_foreach(list, i, e) {
			const char *k = builtin_str_arg(e, "key");
			strbuf_reset(&other);
			if (k && !gitlab_key_core(k, &other) && !strcmp(other.buf, core.buf)) {
				json_t *id = json_object_get(e, "id");
				strbuf_addf(log, "already registered: deploy key id %lld ('%s') on %s\n",
					    (long long)json_integer_value(id),
					    builtin_str_arg(e, "title") ? builtin_str_arg(e, "title") : "", project);
				json_decref(list);
				rc = 0;
				goto out;
			}
		}
		json_decref(list);
		if (!http_header(&resp, "X-Next-Page", &next))
			strbuf_reset(&next);
		if (next.len && strspn(next.buf, "0123456789") != next.len)
			strbuf_reset(&next);
	}

	body = json_pack("{s:s, s:s, s:b}", "title", title, "key", key.buf, "can_push",
			 json_is_true(cp));
	char *text = json_dumps(body, JSON_COMPACT);
	struct http_request post = {
		.method = "POST", .url = base.buf, .headers = hdrs,
		.content_type = "application/json", .body = text, .body_len = strlen(text),
	};
	strbuf_addf(log, "registering deploy key '%s' (can_push %s) on %s\n", title,
		    json_is_true(cp) ? "true" : "false", project);
	int prc = http_do(&c, &post, &resp, &err);
	free(text);
	if (prc == 0) {
		strbuf_addf(log, "registered: HTTP %ld\n", resp.status);
		rc = 0;
	} else if (resp.status == 400 && strstr(resp.body.buf, "has already been taken")) {
		strbuf_reset(&err);
		strbuf_addstr(log, "already registered (GitLab: key has already been taken)\n");
		rc = 0;
	} else {
		auth_hint(resp.status, project, &err);
	}
out:
	if (rc)
		builtin_log_error(log, &err);
	strbuf_addf(log, "(%lu HTTP requests)\n", c.requests);
	json_decref(body);
	strbuf_wipe(&hdr);
	strbuf_wipe(&token);
	http_response_release(&resp);
	http_client_release(&c);
	strbuf_release(&err);
	strbuf_release(&base);
	strbuf_release(&url);
	strbuf_release(&key);
	strbuf_release(&core);
	strbuf_release(&other);
	strbuf_release(&next);
	strbuf_release(&proj);
	return rc;
}
