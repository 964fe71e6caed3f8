#!/usr/bin/env bash
set -euo pipefail
# feature.remove.{{ feature.name }} for {{ cluster.name }}: the {{ feature.name }} block is gone from the cluster
# file, so what it installed in the cluster goes too, from the first control node. Never
# its data: no PersistentVolumeClaim, PersistentVolume or Ceph pool is deleted, and
# what the nodes have (drivers, packages) stays. Each part checks first, so a second
# run changes nothing.
{{#if feature.name == "gpu"}}
# gpu: the NVIDIA device plugin DaemonSet, the nvidia RuntimeClass, and the node labels
# gpu.nvidia set (accelerator, gpu-type). Pods already running with the runtime class
# keep running; no new GPU pod is scheduled.
{{/if}}
{{#if feature.name == "ceph"}}
# ceph: the CephFS CSI driver (its Helm release), its StorageClass and its Secret.
# Volumes already bound keep their PersistentVolumes (reclaim policy Retain) and their
# data in the pool; with no driver, new mounts of them fail until the block is back.
{{/if}}
{{#if feature.name == "monitoring"}}
# monitoring: the monitoring Application and what it deployed (a cascading delete:
# Argo CD's resources finalizer, https://argo-cd.readthedocs.io/en/release-3.3/user-guide/app_deletion/);
# the Prometheus volume stays (Delete=false on its PVC).
{{/if}}
CC_STEP=feature.remove.{{ feature.name }}
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
export KUBECONFIG=/etc/kubernetes/admin.conf

# gone KIND NAME [NAMESPACE]: deletes the object when it exists.
gone() {
	local ns=()
	[ -z "${3:-}" ] || ns=(-n "$3")
	if kubectl "${ns[@]}" get "$1" "$2" -o name >/dev/null 2>&1; then
		kubectl "${ns[@]}" delete "$1" "$2" --wait=false >/dev/null
		cc_changed "deleted $1 $2${3:+ in $3}"
	fi
}
{{#if feature.name == "gpu"}}
gone daemonset nvidia-device-plugin-daemonset kube-system
gone runtimeclass nvidia
for node in $(kubectl get nodes -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}'); do
	for key in accelerator gpu-type; do
		if grep -q -F "\"$key\":" <<<"$(kubectl get node "$node" -o jsonpath='{.metadata.labels}')"; then
			kubectl label node "$node" "$key-" >/dev/null
			cc_changed "$node: removed label $key"
		fi
	done
done
{{/if}}
{{#if feature.name == "ceph"}}
if helm status ceph-csi-cephfs --namespace ceph-csi-cephfs >/dev/null 2>&1; then
	helm uninstall ceph-csi-cephfs --namespace ceph-csi-cephfs --wait --timeout 10m
	cc_changed "uninstalled the Helm release ceph-csi-cephfs"
fi
gone storageclass cephfs-retain
gone secret csi-cephfs-secret ceph-csi-cephfs
{{/if}}
{{#if feature.name == "monitoring"}}
if kubectl -n argocd get application monitoring -o name >/dev/null 2>&1; then
	kubectl -n argocd patch application monitoring --type merge \
		-p '{"metadata":{"finalizers":["resources-finalizer.argocd.argoproj.io"]}}' >/dev/null
	kubectl -n argocd delete application monitoring --wait=false >/dev/null
	cc_changed "deleted Application monitoring and what it deployed (its volume stays)"
fi
{{/if}}
