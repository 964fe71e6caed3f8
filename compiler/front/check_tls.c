/* check_tls: what the runner's API client (api/http.c) would refuse about a
 * proxmox block's TLS settings, refused here instead, located. */
#include "check.h"
#include "sha256.h"

#include <stddef.h>

static const struct ast_node *attr(const struct ast_node *p, const char *name, enum ast_kind kind)
{
	const struct ast_node *v = block_get(p, name);
	return v && !v->poisoned && v->kind == kind ? v : NULL;
}

void check_proxmox_tls(struct diag *d, const struct ast_node *p)
{
	const struct ast_node *fp = attr(p, "fingerprint", AST_STRING);
	const struct ast_node *vt = attr(p, "verify_tls", AST_BOOL);
	unsigned char digest[SHA256_DIGEST_LEN];
	if (fp && sha256_parse_fingerprint(fp->u.str, digest)) {
		diag_error(d, fp->loc, "C0432", "fingerprint is not a sha256 certificate fingerprint");
		diag_hint(d, "copy it from `pvenode cert info` on the Proxmox host (the line "
			  "\"Fingerprint (sha256)\"), e.g. \"sha256:AB:CD:...\" with 32 pairs");
	} else if (fp && block_get(p, "ca_file")) {
		diag_error(d, fp->loc, "C0433", "fingerprint and ca_file both say which certificate to trust");
		diag_hint(d, "keep one: fingerprint pins the host's own certificate, ca_file trusts a CA");
	} else if (fp && vt && !vt->u.boolean) {
		diag_error(d, fp->loc, "C0434", "fingerprint pins a certificate, but verify_tls = false turns checking off");
		diag_hint(d, "remove verify_tls = false");
	} else if (vt && !vt->u.boolean) {
		diag_warning(d, vt->loc, "C0435", "verify_tls = false: the Proxmox password or token goes to "
			     "whoever answers at the endpoint");
		diag_hint(d, "pin the host's certificate instead: fingerprint = \"sha256:...\" "
			  "from `pvenode cert info`");
	}
}
