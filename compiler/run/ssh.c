#include "ssh.h"
#include "xalloc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cfg_list(struct strbuf *sb, const char *key, const struct ssh_host *hosts,
		     size_t n, size_t off)
{
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		const char *v = *(char *const *)((const char *)&hosts[i] + off);
		bool dup = false;
		if (!v || strchr(v, '"') || strchr(v, '\n'))
			continue;
		for (size_t k = 0; k < i; k++) {
			const char *w = *(char *const *)((const char *)&hosts[k] + off);
			if (w && !strcmp(w, v))
				dup = true;
		}
		if (dup)
			continue;
		if (!any)
			strbuf_addf(sb, "  %s", key);
		strbuf_addf(sb, " \"%s\"", v);
		any = true;
	}
	if (any)
		strbuf_addch(sb, '\n');
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
	cfg_list(&sb, "UserKnownHostsFile", hosts, n, offsetof(struct ssh_host, known_hosts));
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
	free(h->proxy_jump);
	memset(h, 0, sizeof(*h));
}
