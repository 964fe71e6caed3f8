/* remote: the remote scripts and the command line that runs them (remote.h). */
#include "remote.h"
#include "quote.h"
#include "stdlib_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const script_files[] = {
	[REMOTE_PREP] = "runner/prep.sh",
	[REMOTE_SHIP] = "runner/ship.sh",
	[REMOTE_STEP] = "runner/step.sh",
	[REMOTE_CANCEL] = "runner/cancel.sh",
	[REMOTE_RELEASE] = "runner/release.sh",
	[REMOTE_REBOOT] = "runner/reboot.sh",
	[REMOTE_STATUS] = "runner/status.sh",
	[REMOTE_LB_ADDRESS] = "runner/lb-address.sh",
};

const char *remote_script(enum remote_script which)
{
	const char *text = stdlib_embedded(script_files[which], NULL);
	if (!text) {
		/* The Makefile embeds every stdlib file: a broken build. */
		fprintf(stderr, "clusterc: stdlib/%s is not built into this binary\n",
			script_files[which]);
		abort();
	}
	while (*text == '#') {
		size_t n = strcspn(text, "\n");
		text += n + (text[n] == '\n');
	}
	if (*text == '\n')
		text++;
	return text;
}

char *remote_dir(const char *cluster)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, REMOTE_BASE "/%s", cluster);
	return strbuf_detach(&sb, NULL);
}

/* The script runs under bash as root: directly when the login is root, else
 * through sudo -n (never a password prompt). */
void remote_cmd(struct strbuf *cmd, const struct ssh_host *sh, const char *script,
		const char *const *args)
{
	if (sh->user && !strcmp(sh->user, "root"))
		strbuf_addstr(cmd, "exec bash -c ");
	else if (sh->user)
		strbuf_addstr(cmd, "exec sudo -n bash -c ");
	else
		strbuf_addstr(cmd, "S=; [ \"$(id -u)\" = 0 ] || S='sudo -n'; exec $S bash -c ");
	sq_quote(cmd, script);
	strbuf_addstr(cmd, " clusterc");
	for (; *args; args++) {
		strbuf_addch(cmd, ' ');
		sq_quote(cmd, *args);
	}
}
