/* sshkey: OpenSSH public host key lines, checked the way sshd writes them. */
#ifndef CLUSTERC_SSHKEY_H
#define CLUSTERC_SSHKEY_H

#include "strbuf.h"

/* An OpenSSH public host key line ("TYPE BASE64 [comment]") of a type sshd
 * makes host keys of, whose blob is in the SSH wire format and names the same
 * type. Appends "TYPE BASE64" (no comment) to out and returns 0; -1 when the
 * line is not one. */
int ssh_host_key_parse(const char *line, struct strbuf *out);

#endif
