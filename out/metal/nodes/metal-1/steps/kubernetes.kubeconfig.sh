#!/usr/bin/env bash
set -euo pipefail
# kubernetes.kubeconfig on metal-1: hands the cluster's admin kubeconfig to the
# operator machine as the output admin_kubeconfig (kept in the runner's memory; the
# local step kubernetes.kubeconfig_local writes it).
CC_STEP=kubernetes.kubeconfig
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"
[ -s /etc/kubernetes/admin.conf ] || cc_die "/etc/kubernetes/admin.conf is missing: kubernetes.init has not run"
cc_output admin_kubeconfig "$(cat /etc/kubernetes/admin.conf)"
