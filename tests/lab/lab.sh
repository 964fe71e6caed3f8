#!/usr/bin/env bash
# tests/lab/lab.sh: a lab of test hosts on one machine (DESIGN.md, "How it is
# tested on one machine"). See tests/lab/README.md for the whole story.
#
#   lab.sh up N DIR [--names a,b,c] [--one-cluster]
#                                     start N hosts, write DIR/inventory.json,
#                                     DIR/known_hosts, DIR/id_ed25519, DIR/ssh_config;
#                                     --one-cluster: the hosts share one Kubernetes
#                                     API state (kubectl, kubeadm and curl shims), as
#                                     the nodes of one cluster do
#   lab.sh down DIR                   tear everything down (idempotent)
#   lab.sh exec HOSTDIR -- CMD...     run CMD inside a host (as root, in its namespaces)
#   lab.sh put HOSTDIR PATH < FILE    write standard input to PATH inside a host
#   lab.sh kill-sshd DIR HOST         kill every process of HOST but its init (sshd too)
#   lab.sh start-sshd DIR HOST        start HOST's sshd again
#   lab.sh slow DIR HOST MS           delay every new SSH session on HOST by MS ms (0: off)
#   lab.sh status DIR                 one line per host
#
# Each host is a network namespace (its own address on a per-lab bridge), a
# mount + UTS + PID namespace whose / is a copy-on-write overlay of the real /
# (upper dir DIR/HOST/upper, so tests read what the steps wrote there), and a
# real sshd. Commands that would change a real machine are shims (shims/).
# Only 198.18.0.0/16 addresses are used (RFC 2544 benchmark range).
set -euo pipefail

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_RUN=/run/clusterc-lab        # slot registry shared by all labs on this machine
LAB_MAX_SLOTS=64                 # slot S owns 198.18.(4S).0/22
# Commands that are shimmed inside every host, with the path each is bound
# over (Ubuntu's location when this machine lacks the command).
SHIM_PATHS=(
	apt-get:/usr/bin/apt-get apt-cache:/usr/bin/apt-cache apt-mark:/usr/bin/apt-mark dpkg:/usr/bin/dpkg
	dpkg-query:/usr/bin/dpkg-query systemctl:/usr/bin/systemctl
	kubeadm:/usr/bin/kubeadm kubectl:/usr/bin/kubectl helm:/usr/local/bin/helm
	ufw:/usr/sbin/ufw modprobe:/usr/sbin/modprobe lsmod:/usr/sbin/lsmod
	sysctl:/usr/sbin/sysctl swapoff:/usr/sbin/swapoff reboot:/usr/sbin/reboot
	shutdown:/usr/sbin/shutdown ubuntu-drivers:/usr/bin/ubuntu-drivers
	nvidia-ctk:/usr/bin/nvidia-ctk nvidia-smi:/usr/bin/nvidia-smi
	netplan:/usr/sbin/netplan curl:/usr/bin/curl gpg:/usr/bin/gpg
	hostnamectl:/usr/bin/hostnamectl iptables:/usr/sbin/iptables
	ip6tables:/usr/sbin/ip6tables ipvsadm:/usr/sbin/ipvsadm
)

die() { echo "lab.sh: $*" >&2; exit 2; }
usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------- helpers
prereqs() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (network and mount namespaces)"
	local c missing=()
	for c in ip unshare nsenter setsid mount chroot ps ssh ssh-keygen /usr/sbin/sshd /usr/bin/python3 hostname; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	[ ${#missing[@]} -eq 0 ] || die "missing commands: ${missing[*]} (Debian: iproute2 util-linux procps openssh-server openssh-client python3)"
	grep -qw overlay /proc/filesystems || die "the kernel has no overlayfs (modprobe overlay)"
	[ -e /proc/self/ns/net ] || die "the kernel has no namespaces"
	[ -d /usr/lib/openssh ] || die "openssh-server is not installed"
}

# Addresses: slot S, host index I (1-based) -> 198.18.(4S + (I+1)/256).((I+1)%256)
host_addr() {
	local slot=$1 i=$2 n
	n=$((i + 1))
	echo "198.18.$((slot * 4 + n / 256)).$((n % 256))"
}

load_lab() {
	local dir=$1
	[ -f "$dir/lab.env" ] || return 1
	# shellcheck source=/dev/null
	. "$dir/lab.env"
}

# The pid of a host's init (pid 1 of its PID namespace), or nothing.
host_init() {
	local hdir=$1 p
	[ -f "$hdir/init.pid" ] || return 0
	p=$(cat "$hdir/init.pid")
	# Only trust the pid while it is still the process we started.
	if [ -n "$p" ] && [ -r "/proc/$p/ns/mnt" ] && [ -f "$hdir/init.mntns" ] &&
		[ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" = "$(cat "$hdir/init.mntns")" ]; then
		echo "$p"
	fi
}

host_enter() { # host_enter HDIR CMD...: run CMD in the host's namespaces, / = its overlay
	local hdir=$1 p
	shift
	p=$(host_init "$hdir")
	[ -n "$p" ] || die "host $(basename "$hdir") is not running"
	# A clean environment, as an SSH session on the host would have.
	nsenter -t "$p" -m -u -n -p -r -w -- /usr/bin/env -i HOME=/root LANG=C.UTF-8 USER=root \
		PATH=/usr/local/lib/clusterc-lab/shims:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		CLUSTERC_LAB_HOST="$(basename "$hdir")" "$@"
}

host_field() { sed -n "s/^$2=//p" "$1/host.env"; }

resolve_host() { # resolve_host DIR NAME -> host dir
	local dir=$1 name=$2
	load_lab "$dir" || die "no lab in $dir"
	[ -f "$dir/$name/host.env" ] || die "no host '$name' in $dir (hosts: $LAB_HOSTS)"
	echo "$dir/$name"
}

# ---------------------------------------------------------------- up
alloc_slot() {
	local dir=$1 s owner
	mkdir -p "$LAB_RUN"
	for ((s = 0; s < LAB_MAX_SLOTS; s++)); do
		if mkdir "$LAB_RUN/slot.$s" 2>/dev/null; then
			echo "$dir" >"$LAB_RUN/slot.$s/owner"
			echo "$s"
			return 0
		fi
		# A slot whose lab is gone (no lab.env naming this slot) is stale.
		owner=$(cat "$LAB_RUN/slot.$s/owner" 2>/dev/null || true)
		if [ -n "$owner" ] && ! grep -qx "LAB_SLOT=$s" "$owner/lab.env" 2>/dev/null &&
			! ip link show "cclb$s" >/dev/null 2>&1; then
			echo "$dir" >"$LAB_RUN/slot.$s/owner"
			echo "$s"
			return 0
		fi
	done
	die "all $LAB_MAX_SLOTS lab slots are taken (see $LAB_RUN; lab.sh down DIR frees one)"
}

write_host_files() { # name index
	local name=$1 i=$2 hdir=$DIR/$1 addr up
	addr=$(host_addr "$LAB_SLOT" "$i")
	up=$hdir/upper
	mkdir -p "$up/etc/clusterc-lab" "$up/tmp" "$up/run/sshd" "$up/var/lib/clusterc" \
		"$up/var/lib/clusterc-lab" "$up/var/log" "$up/usr/local/lib/clusterc-lab" \
		"$hdir/work" "$hdir/root"
	chmod 1777 "$up/tmp"
	# A fresh root home (as on a new Ubuntu machine), not this machine's.
	mkdir -p "$up/root"
	chmod 0700 "$up/root"
	cp /etc/skel/.bashrc /etc/skel/.profile "$up/root/" 2>/dev/null || true
	chmod 0755 "$up/run/sshd"
	ssh-keygen -q -t ed25519 -N '' -C "$name@clusterc-lab" -f "$up/etc/clusterc-lab/ssh_host_ed25519_key"
	cp "$DIR/id_ed25519.pub" "$up/etc/clusterc-lab/authorized_keys"
	chmod 0600 "$up/etc/clusterc-lab/authorized_keys"
	cat >"$up/etc/clusterc-lab/sshd_config" <<EOF
# clusterc lab host $name: key-only, root with key, this host's address only.
ListenAddress $addr:22
HostKey /etc/clusterc-lab/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile /etc/clusterc-lab/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
UsePAM no
UseDNS no
StrictModes yes
MaxStartups 1000:30:2000
MaxSessions 200
X11Forwarding no
PrintMotd no
PrintLastLog no
AcceptEnv LANG LC_*
SetEnv PATH=/usr/local/lib/clusterc-lab/shims:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CLUSTERC_LAB_HOST=$name
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
	cat >"$up/etc/clusterc-lab/lab.env" <<EOF
LAB_HOST=$name
LAB_ADDR=$addr
LAB_REBOOT=${LAB_REBOOT:-1}
LAB_REBOOT_DOWN_MS=${LAB_REBOOT_DOWN_MS:-1000}
EOF
	: >"$up/etc/clusterc-lab/ubuntu-drivers.out"
	echo "$name" >"$up/etc/hostname"
	cat >"$hdir/host.env" <<EOF
HOST_NAME=$name
HOST_INDEX=$i
HOST_ADDR=$addr
HOST_NETNS=ccl-$LAB_ID-$name
HOST_VETH=ccl$LAB_ID$i
EOF
	printf '%s ssh-ed25519 %s\n' "$addr" \
		"$(cut -d' ' -f2 "$up/etc/clusterc-lab/ssh_host_ed25519_key.pub")" >"$hdir/known_hosts.line"
}

start_host() { # hdir: start the host's init (namespaces + mounts), then its sshd
	local hdir=$1 p child t
	# shellcheck source=/dev/null
	. "$hdir/host.env"
	rm -f "$hdir/ready" "$hdir/init.pid" "$hdir/init.mntns"
	# unshare forks; its child is pid 1 of the host's PID namespace.
	# --kill-child: if the unshare parent dies, the kernel kills the host's init.
	setsid unshare --mount --uts --pid --fork --kill-child --propagation private -- \
		nsenter --net="/run/netns/$HOST_NETNS" -- \
		/bin/bash "$DIR/shared/host-init.sh" "$hdir" "$DIR/shared" "$HOST_NAME" \
		</dev/null >>"$hdir/init.log" 2>&1 &
	p=$!
	echo "$p" >"$hdir/unshare.pid"
	for ((t = 0; t < 1000; t++)); do
		[ -f "$hdir/ready" ] && break
		if ! kill -0 "$p" 2>/dev/null; then
			die "host $HOST_NAME failed to start: $(tail -n 5 "$hdir/init.log")"
		fi
		sleep 0.01
	done
	[ -f "$hdir/ready" ] || die "host $HOST_NAME: init did not get ready in 10 s"
	child=$(awk '{print $1}' "/proc/$p/task/$p/children" 2>/dev/null)
	[ -n "$child" ] || die "host $HOST_NAME: cannot find its init process"
	echo "$child" >"$hdir/init.pid"
	readlink "/proc/$child/ns/mnt" >"$hdir/init.mntns"
	start_sshd "$hdir"
}

start_sshd() { # hdir
	local hdir=$1
	host_enter "$hdir" /usr/local/lib/clusterc-lab/start-sshd ||
		die "sshd of $(basename "$hdir") did not start: $(tail -n 5 "$hdir/upper/var/log/clusterc-lab-sshd.log" 2>/dev/null)"
	host_sshd_pid "$hdir" >"$hdir/sshd.pid"
}

# The host's listening sshd as this machine sees it (a child of the host's init).
host_sshd_pid() {
	local p c
	p=$(host_init "$1")
	[ -n "$p" ] || return 0
	local kids=()
	read -r -a kids <"/proc/$p/task/$p/children" 2>/dev/null || true
	for c in "${kids[@]}"; do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = sshd ] && { echo "$c"; return 0; }
	done
	return 0
}

up_cleanup() {
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "lab.sh: up failed; tearing down" >&2
		cmd_down "$DIR" >&2 || true
	fi
}

cmd_up() {
	local n=${1:-} names_opt='' one_cluster=0
	DIR=${2:-}
	if [ -z "$n" ] || [ -z "$DIR" ]; then usage; fi
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--names) names_opt=${2:?--names needs a list}; shift 2 ;;
		--names=*) names_opt=${1#--names=}; shift ;;
		--one-cluster) one_cluster=1; shift ;;
		*) die "unknown option $1" ;;
		esac
	done
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 1000 ]; then die "N must be 1..1000"; fi
	prereqs
	local names=() i name
	if [ -n "$names_opt" ]; then
		IFS=, read -r -a names <<<"$names_opt"
		[ ${#names[@]} -eq "$n" ] || die "--names lists ${#names[@]} names for $n hosts"
	else
		for ((i = 1; i <= n; i++)); do names+=("host$i"); done
	fi
	local seen=" "
	for name in "${names[@]}"; do
		[[ $name =~ ^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$ ]] || die "bad host name '$name' (RFC 1123 label, at most 42 characters)"
		case $name in shared | lab) die "host name '$name' is reserved" ;; esac
		case $seen in *" $name "*) die "host name '$name' given twice" ;; esac
		seen+="$name "
	done
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	[ ! -e "$DIR/lab.env" ] || die "a lab is already up in $DIR (lab.sh down $DIR first)"
	# From here on, any failure (or an interrupt) tears down what was built.
	trap up_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	LAB_ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	LAB_SLOT=$(alloc_slot "$DIR")
	LAB_BRIDGE=cclb$LAB_SLOT
	LAB_HOSTS=${names[*]}
	cat >"$DIR/lab.env" <<EOF
LAB_ID=$LAB_ID
LAB_SLOT=$LAB_SLOT
LAB_BRIDGE=$LAB_BRIDGE
LAB_GATEWAY=198.18.$((LAB_SLOT * 4)).1
LAB_PREFIX=22
LAB_HOSTS="$LAB_HOSTS"
EOF
	rm -f "$DIR/id_ed25519" "$DIR/id_ed25519.pub"
	ssh-keygen -q -t ed25519 -N '' -C "clusterc-lab-$LAB_ID" -f "$DIR/id_ed25519"

	# Files every host shares, bind-mounted read-only at /usr/local/lib/clusterc-lab.
	mkdir -p "$DIR/shared/shims" "$DIR/shared/real"
	# One cluster: host-init.sh binds this folder over every host's kube state.
	[ "$one_cluster" = 0 ] || mkdir -p "$DIR/shared/cluster"
	cp "$LAB_SRC"/shims/* "$DIR/shared/shims/"
	chmod 0755 "$DIR/shared/shims"/*
	cp "$LAB_SRC/host-init.sh" "$LAB_SRC/start-sshd" "$LAB_SRC/set-slow" "$LAB_SRC/kube_model.py" "$DIR/shared/"
	# The CRDs a remote manifest or chart registers in the kubectl model, as
	# upstream publishes them (vendored in shared/reference; see kube_model.py).
	local ref=${LAB_REFERENCE:-$LAB_SRC/../../../shared/reference}
	mkdir -p "$DIR/shared/kube-remote/argocd" "$DIR/shared/kube-remote/cilium"
	cp "$ref"/argocd/*-crd.yaml "$DIR/shared/kube-remote/argocd/" 2>/dev/null || true
	cp "$ref"/cilium/cilium[a-z]*.yaml "$DIR/shared/kube-remote/cilium/" 2>/dev/null || true
	chmod 0755 "$DIR/shared/start-sshd" "$DIR/shared/set-slow"
	cp /usr/bin/dpkg "$DIR/shared/real/dpkg" # for dpkg --compare-versions
	printf '%s\n' "${SHIM_PATHS[@]}" >"$DIR/shared/shim-paths"

	# The network: one bridge, one veth per host (eth0 inside).
	local batch=$DIR/shared/ip.batch
	{
		echo "link add $LAB_BRIDGE type bridge"
		echo "addr add 198.18.$((LAB_SLOT * 4)).1/22 dev $LAB_BRIDGE"
		echo "link set $LAB_BRIDGE up"
		for ((i = 1; i <= n; i++)); do
			echo "netns add ccl-$LAB_ID-${names[i - 1]}"
			echo "link add ccl$LAB_ID$i type veth peer name eth0 netns ccl-$LAB_ID-${names[i - 1]}"
			echo "link set ccl$LAB_ID$i master $LAB_BRIDGE up"
		done
	} >"$batch"
	ip -batch "$batch" || die "creating the bridge, namespaces and veths failed (see $batch)"

	# Per-host files, in parallel.
	local pids=()
	for ((i = 1; i <= n; i++)); do
		write_host_files "${names[i - 1]}" "$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || die "writing host files failed"; done
	# /tmp, /run, /root and /var/lib/clusterc are the host's own: opaque in the overlay.
	local opaque=()
	for name in "${names[@]}"; do
		opaque+=("$DIR/$name/upper/tmp" "$DIR/$name/upper/run" "$DIR/$name/upper/var/lib/clusterc" "$DIR/$name/upper/root")
	done
	/usr/bin/python3 -c 'import os, sys
for p in sys.argv[1:]: os.setxattr(p, "trusted.overlay.opaque", b"y")' "${opaque[@]}"
	{
		for name in "${names[@]}"; do cat "$DIR/$name/known_hosts.line"; done
	} >"$DIR/known_hosts"
	for ((i = 1; i <= n; i++)); do
		name=${names[i - 1]}
		printf 'address add %s/22 dev eth0\nlink set eth0 up\nlink set lo up\n' \
			"$(host_addr "$LAB_SLOT" "$i")" | ip -n "ccl-$LAB_ID-$name" -batch - ||
			die "configuring the network of $name failed"
	done

	# Start every host (namespaces, overlay, shims, sshd), in parallel.
	pids=()
	for name in "${names[@]}"; do
		start_host "$DIR/$name" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || die "starting a host failed"; done
	# For the lab's own tests: fail after everything is running.
	[ "${LAB_TEST_FAIL:-}" != started ] || die "LAB_TEST_FAIL=started: failing on purpose"

	write_inventory "${names[@]}"
	trap - EXIT INT TERM HUP
	echo "lab $LAB_ID: $n hosts up in $DIR (198.18.$((LAB_SLOT * 4)).0/22, bridge $LAB_BRIDGE)"
}

write_inventory() {
	local name first=1 addr
	{
		printf '{ "hosts": {'
		for name in "$@"; do
			addr=$(host_field "$DIR/$name" HOST_ADDR)
			[ $first -eq 1 ] || printf ','
			first=0
			printf '\n    "%s": { "address": "%s", "port": 22, "user": "root", "key": "%s", "known_hosts": "%s", "proxy_jump": null }' \
				"$name" "$addr" "$DIR/id_ed25519" "$DIR/known_hosts"
		done
		printf '\n  } }\n'
	} >"$DIR/inventory.json.tmp"
	mv "$DIR/inventory.json.tmp" "$DIR/inventory.json"
	# An ssh_config for humans and for the benchmarks: ssh -F DIR/ssh_config host1
	{
		cat <<EOF
Host *
  User root
  IdentityFile $DIR/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $DIR/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR
EOF
		for name in "$@"; do
			addr=$(host_field "$DIR/$name" HOST_ADDR)
			printf 'Host %s\n  HostName %s\n' "$name" "$addr"
		done
	} >"$DIR/ssh_config"
	# A machine-readable description of the lab for tests.
	{
		printf '{ "id": "%s", "slot": %s, "bridge": "%s", "gateway": "%s", "hosts": {' \
			"$LAB_ID" "$LAB_SLOT" "$LAB_BRIDGE" "198.18.$((LAB_SLOT * 4)).1"
		first=1
		for name in "$@"; do
			# shellcheck source=/dev/null
			. "$DIR/$name/host.env"
			[ $first -eq 1 ] || printf ','
			first=0
			printf '\n    "%s": { "address": "%s", "dir": "%s", "upper": "%s", "netns": "%s", "veth": "%s", "init_pid": %s, "sshd_pid": %s }' \
				"$name" "$HOST_ADDR" "$DIR/$name" "$DIR/$name/upper" "$HOST_NETNS" "$HOST_VETH" \
				"$(cat "$DIR/$name/init.pid")" "$(cat "$DIR/$name/sshd.pid" 2>/dev/null || echo null)"
		done
		printf '\n  } }\n'
	} >"$DIR/lab.json"
}

# ---------------------------------------------------------------- down
kill_host() { # hdir: kill the host's init (the kernel then kills its PID namespace)
	local hdir=$1 p u t
	p=$(host_init "$hdir")
	if [ -n "$p" ]; then kill -KILL "$p" 2>/dev/null || true; fi
	u=$(cat "$hdir/unshare.pid" 2>/dev/null || true)
	# Without a known init (a failed start), the unshare parent takes it along.
	if [ -z "$p" ] && [ -n "$u" ] && ps -p "$u" -o comm= 2>/dev/null | grep -q unshare; then
		kill -KILL "$u" 2>/dev/null || true
	fi
	# The unshare parent exits by itself once its child is gone; wait for both.
	for ((t = 0; t < 500; t++)); do
		if { [ -z "$p" ] || [ ! -e "/proc/$p" ]; } && { [ -z "$u" ] || ! ps -p "$u" -o comm= 2>/dev/null | grep -q unshare; }; then
			break
		fi
		sleep 0.01
	done
	rm -f "$hdir/init.pid" "$hdir/init.mntns" "$hdir/unshare.pid" "$hdir/sshd.pid"
}

cmd_down() {
	local dir=${1:-} name hdir ns p
	[ -n "$dir" ] || usage
	[ -d "$dir" ] || return 0
	dir=$(cd "$dir" && pwd)
	if ! load_lab "$dir"; then
		return 0 # nothing of ours here (or already down)
	fi
	for name in $LAB_HOSTS; do
		[ -d "$dir/$name" ] && kill_host "$dir/$name" &
	done
	wait
	for name in $LAB_HOSTS; do
		ns=ccl-$LAB_ID-$name
		if [ -e "/run/netns/$ns" ]; then
			# Anything still in the namespace (a leaked `ip netns exec`) goes too.
			for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
			echo "netns del $ns"
		fi
	done >"$dir/down.batch"
	if [ -s "$dir/down.batch" ]; then ip -force -batch "$dir/down.batch" >/dev/null 2>&1 || true; fi
	ip link del "$LAB_BRIDGE" 2>/dev/null || true
	if [ -d "$LAB_RUN/slot.$LAB_SLOT" ] && [ "$(cat "$LAB_RUN/slot.$LAB_SLOT/owner" 2>/dev/null)" = "$dir" ]; then
		rm -rf "${LAB_RUN:?}/slot.$LAB_SLOT"
	fi
	if [ "${LAB_KEEP:-0}" != 1 ]; then
		for name in $LAB_HOSTS; do rm -rf "${dir:?}/$name"; done
		rm -rf "$dir/shared"
		rm -f "$dir/inventory.json" "$dir/known_hosts" "$dir/id_ed25519" "$dir/id_ed25519.pub" \
			"$dir/ssh_config" "$dir/lab.json" "$dir/down.batch"
	fi
	rm -f "$dir/lab.env"
	rmdir "$dir" 2>/dev/null || true
}

# ---------------------------------------------------------------- the rest
cmd_exec() {
	local hdir=${1:-}
	[ -n "$hdir" ] || usage
	shift
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || usage
	[ -f "$hdir/host.env" ] || die "$hdir is not a lab host directory"
	hdir=$(cd "$hdir" && pwd)
	host_enter "$hdir" "$@"
}

cmd_put() { # write stdin to a path inside the host (the safe way to seed a host's files)
	local hdir=${1:-} path=${2:-}
	if [ -z "$hdir" ] || [ -z "$path" ]; then usage; fi
	case $path in /*) ;; *) die "PATH must be absolute" ;; esac
	# shellcheck disable=SC2016 # expanded inside the host
	cmd_exec "$hdir" -- /bin/sh -c 'mkdir -p "$(dirname "$1")" && cat >"$1"' put "$path"
}

cmd_kill_sshd() {
	local hdir
	hdir=$(resolve_host "${1:-}" "${2:-}")
	# kill -1 inside the host's PID namespace: every process but its init.
	# (Files in the upper dir are only ever changed from inside the host:
	# changing an overlay's upper dir under it is undefined.)
	host_enter "$hdir" /bin/bash -c 'kill -KILL -1 2>/dev/null; rm -f /run/sshd.pid; exit 0'
	rm -f "$hdir/sshd.pid"
}

cmd_start_sshd() {
	local hdir
	hdir=$(resolve_host "${1:-}" "${2:-}")
	if [ -n "$(host_sshd_pid "$hdir")" ]; then
		echo "lab.sh: sshd of ${2} is already running" >&2
		return 0
	fi
	start_sshd "$hdir"
}

cmd_slow() {
	local hdir ms=${3:-}
	hdir=$(resolve_host "${1:-}" "${2:-}")
	[[ $ms =~ ^[0-9]+$ ]] || die "MS must be a number of milliseconds"
	# shellcheck source=/dev/null
	. "$hdir/host.env"
	# tc netem is the real thing when the kernel has it; otherwise every new
	# SSH session on the host starts MS ms late (sshd's login shell sleeps).
	if [ "$ms" -gt 0 ] && tc qdisc replace dev "$HOST_VETH" root netem delay "${ms}ms" 2>/dev/null; then
		echo "netem" >"$hdir/slow.mode"
		return 0
	fi
	if [ "$(cat "$hdir/slow.mode" 2>/dev/null)" = netem ]; then
		tc qdisc del dev "$HOST_VETH" root 2>/dev/null || true
	fi
	host_enter "$hdir" /usr/local/lib/clusterc-lab/set-slow "$ms"
	echo "session" >"$hdir/slow.mode"
}

cmd_status() {
	local dir=${1:-} name p
	load_lab "$dir" || die "no lab in $dir"
	for name in $LAB_HOSTS; do
		p=$(host_init "$dir/$name")
		printf '%s %s init=%s sshd=%s\n' "$name" "$(host_field "$dir/$name" HOST_ADDR)" \
			"${p:-down}" "$(host_sshd_pid "$dir/$name" | grep . || echo down)"
	done
}

main() {
	local cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $cmd in
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	exec) cmd_exec "$@" ;;
	put) cmd_put "$@" ;;
	kill-sshd) cmd_kill_sshd "$@" ;;
	start-sshd) cmd_start_sshd "$@" ;;
	slow) cmd_slow "$@" ;;
	status) cmd_status "$@" ;;
	*) usage ;;
	esac
}
main "$@"
