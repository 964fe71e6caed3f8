#!/usr/bin/env bash
# storage.ceph: Ceph CSI cephfs {{ versions.ceph_csi }} for {{ cluster.name }}: the
# csi-cephfs-secret (created here from secret values, never written to disk),
# the chart with the cephfs class, and the cephfs-retain class.
set -euo pipefail
CC_STEP=storage.ceph
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
{{> templates/apps/kube-lib.sh }}

NS=ceph-csi-cephfs
cc_ensure_namespace "$NS"

# The Ceph keys arrive already base64-encoded, as the reference project's
# CEPH_K8S_KEY (`ceph auth get-key client.NAME | base64`), so they go into
# `data` as they are; the IDs are plain names.
user_key=$(cc_in {{ ceph.key.secret }})
{{#if ceph.admin_key}}
admin_id="admin"
admin_key=$(cc_in {{ ceph.admin_key.secret }})
{{else}}
admin_id={{ ceph.user }}
admin_key=$user_key
{{/if}}
for key in "$user_key" "$admin_key"; do
	if ! [[ $key =~ ^[A-Za-z0-9+/]+=*$ ]]; then
		cc_die "a Ceph key is not base64 text"
	fi
	# A key as `ceph auth get-key` prints it decodes to binary: one base64 short.
	if printf '%s' "$key" | base64 -d 2>/dev/null | LC_ALL=C grep -q '[^[:print:]]'; then
		cc_die "a Ceph key decodes to binary: give it base64-encoded once more (ceph auth get-key client.NAME | base64)"
	fi
done
# The manifest goes to kubectl on standard input only: no file, no argv.
cc_apply -f - <<SECRET
apiVersion: v1
kind: Secret
metadata:
  name: csi-cephfs-secret
  namespace: $NS
type: Opaque
data:
  userID: $(printf '%s' {{ ceph.user }} | base64 -w0)
  userKey: $user_key
  adminID: $(printf '%s' "$admin_id" | base64 -w0)
  adminKey: $admin_key
SECRET

cc_helm_release ceph-csi-cephfs "$NS" ceph-csi-cephfs https://ceph.github.io/csi-charts \
	{{ versions.ceph_csi }} cluster/storage/ceph-csi-values.yaml
kubectl -n "$NS" wait --for=condition=Ready pod -l app=ceph-csi-cephfs,component=provisioner --timeout=300s
cc_apply -k cluster/storage/resources
