#!/usr/bin/env bash
set -euo pipefail
# os.ceph on gpu-2: the cluster has a ceph block, so CephFS volumes are mounted
# with the kernel client (Ceph CSI's mounter: kernel). Loads the ceph module now and at
# every boot, and installs ceph-common (mount.ceph).
CC_STEP=os.ceph
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"

cc_apt_install ceph-common
cc_write_file /etc/modules-load.d/ceph.conf 0644 <<'CONF'
# Written by clusterc (os.ceph): the CephFS kernel client.
ceph
CONF
cc_module_load ceph
