#!/usr/bin/env bash
set -euo pipefail
# kubernetes.drain.{{ node.name }}: before its kubelet moves to Kubernetes {{ cluster.kubernetes }}, {{ node.name }} is
# drained from the first control node and marked clusterc.dev/drained-for-upgrade, so
# that only a node clusterc cordoned is uncordoned (a node cordoned by hand stays so).
# The commands are in common/upgrade.sh.
CC_STEP=kubernetes.drain
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
# shellcheck source=SCRIPTDIR/../../common/upgrade.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/upgrade.sh"
upgrade_drain {{ node.name }}
