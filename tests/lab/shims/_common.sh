# shellcheck shell=bash
# tests/lab/shims/_common.sh: sourced by every shim inside a lab host.
# A shim appends its argv, shell-quoted on one line, to the shim log, keeps
# what it "did" under /var/lib/clusterc-lab/, and answers like the real command
# where a step reads the output. Nothing here touches the real machine: the
# host's / is a copy-on-write overlay.
LAB_STATE=/var/lib/clusterc-lab
LAB_ETC=/etc/clusterc-lab
SHIM_LOG=/var/log/clusterc-shims.log
# shellcheck source=/dev/null
[ -f "$LAB_ETC/lab.env" ] && . "$LAB_ETC/lab.env"

shim_log() {
	local line
	printf -v line '%q ' "$SHIM_NAME" "$@"
	printf '%s\n' "${line% }" >>"$SHIM_LOG"
	# One cluster's hosts (lab.sh up --one-cluster: its shared state is under
	# the lab's folder, not a host's) also append to one log, "HOST<tab>COMMAND"
	# a line, in the order the commands ran across hosts (an upgrade's order).
	if [ -d /usr/local/lib/clusterc-lab/cluster ]; then printf '%s\t%s\n' "$(hostname)" "${line% }" >>"$LAB_STATE/kube/sequence.log"; fi
}

# Packages: "name version" lines, installed by the apt-get shim, or seeded
# by a test in /etc/clusterc-lab/preinstalled.
PKG_DB=$LAB_STATE/dpkg/installed
pkg_list() { cat "$PKG_DB" "$LAB_ETC/preinstalled" 2>/dev/null | awk 'NF' || true; }
pkg_version() { pkg_list | awk -v p="$1" '$1 == p { print ($2 == "" ? "1.0-lab" : $2); exit }'; }
pkg_installed() { [ -n "$(pkg_version "$1")" ]; }
pkg_add() { # name [version]
	mkdir -p "${PKG_DB%/*}"
	pkg_remove "$1"
	printf '%s %s\n' "$1" "${2:-1.0-lab}" >>"$PKG_DB"
}
pkg_remove() {
	[ -f "$PKG_DB" ] || return 0
	awk -v p="$1" '$1 != p' "$PKG_DB" >"$PKG_DB.new" && mv "$PKG_DB.new" "$PKG_DB"
}
driver_installed() { pkg_list | awk '$1 ~ /^nvidia-(driver|utils)-/ { f = 1 } END { exit !f }'; }

# A set of words kept in a file (services, modules, rules...).
set_has() { [ -f "$1" ] && grep -qxF -- "$2" "$1"; }
set_add() { [ -d "${1%/*}" ] || mkdir -p "${1%/*}"; set_has "$1" "$2" || printf '%s\n' "$2" >>"$1"; }
set_del() { [ -f "$1" ] || return 0; grep -vxF -- "$2" "$1" >"$1.new" || true; mv "$1.new" "$1"; }

# node_label NODE KEY VALUE: what kubeadm (and the kubelet) put on a Node, in
# the kubectl shim's node state ("key=value" lines, sorted).
node_label() {
	local f=$LAB_STATE/kube/nodes/$1/labels
	mkdir -p "${f%/*}"
	touch "$f"
	{ awk -v k="$2" 'index($0, k "=") != 1' "$f"; printf '%s=%s\n' "$2" "$3"; } | sort -o "$f.new"
	mv "$f.new" "$f"
}

# The package repositories a step configured: pkgs.k8s.io names its minor in the
# source line (core:/stable:/v1.34/deb/), and so does CRI-O's (stable:/v1.34/deb/).
# repo_versions PKG: the versions apt could install, newest first (apt-cache
# madison's order); nothing for a package no lab repository carries.
repo_minor() { # list file -> "1.34"
	sed -n 's|.*stable:/v\([0-9]*\.[0-9]*\)/deb.*|\1|p' "/etc/apt/sources.list.d/$1.list" 2>/dev/null | head -n 1
}
repo_versions() {
	local m=''
	case $1 in
	kubelet | kubeadm | kubectl) m=$(repo_minor kubernetes) ;;
	cri-o) m=$(repo_minor cri-o) ;;
	esac
	[ -n "$m" ] || return 0
	printf '%s\n' "$m.1-1.1" "$m.0-1.1"
}
# The candidate version: the newest in a repository, else the lab's default.
repo_candidate() { local v; v=$(repo_versions "$1" | head -n 1); echo "${v:-1.0-lab}"; }
pkg_held() { set_has "$LAB_STATE/dpkg/held" "$1"; }

# The kubelet's version as the Node reports it (status.nodeInfo.kubeletVersion,
# the VERSION column of `kubectl get nodes`): the installed package, read when
# the kubelet (re)starts.
kubelet_report() {
	local v
	v=$(pkg_version kubelet)
	v=${v%%-*}
	mkdir -p "$LAB_STATE/kube/nodes/$(hostname)"
	printf 'v%s\n' "${v:-1.34.1}" >"$LAB_STATE/kube/nodes/$(hostname)/version"
}
node_version() { cat "$LAB_STATE/kube/nodes/$1/version" 2>/dev/null || echo v1.34.1; }
