/* builtin: actions the runner performs itself instead of running a script over
 * SSH: talking to the Proxmox and GitLab APIs (proxmox.c, gitlab.c).
 *
 * A plan step with "builtin": NAME and "args": FILE is executed by calling
 * builtin_run(NAME, args) where args is the parsed JSON of FILE. Values the
 * step declared under "secrets" and "inputs" arrive in `values` (name -> value,
 * in memory only); values the builtin produces for later steps go into
 * `outputs` (name -> string). Human-readable progress goes to `log`, which the
 * runner writes to the step's log file; secrets must never be written there.
 * `overrides` is the inventory's "proxmox"/"gitlab" object (endpoints for a
 * lab), or NULL.
 *
 * Returns 0 on success, 1 on a failure the log explains. Network failures that
 * a retry can fix are retried inside the builtin, with backoff and a bound. */
#ifndef CLUSTERC_BUILTIN_H
#define CLUSTERC_BUILTIN_H

#include <jansson.h>

#include "strbuf.h"

int builtin_run(const char *name, const json_t *args, const json_t *values,
		const json_t *overrides, json_t *outputs, struct strbuf *log);
/* 1 when name is a builtin this binary knows. */
int builtin_exists(const char *name);

/* Helpers the builtins share (builtin.c). */
/* Writes err to the log, each top-level line as "error: ..."; continuation
 * lines (indented) as they are. */
void builtin_log_error(struct strbuf *log, const struct strbuf *err);
/* obj[key] when it is a string, else NULL. */
const char *builtin_str_arg(const json_t *obj, const char *key);
/* Appends the secret or input name (from `values`) to out without the
 * trailing bytes in trim (each builtin says which: a password may end in a
 * blank, a token may not). Returns 0, or -1 when it is missing or empty. */
int builtin_value(const json_t *values, const char *name, const char *trim, struct strbuf *out);

#endif
