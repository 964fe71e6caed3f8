#!/bin/bash
# tests/lab/host-init.sh HOSTDIR SHARED NAME: pid 1 of one lab host.
# lab.sh starts it in the host's own mount, UTS and PID namespaces, inside its
# network namespace. It mounts the host's / (a copy-on-write overlay of the
# real /), puts the shims over the real commands, says "ready", then chroots
# into the overlay and stays as the host's init (reaping orphans) until killed.
# Killing it makes the kernel kill every process of the host and drop its mounts.
set -euo pipefail
hdir=$1 shared=$2 name=$3
root=$hdir/root
hostname "$name"
mount -t overlay clusterc-lab -o "lowerdir=/,upperdir=$hdir/upper,workdir=$hdir/work" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount --bind "$shared" "$root/usr/local/lib/clusterc-lab"
mount -o remount,bind,ro "$root/usr/local/lib/clusterc-lab"
while IFS=: read -r shim path; do
	target=$root$path
	# A symlink (reboot -> systemctl) is replaced, so binding over it does not
	# land on its target.
	if [ -L "$target" ]; then rm -f "$target"; fi
	if [ ! -e "$target" ]; then
		mkdir -p "${target%/*}"
		: >"$target"
	fi
	mount --bind "$shared/shims/$shim" "$target"
done <"$shared/shim-paths"
# The nodes of one cluster see one API state (lab.sh up --one-cluster).
if [ -d "$shared/cluster" ]; then
	mkdir -p "$root/var/lib/clusterc-lab/kube"
	mount --bind "$shared/cluster" "$root/var/lib/clusterc-lab/kube"
fi
touch "$hdir/ready"
cd "$root"
exec chroot "$root" /bin/bash -c 'trap "" HUP TERM INT; while :; do sleep 3600 & wait $! || true; done'
