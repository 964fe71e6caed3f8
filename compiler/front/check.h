/* check: every rejection of LANGUAGE.md, in two passes.
 *  check_schema.c: block types, names, attribute names and types, required
 *    attributes, counts, secrets only where allowed ("did you mean" on typos);
 *  check_model.c:  cross-block rules (duplicates, subnets, overlaps, labels,
 *    references, versions), applied by model_build (model.h) while it builds
 *    the resolved model as JSON;
 *  check_runtime.c: what kubeadm and the controller manager would refuse at
 *    run time (control-plane minimums, CIDR sizes and capacity, the kubeadm
 *    configuration format), applied by model_build after the nodes are read.
 * Both report through the unit's diag and never stop at the first problem. */
#ifndef CLUSTERC_CHECK_H
#define CLUSTERC_CHECK_H

#include <jansson.h>

#include "resolve.h"

struct check_blocks {
	struct ast_node *cluster, *network, *ceph, *argocd, *monitoring, *versions;
	struct ast_node **proxmox, **images, **nodes, **apps;
	size_t nproxmox, nimages, nnodes, napps;
};

void check_blocks_release(struct check_blocks *b);
void check_schema(struct unit *u, struct check_blocks *out);

/* The value of attribute `name` in a block (or the nested block of that type),
 * the first one written; NULL when absent. */
struct ast_node *block_get(const struct ast_node *block, const char *name);

/* check_tls.c: a proxmox block's TLS settings (fingerprint, ca_file,
 * verify_tls), as the API client will apply them. */
void check_proxmox_tls(struct diag *d, const struct ast_node *proxmox);

struct model_ctx;
struct netinfo;
void check_runtime(struct model_ctx *c, const struct netinfo *ni);

#endif
