#!/usr/bin/env bash
set -euo pipefail
# kubernetes.upgrade on {{ node.name }}: kubeadm to Kubernetes v{{ cluster.kubernetes }}, then
# {{#if node.first_control}}`kubeadm upgrade plan` and `kubeadm upgrade apply` (the first control node upgrades
# the control plane){{else}}`kubeadm upgrade node`{{#if node.role == "control"}} (this control node's static pods){{else}} (the kubelet configuration){{/if}}{{/if}}. Runs after
# {{#if node.upgrade_after}}{{ node.upgrade_after }} is upgraded and back in service{{else}}the node is set up; it goes first{{/if}}; kubernetes.drain.{{ node.name }} and
# kubernetes.kubelet follow. The commands are in common/upgrade.sh.
CC_STEP=kubernetes.upgrade
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
# shellcheck source=SCRIPTDIR/../../../common/upgrade.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/upgrade.sh"
upgrade_kubeadm {{#if node.role == "control"}}control{{else}}worker{{/if}} {{#if node.first_control}}yes{{else}}no{{/if}}
