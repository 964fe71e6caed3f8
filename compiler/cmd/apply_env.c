#include "apply_env.h"
#include "dotenv.h"
#include "fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int apply_env_open(struct apply_env *e, const char *cluster_path, struct strbuf *err)
{
	struct dotenv env = DOTENV_INIT;
	int files = dotenv_load_cluster(&env, cluster_path, err);
	if (files <= 0) {
		dotenv_release(&env);
		return files;
	}
	struct strbuf text = STRBUF_INIT;
	dotenv_format(&env, &text);
	dotenv_release(&env);
	e->fd = memfd_create("clusterc-env", MFD_CLOEXEC);
	if (e->fd < 0 || write_all(e->fd, text.buf, text.len) < 0) {
		strbuf_addf(err, "cannot hold the .env values of %s in memory: %s", cluster_path,
			    strerror(errno));
		strbuf_wipe(&text);
		apply_env_close(e);
		return -1;
	}
	strbuf_wipe(&text);
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "/proc/self/fd/%d", e->fd);
	e->path = strbuf_detach(&path, NULL);
	return 0;
}

void apply_env_close(struct apply_env *e)
{
	if (e->fd >= 0)
		close(e->fd);
	free(e->path);
	e->fd = -1;
	e->path = NULL;
}
