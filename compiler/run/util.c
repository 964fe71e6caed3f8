/* run_util: small helpers of the runner (see run.h). */
#include "dotenv.h"
#include "run.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>


int env_file_load(json_t *obj, const char *path, struct strbuf *err)
{
	struct dotenv env = DOTENV_INIT;
	int rc = dotenv_load_file(&env, path, err);
	for (size_t i = 0; rc == 0 && i < env.n; i++) {
		/* jansson holds UTF-8 only; a value it refuses is an error, not a
		 * secret that silently goes missing. */
		json_t *v = json_string(env.vars[i].value);
		if (!v) {
			strbuf_addf(err, "%s: the value of %s is not UTF-8 text", path, env.vars[i].name);
			rc = -1;
		} else {
			json_object_set_new(obj, env.vars[i].name, v);
		}
	}
	dotenv_release(&env);
	return rc;
}

bool safe_name(const char *s)
{
	if (!s || !*s || s[0] == '-' || s[0] == '.')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '@' || c == '+'))
			return false;
	}
	return true;
}

char *state_home(const char *cluster)
{
	struct strbuf sb = STRBUF_INIT;
	const char *x = getenv("XDG_STATE_HOME");
	if (x && *x)
		strbuf_addstr(&sb, x);
	else
		strbuf_addf(&sb, "%s/.local/state", getenv("HOME") ? getenv("HOME") : "/tmp");
	strbuf_addf(&sb, "/clusterc/%s", cluster);
	return strbuf_detach(&sb, NULL);
}

void protect_secrets(void)
{
	/* Not dumpable: no core file, and no other process of this user may
	 * ptrace it or read its /proc/PID/mem or environ. Belt and braces: a
	 * core limit of 0 in case something makes it dumpable again. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	struct rlimit rl = { 0, 0 };
	setrlimit(RLIMIT_CORE, &rl);
}
