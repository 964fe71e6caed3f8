#!/usr/bin/env bash
set -euo pipefail
# kubernetes.kubeconfig_local on the operator machine: writes the admin kubeconfig of
# metal to ~/.kube/metal.conf (mode 0600, owned by the operator),
# never into out/. Use it with: export KUBECONFIG=~/.kube/metal.conf
# The file grants full control of the cluster: keep it private.
CC_STEP=kubernetes.kubeconfig_local
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
content=$(cc_in admin_kubeconfig)
[ -n "$content" ] || cc_die "the runner sent an empty kubeconfig"
dest="${HOME:?}/.kube/"metal.conf
mkdir -p "${HOME}/.kube"
chmod 0700 "${HOME}/.kube"
cc_write_file "$dest" 0600 "$(id -un):$(id -gn)" <<<"$content"
cc_log "kubeconfig: $dest"
