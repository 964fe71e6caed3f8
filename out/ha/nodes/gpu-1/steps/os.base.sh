#!/usr/bin/env bash
set -euo pipefail
# os.base on gpu-1: what every Kubernetes node needs before its packages.
# Swap off now and in /etc/fstab; kernel modules overlay and br_netfilter loaded and
# persisted; the bridge and forwarding sysctls persisted and applied.
CC_STEP=os.base
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"

# Swap: kubelet refuses to start with swap on (failSwapOn defaults to true).
if [ -n "$(swapon --show --noheadings 2>/dev/null)" ]; then
	swapoff --all
	cc_changed "swap turned off"
fi
# Comment out every active swap line of /etc/fstab (fields: device mount type ...).
if awk '$1 !~ /^#/ && $3 == "swap" { found = 1 } END { exit !found }' /etc/fstab 2>/dev/null; then
	cc_write_file /etc/fstab 0644 < <(awk \
		'$1 !~ /^#/ && $3 == "swap" { print "# clusterc: swap off for kubelet: " $0; next } { print }' /etc/fstab)
fi
# Ubuntu's default swap file is useless once fstab no longer names it.
if [ -f /swap.img ] && ! grep -q '^/swap.img' /proc/swaps; then
	rm -f /swap.img
	cc_changed "removed /swap.img"
fi

# Kernel modules: overlay for CRI-O's storage driver, br_netfilter so bridged
# traffic passes through iptables (kubeadm's preflight checks both).
cc_write_file /etc/modules-load.d/kubernetes.conf 0644 <<'CONF'
# Written by clusterc (os.base): kernel modules Kubernetes and CRI-O need.
overlay
br_netfilter
CONF
cc_module_load overlay
cc_module_load br_netfilter

# sysctls: forwarding for pod traffic, bridged traffic through iptables.
cc_write_file /etc/sysctl.d/90-kubernetes.conf 0644 <<'CONF'
# Written by clusterc (os.base): kernel settings Kubernetes needs.
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
CONF
for kv in net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1; do
	key=${kv%%=*}
	if [ "$(sysctl -n "$key" 2>/dev/null || true)" != "${kv#*=}" ]; then
		sysctl -q -w "$kv"
		cc_changed "sysctl $kv"
	fi
done

# Tools the later steps use to fetch repository keys.
cc_apt_install apt-transport-https ca-certificates curl gpg
