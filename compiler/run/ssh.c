#include "ssh.h"
#include "fsutil.h"
#include "xalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends a quoted value to an option line once per distinct value. */
static void cfg_add(struct strbuf *sb, const char *key, const char *v, struct strbuf *seen)
{
	if (!v || strchr(v, '"') || strchr(v, '\n'))
		return;
	struct strbuf q = STRBUF_INIT;
	strbuf_addf(&q, " \"%s\"", v);
	if (!strstr(seen->buf, q.buf)) {
		if (!seen->len)
			strbuf_addf(sb, "  %s", key);
		strbuf_addstr(sb, q.buf);
		strbuf_addstr(seen, q.buf);
	}
	strbuf_release(&q);
}

int ssh_write_config(const char *path, const struct ssh_host *hosts, size_t n,
		     int connect_timeout, const char *const *extra)
{
	struct strbuf sb = STRBUF_INIT;
	/* ssh takes the first value it reads for an option: the operator's
	 * extra lines (inventory "ssh_options") come before the defaults. */
	strbuf_addstr(&sb, "# written by clusterc for one run\n");
	for (; extra && *extra; extra++)
		strbuf_addf(&sb, "%s\n", *extra);
	strbuf_addf(&sb, "Host *\n"
		    "  BatchMode yes\n  StrictHostKeyChecking yes\n  UpdateHostKeys no\n"
		    "  GlobalKnownHostsFile /dev/null\n  PasswordAuthentication no\n"
		    "  KbdInteractiveAuthentication no\n  ConnectTimeout %d\n"
		    "  ServerAliveInterval 5\n  ServerAliveCountMax 3\n  LogLevel ERROR\n",
		    connect_timeout > 0 ? connect_timeout : 10);
	struct strbuf seen = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		cfg_add(&sb, "UserKnownHostsFile", hosts[i].known_hosts, &seen);
		cfg_add(&sb, "UserKnownHostsFile", hosts[i].learned_hosts, &seen);
	}
	if (seen.len)
		strbuf_addch(&sb, '\n');
	strbuf_release(&seen);
	size_t before = sb.len;
	for (size_t i = 0; i < n; i++)
		if (hosts[i].key && !strchr(hosts[i].key, '"') && !strchr(hosts[i].key, '\n')) {
			bool dup = false;
			for (size_t k = 0; k < i; k++)
				if (hosts[k].key && !strcmp(hosts[k].key, hosts[i].key))
					dup = true;
			if (!dup)
				strbuf_addf(&sb, "  IdentityFile \"%s\"\n", hosts[i].key);
		}
	if (sb.len != before)
		strbuf_addstr(&sb, "  IdentitiesOnly yes\n");
	FILE *f = fopen(path, "we");
	int rc = -1;
	if (f) {
		rc = fwrite(sb.buf, 1, sb.len, f) == sb.len ? 0 : -1;
		if (fclose(f) != 0)
			rc = -1;
	}
	strbuf_release(&sb);
	return rc;
}

void ssh_argv(struct strvec *av, const struct ssh_host *h, const char *ctl_path,
	      enum ssh_mode mode, int connect_timeout, const char *config)
{
	strvec_push(av, "ssh");
	if (config) {
		strvec_push(av, "-F");
		strvec_push(av, config);
	}
	strvec_push(av, "-T");
	strvec_push(av, "-o");
	strvec_push(av, "BatchMode=yes");
	strvec_pushf(av, "-oConnectTimeout=%d", connect_timeout > 0 ? connect_timeout : 10);
	strvec_push(av, "-oStrictHostKeyChecking=yes");
	if (h->known_hosts) {
		/* ssh reads several files from one whitespace-separated value. */
		if (h->learned_hosts && !strpbrk(h->learned_hosts, " \t") && !strpbrk(h->known_hosts, " \t"))
			strvec_pushf(av, "-oUserKnownHostsFile=%s %s", h->known_hosts, h->learned_hosts);
		else
			strvec_pushf(av, "-oUserKnownHostsFile=%s", h->known_hosts);
		strvec_push(av, "-oGlobalKnownHostsFile=/dev/null");
	}
	strvec_push(av, "-oUpdateHostKeys=no");
	strvec_push(av, "-oServerAliveInterval=5");
	strvec_push(av, "-oServerAliveCountMax=3");
	strvec_push(av, "-oLogLevel=ERROR");
	strvec_push(av, "-oPasswordAuthentication=no");
	strvec_push(av, "-oKbdInteractiveAuthentication=no");
	strvec_pushf(av, "-oControlPath=%s", ctl_path);
	if (mode == SSH_MASTER) {
		strvec_push(av, "-oControlMaster=yes");
		strvec_push(av, "-oControlPersist=no");
		strvec_push(av, "-N");
	} else if (mode == SSH_MASTER_KEEP) {
		strvec_push(av, "-oControlMaster=auto");
		strvec_pushf(av, "-oControlPersist=%d", SSH_KEEP_IDLE_SECONDS);
		strvec_push(av, "-N");
	} else {
		strvec_push(av, "-oControlMaster=no");
	}
	if (h->key) {
		strvec_push(av, "-oIdentitiesOnly=yes");
		strvec_push(av, "-i");
		strvec_push(av, h->key);
	}
	if (h->proxy_jump && *h->proxy_jump) {
		strvec_push(av, "-J");
		strvec_push(av, h->proxy_jump);
	}
	if (h->port > 0)
		strvec_pushf(av, "-p%d", h->port);
	if (h->user && *h->user) {
		strvec_push(av, "-l");
		strvec_push(av, h->user);
	}
	/* "--" ends options: an address can never be read as one. */
	strvec_push(av, "--");
	strvec_push(av, h->address);
}

enum ssh_failure ssh_classify(const char *e)
{
	if (strstr(e, "Host key verification failed") ||
	    strstr(e, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
	    strstr(e, "No ED25519 host key is known") || strstr(e, "host key is known") ||
	    strstr(e, "Host key for"))
		return SSH_FAIL_HOSTKEY;
	if (strstr(e, "Permission denied") || strstr(e, "Too many authentication failures"))
		return SSH_FAIL_AUTH;
	if (strstr(e, "Connection refused") || strstr(e, "timed out") ||
	    strstr(e, "No route to host") || strstr(e, "Network is unreachable") ||
	    strstr(e, "Connection reset") || strstr(e, "Connection closed") ||
	    strstr(e, "kex_exchange_identification") || strstr(e, "Could not resolve") ||
	    strstr(e, "not known") || strstr(e, "Broken pipe") || strstr(e, "lost connection") ||
	    !*e)
		return SSH_FAIL_CONNECT;
	return SSH_FAIL_OTHER;
}

void ssh_host_release(struct ssh_host *h)
{
	free(h->name);
	free(h->address);
	free(h->user);
	free(h->key);
	free(h->known_hosts);
	free(h->learned_hosts);
	free(h->proxy_jump);
	memset(h, 0, sizeof(*h));
}

int ssh_learn_host_key(const char *path, const char *address, int port, const char *key,
		       struct strbuf *err)
{
	struct strbuf name = STRBUF_INIT, old = STRBUF_INIT, out = STRBUF_INIT;
	if (port > 0 && port != 22)
		strbuf_addf(&name, "[%s]:%d", address, port);
	else
		strbuf_addstr(&name, address);
	if (strbuf_read_file(&old, path) < 0 && errno != ENOENT) {
		strbuf_addf(err, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	/* Every other host's line stays; this host's old key (a rebuilt VM) goes. */
	for (char *l = old.buf; *l;) {
		size_t len = strcspn(l, "\n");
		if (!(len > name.len && !strncmp(l, name.buf, name.len) && l[name.len] == ' '))
			strbuf_add(&out, l, len), strbuf_addch(&out, '\n');
		l += len + (l[len] == '\n');
	}
	strbuf_addf(&out, "%s %s\n", name.buf, key);
	if (write_file_atomic(path, out.buf, out.len)) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		goto fail;
	}
	strbuf_release(&name);
	strbuf_release(&old);
	strbuf_release(&out);
	return 0;
fail:
	strbuf_release(&name);
	strbuf_release(&old);
	strbuf_release(&out);
	return -1;
}

int ssh_offered_fingerprint(const char *stderr_text, struct strbuf *out)
{
	const char *f = strstr(stderr_text, "SHA256:");
	if (!f)
		return 0;
	size_t n = strspn(f + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	strbuf_add(out, f, 7 + n);
	return 1;
}
