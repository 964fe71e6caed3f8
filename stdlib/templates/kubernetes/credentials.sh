#!/usr/bin/env bash
set -euo pipefail
# kubernetes.credentials on {{ node.name }}: what the other nodes need to join, made at
# apply time and handed to the join steps as outputs (in the runner's memory only):
# join_token (a bootstrap token valid 2h), join_ca_hash and join_cert_key (the key of the
# control-plane certificates, uploaded for 2h; empty with one control node). When every
# node of the cluster file is registered already, nothing is created and the outputs
# are empty.
CC_STEP=kubernetes.credentials
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
export KUBECONFIG=/etc/kubernetes/admin.conf

registered=$(kubectl get nodes -o name)
missing=()
for n in{{#each nodes as n}} {{ n.name }}{{/each}}; do
	grep -qxF "node/$n" <<<"$registered" || missing+=("$n")
done
if [ ${#missing[@]} -gt 0 ] && cc_check_only; then
	# The join steps report their nodes; no token is made for a check.
	cc_log "nodes not registered: ${missing[*]}"
	missing=()
fi
if [ ${#missing[@]} -eq 0 ]; then
	cc_log "every node is registered; no join credentials needed"
	cc_output join_token ""
	cc_output join_ca_hash ""
	cc_output join_cert_key ""
	exit 0
fi
cc_log "nodes to join: ${missing[*]}"

# The join command kubeadm prints carries the new token and the CA key hash; only those
# two are taken from it (the endpoint comes from the cluster file).
join=$(kubeadm token create --ttl 2h --description "clusterc join" --print-join-command)
token=$(sed -n 's/.*--token \([^ ]*\).*/\1/p' <<<"$join")
hash=$(sed -n 's/.*--discovery-token-ca-cert-hash \([^ ]*\).*/\1/p' <<<"$join")
cc_valid '^[a-z0-9]{6}\.[a-z0-9]{16}$' "$token" "the bootstrap token"
cc_valid '^sha256:[0-9a-f]{64}$' "$hash" "the CA key hash"
cc_changed "created a bootstrap token"
cc_output join_token "$token"
cc_output join_ca_hash "$hash"
{{#if cluster.ha}}
key=$(kubeadm certs certificate-key)
cc_valid '^[0-9a-f]{64}$' "$key" "the certificate key"
kubeadm init phase upload-certs --upload-certs --certificate-key "$key" >/dev/null
cc_changed "uploaded the control-plane certificates"
cc_output join_cert_key "$key"
{{else}}
cc_output join_cert_key ""
{{/if}}
