/* remote: what the runner sends to a host. The scripts are stdlib/runner/<name>.sh,
 * built into the binary (never read from --stdlib or the disk: they are part
 * of the program, like its C); each runs as `bash -c SCRIPT clusterc ARGS...`
 * as root. The remote layout they share is in compiler/run/README.md. */
#ifndef CLUSTERC_REMOTE_H
#define CLUSTERC_REMOTE_H

#include "ssh.h"
#include "strbuf.h"

#define REMOTE_BASE "/var/lib/clusterc"

/* Exit statuses step.sh uses for the runner's own failures, not the step's
 * (a step script should not exit with them). stdlib/runner/step.sh writes
 * the same numbers. */
enum remote_exit {
	/* The step printed an output line for a name plan.json does not name
	 * it the producer of: refused, and not recorded on the host. */
	REMOTE_EXIT_FORGED = 95,
	/* The step exited 0 but its hash could not be recorded (state/<step>
	 * on the host; the local state file for local and builtin steps). */
	REMOTE_EXIT_NOT_RECORDED = 96,
	/* DIR/bundle is missing on the host: nothing ran. */
	REMOTE_EXIT_NO_BUNDLE = 97,
};

enum remote_script {
	REMOTE_PREP,    /* prep.sh: read the records, take the lock */
	REMOTE_SHIP,    /* ship.sh: unpack the bundle from stdin */
	REMOTE_STEP,    /* step.sh: run one step, record its hash */
	REMOTE_CANCEL,  /* cancel.sh: TERM a running step */
	REMOTE_RELEASE, /* release.sh: drop our lock */
	REMOTE_REBOOT,  /* reboot.sh: reboot, detached */
	REMOTE_STATUS,  /* status.sh: the objects `clusterc status` checks, read only */
	REMOTE_LB_ADDRESS, /* lb-address.sh: the web UIs' LoadBalancer address, read only */
};

/* The text sent for a script: its file without the leading comment block
 * (the '#' lines and one blank line after them). Static storage. */
const char *remote_script(enum remote_script which);

/* REMOTE_BASE/<cluster>: the cluster's directory on a host. Caller frees. */
char *remote_dir(const char *cluster);

/* The remote command line: one string, every argument quoted. */
void remote_cmd(struct strbuf *cmd, const struct ssh_host *sh, const char *script,
		const char *const *args);

#endif
