#!/usr/bin/env bash
set -euo pipefail
# nvidia-select-driver.sh: which NVIDIA driver package to install, from the output of
# `ubuntu-drivers list --gpgpu` on standard input. Prints one package name.
#
# Rule (the reference project's, proven on its GPUs): among the LTS server branches
# (`nvidia-driver-NNN-server`, not the `-open` kernel modules, which older GPUs such as
# Pascal do not support, and not the desktop branches), take the second-newest, which
# has had a release cycle of fixes; the only one when there is one; and
# nvidia-driver-535-server when there is none. An argument overrides the choice:
# `535-server`, `nvidia-driver-535-server` or `535` (cluster file: gpu { driver }).
#
# Lines look like (ubuntu-drivers-common 0.9.x):
#   nvidia-driver-535-server, (kernel modules provided by linux-modules-nvidia-535-server-generic-hwe-24.04)
#   nvidia-driver-570-server-open, (kernel modules provided by nvidia-dkms-570-server-open)
# Older releases print the bare package name, newer ones may print `nvidia:535-server`;
# both are understood.
DEFAULT=nvidia-driver-535-server

if [ $# -gt 0 ] && [ -n "$1" ]; then
	want=$1
	case $want in
	nvidia-driver-*) ;;
	nvidia:*) want=nvidia-driver-${want#nvidia:} ;;
	[0-9]*-server) want=nvidia-driver-$want ;;
	[0-9]*) want=nvidia-driver-$want-server ;;
	esac
	if [[ ! $want =~ ^nvidia-driver-[0-9]+(-server)?(-open)?$ ]]; then
		echo "nvidia-select-driver: not an NVIDIA driver name: $1" >&2
		exit 2
	fi
	printf '%s\n' "$want"
	exit 0
fi

# Normalise every line to a package name, keep the LTS server branches, newest first.
branches=$(sed -E 's/^[[:space:]]+//; s/[,[:space:]].*$//; s/^nvidia:/nvidia-driver-/' |
	grep -E '^nvidia-driver-[0-9]+-server$' |
	sed -E 's/^nvidia-driver-([0-9]+)-server$/\1/' |
	sort -rnu || true)
count=$(grep -c . <<<"$branches" || true)
if [ "$count" -eq 0 ]; then
	printf '%s\n' "$DEFAULT"
elif [ "$count" -eq 1 ]; then
	printf 'nvidia-driver-%s-server\n' "$branches"
else
	printf 'nvidia-driver-%s-server\n' "$(sed -n 2p <<<"$branches")"
fi
