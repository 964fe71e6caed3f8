#!/usr/bin/env bash
set -euo pipefail
# kubernetes.upgrade on {{ node.name }}: kubeadm to Kubernetes v{{ cluster.kubernetes }}, then
# {{#if node.first_control}}`kubeadm upgrade plan` and `kubeadm upgrade apply` (the first control node upgrades
# the control plane){{else}}`kubeadm upgrade node`{{#if node.role == "control"}} (this control node's static pods){{else}} (the kubelet configuration){{/if}}{{/if}}. Runs after
# {{#if node.upgrade_after}}{{ node.upgrade_after }} is upgraded and back in service{{else}}the node is set up; it goes first{{/if}}; kubernetes.drain.{{ node.name }} and
# kubernetes.kubelet follow. A node already at {{ cluster.kubernetes }} (every node of a cluster
# set up at this version) has nothing to do: the step checks and exits.
CC_STEP=kubernetes.upgrade
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
{{> templates/kubernetes/upgrade-lib.sh }}

control_plane_minor() {
	sed -n 's|.*image: .*/kube-apiserver:v\([0-9]*\.[0-9]*\)\..*|\1|p' \
		/etc/kubernetes/manifests/kube-apiserver.yaml 2>/dev/null | head -n 1
}
{{#if node.role == "control"}}
behind() { [ "$(control_plane_minor)" != "$K8S_MINOR" ] || [ "$(pkg_minor kubelet)" != "$K8S_MINOR" ]; }
{{else}}
behind() { [ "$(pkg_minor kubelet)" != "$K8S_MINOR" ]; }
{{/if}}
if ! behind; then
	cc_log "kubelet{{#if node.role == "control"}} and the control plane{{/if}} are at $K8S_MINOR: nothing to upgrade"
	exit 0
fi
[ -f /etc/kubernetes/kubelet.conf ] || cc_die "the node has not joined a cluster: nothing to upgrade"

if [ "$(pkg_minor kubeadm)" != "$K8S_MINOR" ]; then
	# os.packages moved the repository to the new minor; read it.
	apt-get update
	v=$(newest_patch kubeadm "$K8S_MINOR")
	[ -n "$v" ] || cc_die "apt-cache madison kubeadm lists no $K8S_MINOR version: is the repository of v$K8S_MINOR set up (os.packages)?"
	upgrade_held "$v" kubeadm
fi
target=v$(pkg_version kubeadm)
target=${target%%-*}
cc_valid '^v[0-9]+\.[0-9]+\.[0-9]+$' "$target" "the kubeadm version"
{{#if node.first_control}}
if [ "$(control_plane_minor)" != "$K8S_MINOR" ]; then
	kubeadm upgrade plan "$target"
	kubeadm upgrade apply -y "$target"
	cc_changed "control plane upgraded to $target (kubeadm upgrade apply)"
fi
{{else}}
{{#if node.role == "control"}}
if [ "$(control_plane_minor)" != "$K8S_MINOR" ]; then
	kubeadm upgrade node
	cc_changed "control plane instance upgraded to $target (kubeadm upgrade node)"
fi
{{else}}
kubeadm upgrade node
cc_changed "kubelet configuration upgraded for $target (kubeadm upgrade node)"
{{/if}}
{{/if}}
