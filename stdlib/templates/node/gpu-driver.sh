#!/usr/bin/env bash
set -euo pipefail
# gpu.driver on {{ node.name }} ({{#if node.gpu.pci}}GPU {{ node.gpu.pci }}{{else}}GPU mapping {{ node.gpu.mapping }}{{/if}}): the NVIDIA kernel driver.
# A driver that answers nvidia-smi is left alone (an upgrade of the driver is a
# deliberate operation: remove it by hand, then apply). The branch is chosen by
# common/nvidia-select-driver.sh from `ubuntu-drivers list --gpgpu`{{#if node.gpu.driver}}, here
# fixed by the cluster file to {{ node.gpu.driver }}{{/if}}.
#
# What is installed is what ubuntu-drivers itself installs: the driver metapackage
# together with the prebuilt, signed kernel modules that its list names ("nvidia-driver-
# 535-server, (kernel modules provided by linux-modules-nvidia-535-server-generic-hwe-24.04)";
# the name is linux-modules-nvidia-<branch>-<kernel flavour>, get_linux_modules_metapackage
# in ubuntu-drivers-common UbuntuDrivers/detect.py), in one apt transaction, plus
# nvidia-utils-<branch> (nvidia-smi). The bare metapackage alone takes the DKMS path: a
# module built on this machine, whose failure left a step that had succeeded. A branch
# that ubuntu-drivers offers only through DKMS is refused here.
#
# A newly installed driver needs a reboot before nvidia-smi works: the step asks the
# runner for one, and only then; gpu.verify, the next step, runs after the reboot and
# fails unless nvidia-smi answers. Packages that are all installed while nvidia-smi
# still fails fail this step (after one modprobe), so it is retried.
CC_STEP=gpu.driver
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"

# A working driver, however it was installed (packages or NVIDIA's .run installer).
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
	cc_log "nvidia-smi works: a driver is installed already; leaving it"
	exit 0
fi

cc_apt_install ubuntu-drivers-common pciutils
list=$(ubuntu-drivers list --gpgpu 2>/dev/null || true)
{{#if node.gpu.driver}}
pkg=$(bash common/nvidia-select-driver.sh {{ node.gpu.driver }} </dev/null)
{{else}}
pkg=$(bash common/nvidia-select-driver.sh <<<"$list")
{{/if}}
cc_valid '^nvidia-driver-[0-9]+(-server)?(-open)?$' "$pkg" "the selected driver package"
branch=${pkg#nvidia-driver-}
# The kernel modules ubuntu-drivers names for this branch (lines "nvidia-driver-B, (kernel
# modules provided by M)" or "nvidia:B, (...)").
modules=$(awk -v pkg="$pkg" -v alt="nvidia:$branch" '
	{ name = $1; sub(/,$/, "", name) }
	(name == pkg || name == alt) && match($0, /kernel modules provided by [^) ]+/) {
		print substr($0, RSTART + 27, RLENGTH - 27); exit
	}' <<<"$list")
if [ -z "$modules" ]; then
	# Not in the list (the branch is fixed by the cluster file, or an older ubuntu-drivers):
	# the prebuilt modules for the running kernel's ABI, the package the flavour
	# metapackage depends on (ubuntu-drivers installs it too).
	modules=linux-modules-nvidia-$branch-$(uname -r)
	cc_log "ubuntu-drivers names no kernel modules for $pkg; using $modules"
fi
case $modules in
linux-modules-nvidia-*) ;;
*) cc_die "ubuntu-drivers offers $pkg only with $modules (DKMS: built on this machine, no prebuilt modules for this kernel); choose a branch with prebuilt modules (gpu { driver = ... })" ;;
esac
cc_valid '^linux-modules-nvidia-[0-9]+(-server)?(-open)?-[a-z0-9][a-z0-9.+-]*$' "$modules" "the kernel modules package"
cc_log "selected $pkg with $modules"
cc_apt_install "$modules" "$pkg" "nvidia-utils-$branch"
if [ "$CC_WROTE" = 1 ]; then
	cc_reboot
	exit 0
fi
# Everything was installed already, yet nvidia-smi failed: load the module once, then
# fail the step (so that it runs again) with what the machine says.
modprobe nvidia 2>/dev/null || true
if ! nvidia-smi -L >/dev/null 2>&1; then
	lsmod | grep -i '^nvidia' >&2 || echo "no nvidia module loaded (kernel $(uname -r))" >&2
	cc_die "$pkg and $modules are installed but nvidia-smi fails: the kernel module does not load (a kernel without $modules? Secure Boot?)"
fi
