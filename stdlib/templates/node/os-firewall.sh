#!/usr/bin/env bash
set -euo pipefail
# os.firewall on {{ node.name }} ({{ node.role }}): UFW with SSH allowed first, so the
# operator is never locked out, then the ports kubeadm needs for this role and Cilium's
# ports on every node.
#
# Routed traffic: UFW's default forward policy is DROP, which drops pod-to-pod and
# pod-to-outside traffic that the kernel forwards between cilium_host/lxc*/the uplink.
# Cilium enforces NetworkPolicy itself, so this node allows routed traffic
# (`ufw default allow routed`); incoming traffic to the node itself stays denied except
# for the ports below.
#
# Rules are compared with `ufw show added` (which works while UFW is inactive) and only
# missing ones are added. Rules clusterc added earlier and no longer wants are removed
# (a role change closes ports): what clusterc manages is recorded, as the node labels
# are in an annotation, in /etc/ufw/clusterc-managed (one rule a line, written after
# the rules are in place), so rules people added by hand are never removed.
CC_STEP=os.firewall
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"

cc_apt_install ufw

SSH_PORT={{ node.ssh.port }}
rules=(
	"$SSH_PORT/tcp"
{{#if node.role == "control"}}
	6443/tcp        # kube-apiserver
	2379:2380/tcp   # etcd client and peer
	10257/tcp       # kube-controller-manager
	10259/tcp       # kube-scheduler
{{else}}
	30000:32767/tcp # NodePort services
	30000:32767/udp
	80/tcp          # Cilium ingress / Gateway API
	443/tcp
{{/if}}
	10250/tcp       # kubelet API
	4240/tcp        # cilium-health
	4244:4245/tcp   # Hubble server and relay
	4250/tcp        # Cilium mutual authentication
	8472/udp        # Cilium VXLAN overlay
	51871/udp       # Cilium WireGuard
{{#if monitoring and argocd}}
	9100/tcp        # node-exporter (hostNetwork), scraped by Prometheus
{{/if}}
)

MANAGED=/etc/ufw/clusterc-managed
added=$(ufw show added 2>/dev/null || true)
for r in "${rules[@]}"; do
	if ! grep -qxF -- "ufw allow $r" <<<"$added"; then
		ufw allow "$r" >/dev/null
		cc_changed "ufw allow $r"
	fi
done
if [ -f "$MANAGED" ]; then
	while IFS= read -r r; do
		[ -n "$r" ] || continue
		# A here-string, not `printf | grep -q`: under pipefail grep -q's early exit
		# can kill printf with SIGPIPE and turn a match into "no longer wanted".
		grep -qxF -- "$r" <<<"$(printf '%s\n' "${rules[@]}")" && continue
		if grep -qxF -- "ufw allow $r" <<<"$added"; then
			ufw delete allow "$r" >/dev/null
			cc_changed "ufw delete allow $r (no longer wanted)"
		fi
	done <"$MANAGED"
fi
cc_write_file "$MANAGED" 0644 < <(printf '%s\n' "${rules[@]}")

# Defaults, then enable. `ufw status verbose` prints the default policies and whether
# the firewall is active; only what differs is changed.
status=$(ufw status verbose 2>/dev/null || true)
grep -q 'deny (incoming)' <<<"$status" || { ufw default deny incoming >/dev/null; cc_changed "ufw default deny incoming"; }
grep -q 'allow (outgoing)' <<<"$status" || { ufw default allow outgoing >/dev/null; cc_changed "ufw default allow outgoing"; }
grep -q 'allow (routed)' <<<"$status" || { ufw default allow routed >/dev/null; cc_changed "ufw default allow routed"; }
if ! grep -q '^Status: active' <<<"$status"; then
	ufw --force enable >/dev/null
	cc_changed "ufw enabled"
fi
