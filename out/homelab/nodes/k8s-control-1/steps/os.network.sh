#!/usr/bin/env bash
set -euo pipefail
# os.network on k8s-control-1: a static netplan configuration from the cluster file,
# for machines that were not installed by clusterc's autoinstall (which writes the same
# settings) and to keep it so. The interface is the one that holds 192.168.1.180 now,
# or else the one with the default route; 60-clusterc.yaml sorts after cloud-init's
# 50-cloud-init.yaml, so its dhcp4: false wins over a DHCP setting there.
CC_STEP=os.network
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"

NODE_IP=192.168.1.180
iface=$(ip -o -4 addr show | awk -v ip="$NODE_IP" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }')
if [ -z "$iface" ]; then
	iface=$(ip -o -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
fi
[ -n "$iface" ] || cc_die "no interface holds $NODE_IP and there is no default route"
cc_valid '^[A-Za-z0-9_.:@-]{1,15}$' "$iface" "interface name"

# A machine installed by clusterc's autoinstall has this address in the netplan file the
# installer wrote (50-cloud-init.yaml): that file is the configuration, and cloud-init is
# told not to regenerate it. Elsewhere 60-clusterc.yaml is written, with the interface
# name as its netplan id, so it merges with (and, being later, overrides) a cloud-init
# definition of the same interface. The interface name is the only value not known at
# build time; everything else comes from the reviewed file, where __CLUSTERC_INTERFACE__
# stands for it.
NODE_CIDR=192.168.1.180/24
other=$(grep -lF -- "$NODE_CIDR" /etc/netplan/*.yaml 2>/dev/null | grep -vx /etc/netplan/60-clusterc.yaml || true)
if [ -n "$other" ]; then
	cc_log "netplan: $NODE_CIDR is configured in $other already"
else
	cc_write_file /etc/netplan/60-clusterc.yaml 0600 < <(sed "s/__CLUSTERC_INTERFACE__/$iface/" nodes/k8s-control-1/os/netplan.yaml)
	if [ "$CC_WROTE" = 1 ]; then
		netplan generate
		netplan apply
		cc_log "applied netplan on $iface"
	fi
fi
if [ -d /etc/cloud/cloud.cfg.d ]; then
	cc_write_file /etc/cloud/cloud.cfg.d/99-clusterc-network.cfg 0644 <<'CONF'
# Written by clusterc (os.network): the network configuration is static, from the
# cluster file; cloud-init must not replace it at boot.
network: {config: disabled}
CONF
fi
