/* gitlab: the GitLab REST client behind the gitlab.deploy_key builtin (args
 * schema at the top of builtin.c). The access token travels only in the
 * PRIVATE-TOKEN header and never reaches the log. */
#ifndef CLUSTERC_GITLAB_H
#define CLUSTERC_GITLAB_H

#include <jansson.h>

#include "strbuf.h"

/* The builtin; same contract as builtin_run. */
int gitlab_deploy_key(const json_t *args, const json_t *values, const json_t *overrides,
		      json_t *outputs, struct strbuf *log);

/* Appends the "type base64" part of an OpenSSH public key line (options and
 * comment dropped) to out; returns 0, or -1 when line is not such a key. */
int gitlab_key_core(const char *line, struct strbuf *out);

#endif
