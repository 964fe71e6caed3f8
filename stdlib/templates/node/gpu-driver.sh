#!/usr/bin/env bash
set -euo pipefail
# gpu.driver on {{ node.name }} ({{#if node.gpu.pci}}GPU {{ node.gpu.pci }}{{else}}GPU mapping {{ node.gpu.mapping }}{{/if}}): the NVIDIA kernel driver.
# Never replaces a driver that is installed already (an upgrade of the driver is a
# deliberate operation: remove it by hand, then apply). The package is chosen by
# nvidia/select-driver.sh from `ubuntu-drivers list --gpgpu`{{#if node.gpu.driver}}, here
# fixed by the cluster file to {{ node.gpu.driver }}{{/if}}. A newly installed driver
# needs a reboot before nvidia-smi works: the step asks the runner for one, and only then.
CC_STEP=gpu.driver
{{> templates/lib/prelude.sh }}

installed=$(dpkg-query -W -f='${Package} ${Status}\n' 'nvidia-driver-*' 2>/dev/null |
	awk '$NF == "installed" { print $1 }' || true)
if [ -n "$installed" ]; then
	cc_log "driver already installed: $(tr '\n' ' ' <<<"$installed"); leaving it"
	exit 0
fi
# A driver installed some other way (NVIDIA's .run installer) answers nvidia-smi.
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
	cc_log "nvidia-smi works: a driver is installed already; leaving it"
	exit 0
fi

cc_apt_install ubuntu-drivers-common pciutils
{{#if node.gpu.driver}}
pkg=$(bash common/nvidia-select-driver.sh {{ node.gpu.driver }} </dev/null)
{{else}}
list=$(ubuntu-drivers list --gpgpu 2>/dev/null || true)
pkg=$(bash common/nvidia-select-driver.sh <<<"$list")
{{/if}}
cc_valid '^nvidia-driver-[0-9]+(-server)?(-open)?$' "$pkg" "the selected driver package"
cc_log "selected $pkg"
cc_apt_install "$pkg"
if [ "$CC_WROTE" = 1 ]; then
	cc_reboot
fi
