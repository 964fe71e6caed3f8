/* apply_env: the secrets `apply FILE.cluster` hands the runner are the .env
 * files the build of FILE read, merged the way the build merged them
 * (lib/dotenv's dotenv_read_cluster decides both), so a step receives the
 * value env() would have seen. The runner reads one env file by path (what
 * --env names), so the merged set goes to an anonymous in-memory file
 * (memfd_create) that the runner opens as /proc/self/fd/N: the secrets are
 * never copied to disk. */
#ifndef CLUSTERC_APPLY_ENV_H
#define CLUSTERC_APPLY_ENV_H

#include "strbuf.h"

struct apply_env {
	int fd;      /* -1 when there is none */
	char *path;  /* what the runner reads, or NULL: no .env beside the file */
};

#define APPLY_ENV_INIT { -1, NULL }

/* Reads the .env files of cluster_path into e. Returns 0 (e->path NULL when
 * no file was there), or -1 with err holding one "path:line:col: reason" line
 * per malformed line, or why the in-memory file could not be made. */
int apply_env_open(struct apply_env *e, const char *cluster_path, struct strbuf *err);
void apply_env_close(struct apply_env *e);

#endif
