# shellcheck shell=bash
# status.sh: what `clusterc status` reads on the first control node, as root
# with the cluster's admin kubeconfig: each object list it checks as
# `kubectl get -o json`, after a line "::clusterc::status NAME RC"
# (compiler/run/status.c). Reads only; changes nothing.
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

export KUBECONFIG=/etc/kubernetes/admin.conf
section() {
	local name=$1 out rc
	shift
	out=$(kubectl "$@" -o json 2>&1)
	rc=$?
	printf '::clusterc::status %s %d\n%s\n' "$name" "$rc" "$out"
}
section nodes get nodes
section cilium -n kube-system get daemonsets
section leases -n kube-system get leases
section storageclasses get storageclasses
section applications -n argocd get applications
section monitoring_sts -n monitoring get statefulsets
section monitoring_deploy -n monitoring get deployments
section gateways -n gateway get gateways
section kube_services -n kube-system get services
