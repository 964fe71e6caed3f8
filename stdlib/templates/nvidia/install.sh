#!/usr/bin/env bash
# gpu.nvidia: the nvidia RuntimeClass, the NVIDIA device plugin
# ({{ versions.nvidia_device_plugin }}) on compute=cuda nodes, and the GPU node labels.
set -euo pipefail
CC_STEP=gpu.nvidia
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
{{> templates/apps/kube-lib.sh }}

cc_apply -k cluster/gpu
kubectl -n kube-system rollout status daemonset/nvidia-device-plugin-daemonset --timeout=600s

# gpu_label NODE KEY VALUE: set unless the node has it, so that a converged
# cluster sees no change (and `clusterc drift` a label someone changed).
gpu_label() {
	if [ "$(kubectl get node "$1" -o "jsonpath={.metadata.labels.$2}")" != "$3" ]; then
		kubectl label node "$1" --overwrite "$2=$3" >/dev/null
		cc_changed "$1: label $2=$3"
	fi
}
{{#each gpu_nodes as node}}
{{#if node.labels.compute != "cuda"}}
printf 'warning: GPU node %s has no compute=cuda label, so the device plugin does not run there\n' {{ node.name }} >&2
{{/if}}
gpu_label {{ node.name }} accelerator nvidia-gpu
gpu_label {{ node.name }} gpu-type {{ node.gpu.type }}
printf '%s: nvidia.com/gpu capacity %s\n' {{ node.name }} \
	"$(kubectl get node {{ node.name }} -o 'jsonpath={.status.capacity.nvidia\.com/gpu}')"
{{/each}}
