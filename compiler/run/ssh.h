/* ssh: the transport. Every connection goes through the system OpenSSH client,
 * built as an argv vector (never a shell string), with one master connection
 * per host that every later command reuses through its control socket.
 *
 * Host keys are pinned: StrictHostKeyChecking=yes against the known_hosts file
 * (the inventory's, or the cluster's) and the keys learned for VMs this run
 * or an earlier one created (read through the Proxmox API, never from the
 * connection itself), the global file ignored, so an unknown
 * or changed key stops the host instead of being accepted. BatchMode=yes: no
 * prompt can ever block a run. */
#ifndef CLUSTERC_SSH_H
#define CLUSTERC_SSH_H

#include "proc.h"
#include "quote.h"
#include "strbuf.h"

struct ssh_host {
	char *name;        /* the node name, for messages */
	char *address;
	int port;          /* 0: ssh's default */
	char *user;        /* NULL: ssh's default */
	char *key;         /* identity file or NULL */
	char *known_hosts; /* the pinned known_hosts file */
	/* Keys this machine learned through a verified API (proxmox.hostkey),
	 * consulted as well; NULL for none. A missing file is no key. */
	char *learned_hosts;
	char *proxy_jump;  /* NULL or user@host:port,... */
};

/* How long a kept master waits for its next client (ssh_keep.h). */
#define SSH_KEEP_IDLE_SECONDS 600

enum ssh_mode {
	SSH_MASTER,  /* the per-host master: -N, ControlMaster=yes */
	/* A kept master (ssh_keep.h): -N, ControlMaster=auto, so that a live
	 * one on the socket is used and the command exits at once, and
	 * ControlPersist, so that a new one outlives this run. */
	SSH_MASTER_KEEP,
	SSH_CLIENT,  /* a command through the master's socket */
};

/* Appends "ssh OPTIONS... [user@]address" to av (the remote command is the
 * caller's to add, as ONE argument built with sq_quote). */
void ssh_argv(struct strvec *av, const struct ssh_host *h, const char *ctl_path,
	      enum ssh_mode mode, int connect_timeout, const char *config);

/* Writes an ssh_config for every connection of a run (-F), so that the legs
 * through a ProxyJump host are held to the same rules: BatchMode, pinned
 * keys from every known_hosts file of the run, the run's identities. It also
 * means ~/.ssh/config is not read: how to reach a node comes from the
 * inventory or plan.json only. Returns 0 or -1. */
int ssh_write_config(const char *path, const struct ssh_host *hosts, size_t n,
		     int connect_timeout, const char *const *extra);

enum ssh_failure {
	SSH_FAIL_OTHER,
	SSH_FAIL_HOSTKEY,  /* unknown or changed host key: never retried */
	SSH_FAIL_AUTH,     /* permission denied: never retried */
	SSH_FAIL_CONNECT,  /* refused, timed out, no route: retried */
};
/* Adds or replaces, in the file at path, the known_hosts line of a host
 * (address, port as ssh names it) with key ("TYPE BASE64"). Atomic; 0 or -1
 * with err set. */
int ssh_learn_host_key(const char *path, const char *address, int port, const char *key,
		       struct strbuf *err);
/* The "SHA256:..." fingerprint ssh printed in stderr_text, appended to out;
 * returns 1 when there was one. */
int ssh_offered_fingerprint(const char *stderr_text, struct strbuf *out);
/* Classifies an ssh client's stderr after exit status 255. */
enum ssh_failure ssh_classify(const char *stderr_text);

void ssh_host_release(struct ssh_host *h);

#endif
