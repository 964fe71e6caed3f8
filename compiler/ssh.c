#include "ssh.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

void ssh_argv(struct strvec *av, const struct ssh_host *h, const char *ctl_path,
	      enum ssh_mode mode, int connect_timeout)
{
	strvec_push(av, "ssh");
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
