# shellcheck shell=bash
# common/upgrade.sh for {{ cluster.name }}: the Kubernetes upgrade, sourced after the prelude by
# each node's kubernetes.upgrade and kubernetes.kubelet steps and by the first control
# node's kubernetes.drain.NODE and kubernetes.uncordon.NODE steps (one copy per bundle,
# in each of those steps' files, so it stays inside their hashes).
# The order and commands are kubeadm's ("Upgrading kubeadm clusters",
# https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/):
# kubeadm first, to the newest patch of the new minor that `apt-cache madison`
# lists, then `kubeadm upgrade apply` (the first control node) or `kubeadm
# upgrade node` (every other node); then, drained, kubelet and kubectl at the
# same version, daemon-reload, kubelet restarted; each package held again; then
# Ready and uncordoned before the next node starts. Every function checks first:
# a node already at {{ cluster.kubernetes }} (every node of a cluster set up at this version) has
# nothing to do.
K8S_MINOR={{ cluster.kubernetes }}
CRIO_MINOR={{ cluster.crio }}
cc_valid '^[0-9]+\.[0-9]+$' "$K8S_MINOR" "the Kubernetes version"
cc_valid '^[0-9]+\.[0-9]+$' "$CRIO_MINOR" "the CRI-O version"
# Only a node clusterc cordons carries it, and only such a node is uncordoned.
UPGRADE_MARK=clusterc.dev/drained-for-upgrade

# pkg_minor PKG: "1.34" when 1.34.x is installed, empty when PKG is not installed.
pkg_minor() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null | cut -d. -f1,2 || true; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
# newest_patch PKG MINOR: the newest MINOR.x version of PKG the repositories
# have (apt-cache madison lists the newest first), or nothing.
newest_patch() {
	apt-cache madison "$1" | awk -F'|' -v m="$2" '{ gsub(/ /, "", $2); if (index($2, m ".") == 1) { print $2; exit } }'
}
# upgrade_held VERSION PKG...: moves held packages to VERSION: unhold, install, hold.
upgrade_held() {
	local v=$1
	shift
	apt-mark unhold "$@" >/dev/null
	apt-get install -y "${@/%/=$v}"
	apt-mark hold "$@" >/dev/null
	cc_changed "$* $v installed and held"
}
control_plane_minor() {
	sed -n 's|.*image: .*/kube-apiserver:v\([0-9]*\.[0-9]*\)\..*|\1|p' \
		/etc/kubernetes/manifests/kube-apiserver.yaml 2>/dev/null | head -n 1
}

# upgrade_kubeadm ROLE FIRST: on the node (ROLE control or worker, FIRST yes on
# the first control node): kubeadm to the new minor, then `kubeadm upgrade
# apply` (FIRST), or `kubeadm upgrade node` (a control node's static pods; a
# worker's kubelet configuration).
upgrade_kubeadm() {
	local role=$1 first=$2 v target what=kubelet
	[ "$role" = control ] && what="kubelet and the control plane"
	if [ "$(pkg_minor kubelet)" = "$K8S_MINOR" ] &&
		{ [ "$role" != control ] || [ "$(control_plane_minor)" = "$K8S_MINOR" ]; }; then
		cc_log "$what are at $K8S_MINOR: nothing to upgrade"
		return 0
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
	if [ "$first" = yes ]; then
		if [ "$(control_plane_minor)" != "$K8S_MINOR" ]; then
			kubeadm upgrade plan "$target"
			kubeadm upgrade apply -y "$target"
			cc_changed "control plane upgraded to $target (kubeadm upgrade apply)"
		fi
	elif [ "$role" = control ]; then
		if [ "$(control_plane_minor)" != "$K8S_MINOR" ]; then
			kubeadm upgrade node
			cc_changed "control plane instance upgraded to $target (kubeadm upgrade node)"
		fi
	else
		kubeadm upgrade node
		cc_changed "kubelet configuration upgraded for $target (kubeadm upgrade node)"
	fi
}

# upgrade_kubelet: on the drained node: kubelet and kubectl to kubeadm's
# version, CRI-O to its newest new-minor patch, each held again; daemon-reload
# and a kubelet restart.
upgrade_kubelet() {
	local v cv
	if [ "$(pkg_minor kubelet)" = "$K8S_MINOR" ] && [ "$(pkg_minor kubectl)" = "$K8S_MINOR" ] &&
		[ "$(pkg_minor cri-o)" = "$CRIO_MINOR" ]; then
		cc_log "kubelet, kubectl and CRI-O are at $K8S_MINOR/$CRIO_MINOR: nothing to upgrade"
		return 0
	fi
	[ "$(pkg_minor kubeadm)" = "$K8S_MINOR" ] ||
		cc_die "kubeadm is $(pkg_version kubeadm), not $K8S_MINOR: kubernetes.upgrade did not finish"
	v=$(pkg_version kubeadm)
	if [ "$(pkg_minor cri-o)" != "$CRIO_MINOR" ]; then
		apt-get update
		cv=$(newest_patch cri-o "$CRIO_MINOR")
		[ -n "$cv" ] || cc_die "apt-cache madison cri-o lists no $CRIO_MINOR version: is the repository of v$CRIO_MINOR set up (os.packages)?"
		upgrade_held "$cv" cri-o
		systemctl restart crio
	fi
	if [ "$(pkg_version kubelet)" != "$v" ] || [ "$(pkg_version kubectl)" != "$v" ]; then
		upgrade_held "$v" kubelet kubectl
	fi
	systemctl daemon-reload
	systemctl restart kubelet
	cc_changed "kubelet restarted at $v"
}

kubelet_version_of() { kubectl get node "$1" -o jsonpath='{.status.nodeInfo.kubeletVersion}'; }
marked_for_upgrade() { [ -n "$(kubectl get node "$1" -o "jsonpath={.metadata.annotations.clusterc\.dev/drained-for-upgrade}")" ]; }

# upgrade_drain NODE: from the first control node, before NODE's kubelet moves.
# Never forced: a PodDisruptionBudget that blocks the drain fails the step, and
# the upgrade stops here.
upgrade_drain() {
	local node=$1 have
	export KUBECONFIG=/etc/kubernetes/admin.conf
	have=$(kubelet_version_of "$node")
	case $have in
	"v$K8S_MINOR".*)
		cc_log "the kubelet of $node is $have: nothing to drain"
		return 0 ;;
	esac
	if marked_for_upgrade "$node"; then
		cc_log "$node was cordoned for this upgrade already (an earlier run)"
	elif [ "$(kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')" = true ]; then
		cc_warn "$node was cordoned by hand: it is drained for the upgrade and stays cordoned"
	else
		# Marked before the drain cordons it: a failed drain leaves the mark, so
		# the next run still knows the cordon is clusterc's.
		kubectl annotate node "$node" --overwrite "$UPGRADE_MARK=$K8S_MINOR" >/dev/null
	fi
	if ! kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=600s; then
		cc_die "cannot drain $node (a PodDisruptionBudget or a pod without a controller blocks" \
			"it; see the lines above). Make room for its pods, or drain it by hand, and apply again"
	fi
	cc_changed "drained $node for the upgrade from $have to $K8S_MINOR"
}

# upgrade_uncordon NODE: from the first control node, after NODE's kubelet
# moved: it reports the new version (as soon as it runs) and, when clusterc
# drained it, is Ready, and is uncordoned; only then does the next node start.
upgrade_uncordon() {
	local node=$1 have i ready='{.status.conditions[?(@.type=="Ready")].status}'
	export KUBECONFIG=/etc/kubernetes/admin.conf
	for ((i = 0; ; i++)); do
		have=$(kubelet_version_of "$node" 2>/dev/null || true)
		case $have in "v$K8S_MINOR".*) break ;; esac
		[ "$i" -lt 120 ] || cc_die "the kubelet of $node reports ${have:-nothing}, not $K8S_MINOR, after 10 minutes"
		sleep 5
	done
	if ! marked_for_upgrade "$node"; then
		if [ "$(kubectl get node "$node" -o jsonpath='{.spec.unschedulable}')" = true ]; then
			cc_log "$node is cordoned, not by clusterc: left cordoned"
		fi
		return 0
	fi
	for ((i = 0; ; i++)); do
		[ "$(kubectl get node "$node" -o "jsonpath=$ready" 2>/dev/null || true)" = True ] && break
		[ "$i" -lt 120 ] || cc_die "$node is not Ready 10 minutes after its upgrade: see its kubelet (journalctl -u kubelet)"
		sleep 5
	done
	kubectl uncordon "$node"
	kubectl annotate node "$node" "$UPGRADE_MARK-" >/dev/null
	cc_changed "uncordoned $node, Ready with kubelet $have"
}
