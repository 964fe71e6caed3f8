/* check_runtime: what kubeadm and the controller manager would refuse at run
 * time, refused here instead, with the runtime's own rule in the hint. Each
 * rule names the upstream code it mirrors (kubernetes/kubernetes at the
 * pinned minor). The rules that Proxmox, the API server's name validation and
 * CRI-O pairing impose live where the value is read (model_build.c,
 * check_model.c); tests/diagnostics/RUNTIME-RULES.md lists them all. */
#include "model_internal.h"

#include <string.h>

/* cmd/kubeadm/app/constants/constants.go: ControlPlaneNumCPU, ControlPlaneMem. */
enum { CONTROL_MIN_CPUS = 2, CONTROL_MIN_MIB = 1700 };
/* constants.go: MaximumBitsForServiceSubnet, MinimumAddressesInServiceSubnet,
 * PodSubnetNodeMaskMaxDiff; validation.go getClusterNodeMask: the
 * controller manager's default node-cidr-mask-size-ipv4, which the generated
 * kubeadm configuration does not change. */
enum { SERVICE_MAX_HOST_BITS = 20, SERVICE_MIN_ADDRESSES = 10, NODE_MASK = 24, NODE_MASK_MAX_DIFF = 16 };
/* The generated kubeadm files are kubeadm.k8s.io/v1beta4, which kubeadm
 * reads from 1.31 on (cmd/kubeadm/app/apis/kubeadm/v1beta4/doc.go). */
enum { KUBEADM_V1BETA4_MINOR = 31 };

/* kubeadm preflight (cmd/kubeadm/app/preflight/checks.go, NumCPUCheck and
 * MemCheck, run by RunInitNodeChecks for init and a control-plane join)
 * refuses a control-plane machine with fewer than 2 CPUs or 1700 MB. Only a
 * VM's size is known at compile time. */
static void check_control_machine(struct model_ctx *c, const struct ast_node *nb)
{
	const struct ast_node *vm = block_get(nb, "vm");
	if (!vm || vm->kind != AST_BLOCK)
		return;
	struct ast_node *cv = value_get(vm, "cores"), *mv = value_get(vm, "memory");
	if (cv && cv->kind == AST_INT && cv->u.num >= 1 && cv->u.num < CONTROL_MIN_CPUS) {
		diag_error(c->d, cv->loc, "C0424", "control node '%s' has %llu CPU: kubeadm needs at least %d",
			   nb->u.block.name, (unsigned long long)cv->u.num, CONTROL_MIN_CPUS);
		diag_hint(c->d, "kubeadm preflight NumCPU: \"the number of available CPUs 1 is less than the required 2\"");
	}
	/* Sizes under 512MiB were refused where memory is read. */
	if (mv && mv->kind == AST_SIZE && mv->u.num >= (512ull << 20) && mv->u.num < ((unsigned long long)CONTROL_MIN_MIB << 20)) {
		diag_error(c->d, mv->loc, "C0425", "control node '%s' has %llu MiB: kubeadm needs at least %d MB",
			   nb->u.block.name, (unsigned long long)(mv->u.num >> 20), CONTROL_MIN_MIB);
		diag_hint(c->d, "kubeadm preflight Mem: \"the system RAM is less than the minimum 1700 MB\"; "
			  "give a control VM 2GiB or more, since the guest kernel keeps part of it");
	}
}

/* cmd/kubeadm/app/apis/kubeadm/validation/validation.go, ValidateNetworking:
 * ValidateServiceSubnetSize (the API server's own rule: at most 20 host bits)
 * and ValidateIPNetFromString with MinimumAddressesInServiceSubnet (the
 * kubernetes Service takes the first address, CoreDNS the tenth). */
static void check_service_cidr(struct model_ctx *c, const struct netinfo *ni)
{
	if (ni->svc_unknown || !ni->have_svc_loc)
		return;
	unsigned host_bits = 32u - ni->svc_p;
	if (host_bits > SERVICE_MAX_HOST_BITS) {
		diag_error(c->d, ni->svc_loc, "C0426", "service_cidr /%u is too large: the API server allows at most /%d",
			   ni->svc_p, 32 - SERVICE_MAX_HOST_BITS);
		diag_hint(c->d, "kube-apiserver and kubeadm: \"specified service subnet is too large; for 32-bit addresses, the mask must be >= 12\"");
	} else if ((1ull << host_bits) < SERVICE_MIN_ADDRESSES) {
		diag_error(c->d, ni->svc_loc, "C0427", "service_cidr /%u has %llu addresses: kubeadm needs at least %d",
			   ni->svc_p, 1ull << host_bits, SERVICE_MIN_ADDRESSES);
		diag_hint(c->d, "kubeadm: \"subnet is too small\"; the cluster DNS service takes the tenth address, so use /28 or larger");
	}
}

/* validation.go ValidatePodSubnetNodeMask: the pod CIDR must hold at least
 * one node range (/24) and differ from it by at most 16 bits. Then
 * pkg/controller/nodeipam/ipam/cidrset/cidr_set.go AllocateNext: the
 * controller manager gives each node one /24 and, when they are all taken,
 * leaves a node without a pod range ("no remaining CIDRs left to allocate"),
 * so Cilium (ipam: kubernetes) never starts there. */
static void check_pod_cidr(struct model_ctx *c, const struct netinfo *ni, size_t nnodes)
{
	if (ni->pod_unknown || !ni->have_pod_loc)
		return;
	int p = ni->pod_p;
	if (p > NODE_MASK) {
		diag_error(c->d, ni->pod_loc, "C0428", "pod_cidr /%d is smaller than one node's pod range /%d", p, NODE_MASK);
		diag_hint(c->d, "kubeadm: \"the size of pod subnet with mask %d is smaller than the size of node subnet with mask 24\"", p);
		return;
	}
	if (NODE_MASK - p > NODE_MASK_MAX_DIFF) {
		diag_error(c->d, ni->pod_loc, "C0429", "pod_cidr /%d is too large for node ranges of /%d", p, NODE_MASK);
		diag_hint(c->d, "kubeadm: \"pod subnet mask (%d) and node-mask (24) difference is greater than 16\"; use /8 or longer", p);
		return;
	}
	unsigned long long ranges = 1ull << (NODE_MASK - p);
	if (nnodes > ranges) {
		diag_error(c->d, ni->pod_loc, "C0430", "pod_cidr /%d has room for %llu nodes, but the cluster has %zu", p, ranges, nnodes);
		diag_hint(c->d, "the controller manager gives each node a /24 of the pod CIDR (node-cidr-mask-size 24); "
			  "a node past the last one gets none and its pods never start");
	}
}

/* The kubeadm configuration format the build writes (see KUBEADM_V1BETA4_MINOR). */
static void check_kubeadm_format(struct model_ctx *c)
{
	struct ast_node *kv = value_get(c->b->cluster, "kubernetes");
	int major, minor;
	if (!kv || kv->kind != AST_STRING || !parse_minor_version(kv->u.str, &major, &minor) || major != 1)
		return;
	if (minor < KUBEADM_V1BETA4_MINOR) {
		diag_error(c->d, kv->loc, "C0431", "Kubernetes %s is too old for the kubeadm configuration clusterc writes", kv->u.str);
		diag_hint(c->d, "the files are kubeadm.k8s.io/v1beta4, which kubeadm reads from 1.%d on; use 1.%d or newer",
			  KUBEADM_V1BETA4_MINOR, KUBEADM_V1BETA4_MINOR);
	}
}

void check_runtime(struct model_ctx *c, const struct netinfo *ni)
{
	for (size_t i = 0; i < c->b->nnodes; i++) {
		const struct ast_node *nb = c->b->nodes[i];
		const char *role = str_attr(nb, "role", "");
		if (!nb->poisoned && !strcmp(role, "control"))
			check_control_machine(c, nb);
	}
	check_service_cidr(c, ni);
	check_pod_cidr(c, ni, c->b->nnodes);
	check_kubeadm_format(c);
}
