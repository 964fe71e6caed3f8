/* model_internal: what the model builder (model_build.c, model_features.c),
 * its attribute readers (model_attrs.c) and its rules (check_model.c) share. */
#ifndef CLUSTERC_MODEL_INTERNAL_H
#define CLUSTERC_MODEL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "model.h"
#include "strbuf.h"
#include "strmap.h"

/* One model build: the unit, its diag, the blocks and the model so far. */
struct model_ctx {
	struct unit *u;
	struct diag *d;
	const struct check_blocks *b;
	json_t *model;
};

/* Network facts that rules across blocks share. */
struct netinfo {
	bool have_gateway;
	uint32_t gateway;
	struct loc gateway_loc;
	uint8_t prefix;        /* the node subnet's prefix */
	bool have_pool;
	uint32_t pool;
	uint8_t pool_prefix;
	struct loc pool_loc;
	uint32_t pod, svc;
	uint8_t pod_p, svc_p;
	struct loc pod_loc, svc_loc;
	bool have_pod_loc, have_svc_loc;
	/* Written but unusable (reported already): rules that need it are skipped. */
	bool pod_unknown, svc_unknown;
};

/* ---- model_attrs.c: attribute readers and converters ---------------------- */

/* An attribute's value for the rules, or NULL when it is absent or poisoned
 * (its problem was reported where the value was made: an overflowing number,
 * a missing env(), a bad string), so that no rule piles on. */
struct ast_node *value_get(const struct ast_node *blk, const char *name);
/* A string (or bare name) attribute, an integer (also a size or duration) or
 * a bool; dflt when absent, poisoned or of another kind. */
const char *str_attr(const struct ast_node *blk, const char *name, const char *dflt);
long long int_attr(const struct ast_node *blk, const char *name, long long dflt);
int bool_attr(const struct ast_node *blk, const char *name, int dflt);
json_t *jstr_or_null(const char *s);
/* {"secret": NAME} for a secret() attribute, else null. */
json_t *secret_json(const struct ast_node *blk, const char *name);
/* Dotted-quad and CIDR text; the caller frees it. */
char *fmt_ip(uint32_t a);
char *fmt_cidr(uint32_t a, uint8_t p);
void set_ip(json_t *obj, const char *key, uint32_t a);
void set_cidr(json_t *obj, const char *key, uint32_t a, uint8_t p);
/* Adds a "did you mean" hint when a candidate is close to word. */
void hint_suggest(struct diag *d, const char *word, const char **cands, size_t n);
/* A GPU model as a label value ("GTX 1060" -> "gtx-1060"), in sb. */
const char *gpu_type_of(const char *model, struct strbuf *sb);

/* ---- check_model.c: the cross-block rules ---------------------------------- */

bool rfc1123_label(const char *s);
bool dns_subdomain(const char *s, size_t n);
/* MAJOR.MINOR, as the cluster block's kubernetes and crio give it. */
bool parse_minor_version(const char *s, int *major, int *minor);
void check_upgrade(struct model_ctx *c, const struct ast_node *cl);
/* Kubernetes and CRI-O minor versions, and how they pair. */
void check_versions(struct model_ctx *c, const struct ast_node *cl);
/* A user name that would be an ssh option or break a command line. */
bool bad_ssh_user(const char *user);
void check_ssh_port(struct model_ctx *c, const struct ast_node *ssh);
/* A Proxmox identifier (node, storage, bridge name) in attribute attr. */
void check_pve_id(struct model_ctx *c, const struct ast_node *blk, const char *attr);
/* Records a named block; a second one of that name is reported with both
 * places. Returns false for the duplicate. */
bool first_definition(struct model_ctx *c, struct strmap *seen, struct ast_node *blk);
/* The same for an attribute or map entry (attr, an AST_ATTR): a second one
 * of its name is "<what> 'NAME' is set twice", with a note at the first. */
bool first_setting(struct model_ctx *c, struct strmap *seen, struct ast_node *attr, const char *what);
/* A PCI address in DDDD:BB:SS form. */
bool pci_ok(const char *s);
/* Checks a node's labels and taints, adding the valid ones to out. */
void check_labels(struct model_ctx *c, struct ast_node *labels, json_t *out);
void check_taints(struct model_ctx *c, struct ast_node *taints, json_t *out);
/* Sets cluster "ha" and "control_endpoint" and checks the endpoint. */
void check_control_endpoint(struct model_ctx *c, struct netinfo *ni, json_t *cluster,
			    json_t *nodes);

/* ---- model_features.c: the optional blocks ---------------------------------- */

json_t *build_ceph(struct model_ctx *c, size_t nworkers);
json_t *build_argocd(struct model_ctx *c);
json_t *build_apps(struct model_ctx *c);
json_t *build_monitoring(struct model_ctx *c);
/* stdlib versions.json with the blocks' own pins applied. */
json_t *build_versions(struct model_ctx *c);

#endif
