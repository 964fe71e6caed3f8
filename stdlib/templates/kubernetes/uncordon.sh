#!/usr/bin/env bash
set -euo pipefail
# kubernetes.uncordon.{{ node.name }}: after its upgrade, {{ node.name }} reports a {{ cluster.kubernetes }} kubelet,
# is Ready and, when clusterc drained it, is uncordoned from the first control node;
# only then does the next node's upgrade start. The commands are in common/upgrade.sh.
CC_STEP=kubernetes.uncordon
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"
# shellcheck source=SCRIPTDIR/../../common/upgrade.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/upgrade.sh"
upgrade_uncordon {{ node.name }}
