#!/usr/bin/env bash
# tests/runner/status.sh: `clusterc status` of out/homelab against a lab host
# playing its first control, k8s-control-1 (tests/lab/lab.sh; root needed),
# through the lab's kubectl shim: nodes with their labels, taints, Ready and
# allocatable (shim state), every other object in the API model
# (tests/lab/kube_model.py), seeded here as a converged cluster, then broken
# one way at a time. Run by tests/runner/run.sh (its counts join the area's),
# or alone: bash tests/runner/status.sh
. "$(dirname "$0")/../lib.sh"
LABSH=$TOP/tests/lab/lab.sh
if [ "$(id -u)" != 0 ] || [ ! -f "$LABSH" ]; then
	echo "skip: the status tests need root and tests/lab/lab.sh"
	finish
	exit $?
fi
export XDG_STATE_HOME=$TMP/state CLUSTERC_TRACE_ARGV=$TMP/argv.trace
TRACE=$CLUSTERC_TRACE_ARGV
LAB=$TMP/lab
at_exit "bash '$LABSH' down '$LAB' >/dev/null 2>&1"
if ! bash "$LABSH" up 1 "$LAB" --names k8s-control-1 >"$TMP/lab.log" 2>&1; then
	fail "lab up" "$(cat "$TMP/lab.log")"
	finish
	exit 1
fi
hsh() { local script=$1; shift; bash "$LABSH" exec "$LAB/k8s-control-1" -- sh -c "$script" _ "$@"; }
expect() { # expect NAME COND-COMMAND...
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "rc=$RC
$(tail -n 30 "$TMP/out")"; fi
}
S=$TMP/status
mkdir -p "$S"
cp -r "$TOP/out/homelab" "$S/homelab"
cat >"$S/objects.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: argocd}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: cilium, namespace: kube-system}
status: {desiredNumberScheduled: 2, numberReady: 2}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: cilium-l2announce-gateway-cilium-gateway-cluster-gateway, namespace: kube-system}
spec: {holderIdentity: k8s-node-1}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: cephfs
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: cephfs.csi.ceph.com
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: whoami, namespace: argocd}
status: {sync: {status: Synced}, health: {status: Healthy}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: alertmanager, namespace: monitoring}
spec: {replicas: 1}
status: {readyReplicas: 1}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: matrix, namespace: monitoring}
spec: {replicas: 1}
status: {readyReplicas: 1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: alertmanager-matrix, namespace: monitoring}
spec: {replicas: 1}
status: {readyReplicas: 1}
YAML
# The Gateway and the pool its address comes from, as the build wrote them
# (the lab's LB-IPAM, tests/lab/kube_model.py, gives the address).
for f in vendor/gateway-api/gateway.networking.k8s.io_gateways.yaml resources/gateway.yaml \
	resources/lb-ippool.yaml; do
	printf -- '---\n' >>"$S/objects.yaml"
	cat "$S/homelab/cluster/network/$f" >>"$S/objects.yaml"
done
KSTATE=/var/lib/clusterc-lab/kube
hsh 'rm -rf "$1" &&
	kubectl label node k8s-control-1 infra=proxmox role=main-control >/dev/null &&
	kubectl label node k8s-node-1 compute=cuda infra=proxmox role=main-node >/dev/null &&
	echo nvidia.com/gpu=1 >"$1/nodes/k8s-node-1/allocatable" &&
	kubectl apply -f /usr/local/lib/clusterc-lab/kube-remote/argocd/application-crd.yaml >/dev/null &&
	kubectl apply -f /usr/local/lib/clusterc-lab/kube-remote/cilium/ >/dev/null &&
	kubectl apply -f - >/dev/null' "$KSTATE" <"$S/objects.yaml"
# status_run: clusterc status, output in $TMP/out, exit status in $RC
status_run() {
	clusterc status "$S/homelab" --inventory "$LAB/inventory.json" >"$TMP/out" 2>&1
	RC=$?
}
status_run
status_all_ok() {
	test "$RC" = 0 && grep -q '^status of homelab (read through k8s-control-1):' "$TMP/out" &&
		grep -qE '^  ok   nodes +2/2 Ready, labels and taints as the file says$' "$TMP/out" &&
		grep -qE '^  ok   cilium +2/2 agents ready$' "$TMP/out" &&
		grep -qE '^  ok   l2 +1 lease: gateway-cilium-gateway-cluster-gateway on k8s-node-1$' "$TMP/out" &&
		grep -qE '^  ok   address +192\.168\.1\.192 \(Gateway gateway/cluster-gateway, pool 192\.168\.1\.192/27\)$' "$TMP/out" &&
		grep -qE '^  ok   storage +cephfs \(default\)$' "$TMP/out" &&
		grep -qE '^  ok   gpu +k8s-node-1: nvidia.com/gpu allocatable 1$' "$TMP/out" &&
		grep -qE '^  ok   argocd +1/1 applications synced and healthy$' "$TMP/out" &&
		grep -qE '^  ok   alerts +alertmanager 1/1, alertmanager-matrix 1/1, matrix 1/1$' "$TMP/out" &&
		! grep -q FAIL "$TMP/out" && [ "$(wc -l <"$TMP/out")" -le 24 ]
}
expect "status: a converged cluster is all ok, exit 0, on one screen" status_all_ok
expect "status: read through the pinned ssh of the runner (BatchMode, known_hosts)" \
	grep -q 'ssh -F [^ ]*/ssh_config -T -o BatchMode=yes.*StrictHostKeyChecking=yes.*UserKnownHostsFile' "$TRACE"
apps=$(hsh 'kubectl get applications -n argocd -o name')
expect "status: reads only: the objects are as seeded" test "$apps" = application/whoami

# Broken one way at a time: each is named and the exit status is 1.
hsh 'echo False >"$1/nodes/k8s-node-1/ready"; kubectl label node k8s-node-1 compute- >/dev/null;
	rm -f "$1/nodes/k8s-node-1/allocatable"' "$KSTATE"
status_run
status_broken_nodes() {
	test "$RC" = 1 && grep -qE '^  FAIL node +k8s-node-1 is not Ready$' "$TMP/out" &&
		grep -qE '^  FAIL node +k8s-node-1: label compute is missing, the file says "cuda"$' "$TMP/out" &&
		grep -qE '^  FAIL gpu +k8s-node-1: nvidia.com/gpu allocatable none$' "$TMP/out" &&
		grep -qE '^[0-9]+ problems$' "$TMP/out"
}
expect "status: a NotReady node, a missing label, no GPU allocatable: named, exit 1" status_broken_nodes
hsh 'rm -f "$1/nodes/k8s-node-1/ready"; kubectl label node k8s-node-1 compute=cuda >/dev/null;
	echo nvidia.com/gpu=1 >"$1/nodes/k8s-node-1/allocatable";
	kubectl patch application whoami -n argocd --type merge -p "{\"status\":{\"sync\":{\"status\":\"OutOfSync\"},\"health\":{\"status\":\"Degraded\"}}}" >/dev/null;
	kubectl patch statefulset matrix -n monitoring --type merge -p "{\"status\":{\"readyReplicas\":0}}" >/dev/null;
	kubectl delete lease cilium-l2announce-gateway-cilium-gateway-cluster-gateway -n kube-system >/dev/null;
	kubectl patch gateway cluster-gateway -n gateway --type merge -p "{\"status\":{\"addresses\":[{\"type\":\"IPAddress\",\"value\":\"10.9.9.9\"}]}}" >/dev/null' "$KSTATE"
status_run
status_broken_apps() {
	test "$RC" = 1 && grep -qE '^  ok   nodes ' "$TMP/out" &&
		grep -qE '^  FAIL argocd +whoami: OutOfSync, Degraded$' "$TMP/out" &&
		grep -qE '^  FAIL alerts +alertmanager 1/1, alertmanager-matrix 1/1, matrix 0/1$' "$TMP/out" &&
		grep -qE '^  FAIL l2 +no L2 announcement lease' "$TMP/out" &&
		grep -qE '^  FAIL address +Gateway gateway/cluster-gateway answers on 10\.9\.9\.9, outside the pool 192\.168\.1\.192/27$' "$TMP/out" &&
		grep -qE '^4 problems$' "$TMP/out"
}
expect "status: an app out of sync, Matrix down, no L2 lease, an address outside the pool: named, exit 1" status_broken_apps
# No pool left to give one: the Gateway stays without an address.
hsh 'kubectl delete ciliumloadbalancerippool cilium-loadbalancer-ippool >/dev/null &&
	kubectl patch gateway cluster-gateway -n gateway --type merge -p "{\"status\":{\"addresses\":[]}}" >/dev/null'
status_run
expect "status: a Gateway without an address: named, exit 1" sh -c "test $RC = 1 &&
	grep -qE '^  FAIL address +Gateway gateway/cluster-gateway has no address from the pool 192\.168\.1\.192/27 \(LB-IPAM\)$' '$TMP/out'"
bash "$LABSH" kill-sshd "$LAB" k8s-control-1 >/dev/null 2>&1
status_run
expect "status: an unreachable first control is exit 2, said on stderr" \
	sh -c "test $RC = 2 && grep -q 'clusterc: status: reading the cluster through k8s-control-1 failed' '$TMP/out'"
finish
