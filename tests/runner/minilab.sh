# tests/runner/minilab.sh: sourced by run.sh. Test hosts for the runner when
# tests/lab/lab.sh is not there: each host is a real sshd on 127.0.0.1 (its own
# port and host key) in its own mount and pid namespace, with private
# /var/lib/clusterc and /var/lib/lab (kept in DIR/hN/ across "reboots") and a
# shim directory on /usr/local/sbin (systemctl: "reboot" ends the namespace,
# the host's supervisor loop starts it again). Everything is started here and
# ended by PID in minilab_down.

# minilab_up N DIR: writes DIR/inventory.json, DIR/known_hosts, DIR/id_ed25519
minilab_up() {
	local n=$1 d=$2 i port
	mkdir -p "$d/shims"
	ssh-keygen -q -t ed25519 -N '' -f "$d/id_ed25519" -C minilab >/dev/null
	cp "$d/id_ed25519.pub" "$d/authorized_keys"
	cat >"$d/sshd_config" <<CFG
ListenAddress 127.0.0.1
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile $d/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
MaxStartups 200:30:400
MaxSessions 64
LogLevel VERBOSE
CFG
	cat >"$d/shims/systemctl" <<'SHIM'
#!/bin/bash
echo "systemctl $*" >> /var/lib/lab/systemctl.log
if [ "${1:-}" = reboot ]; then
	touch /var/lib/lab/rebooted
	kill -TERM 1
fi
exit 0
SHIM
	chmod +x "$d/shims/systemctl"
	cat >"$d/hostinit.sh" <<'INIT'
set -e
d=$1 h=$2 port=$3
mount --make-rprivate /
mount -t proc proc /proc
mount -t tmpfs tmpfs /run
mkdir -p /run/sshd
mount -t tmpfs tmpfs /var/lib
mkdir -p /var/lib/clusterc /var/lib/lab
mount --bind "$d/$h/clusterc" /var/lib/clusterc
mount --bind "$d/$h/lab" /var/lib/lab
mount --bind "$d/shims" /usr/local/sbin
exec /usr/sbin/sshd -D -e -f "$d/sshd_config" -p "$port" -h "$d/$h/hostkey" 2>>"$d/$h/sshd.log"
INIT
	cat >"$d/hostloop.sh" <<'LOOP'
d=$1 h=$2 port=$3
while [ ! -e "$d/$h/stop" ]; do
	if [ ! -e "$d/$h/down" ]; then
		unshare -m -p --fork --kill-child bash "$d/hostinit.sh" "$d" "$h" "$port" &
		echo $! > "$d/$h/ns.pid"
		wait $!
		rm -f "$d/$h/ns.pid"
	fi
	sleep 0.3
done
LOOP
	: >"$d/known_hosts"
	local base=$((20000 + RANDOM % 20000))
	printf '{"hosts":{' >"$d/inventory.json"
	for ((i = 1; i <= n; i++)); do
		port=$((base + i))
		mkdir -p "$d/n$i/clusterc" "$d/n$i/lab"
		ssh-keygen -q -t ed25519 -N '' -f "$d/n$i/hostkey" -C "n$i" >/dev/null
		echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/n$i/hostkey.pub")" >>"$d/known_hosts"
		echo "$port" >"$d/n$i/port"
		setsid bash "$d/hostloop.sh" "$d" "n$i" "$port" </dev/null >/dev/null 2>&1 &
		echo $! >"$d/n$i/loop.pid"
		[ "$i" -gt 1 ] && printf ',' >>"$d/inventory.json"
		printf '"n%d":{"address":"127.0.0.1","port":%d,"user":"root","key":"%s","known_hosts":"%s"}' \
			"$i" "$port" "$d/id_ed25519" "$d/known_hosts" >>"$d/inventory.json"
	done
	printf '}}\n' >>"$d/inventory.json"
	for ((i = 1; i <= n; i++)); do minilab_wait_up "$d" "n$i" || return 1; done
}

# minilab_wait_up DIR HOST: waits until the host's sshd accepts connections
minilab_wait_up() {
	local d=$1 h=$2 k port
	port=$(cat "$d/$h/port")
	for ((k = 0; k < 100; k++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "minilab: $h did not come up" >&2
	return 1
}

# minilab_kill DIR HOST: the host dies now (every process in it) and stays down
minilab_kill() {
	local d=$1 h=$2 p
	touch "$d/$h/down"
	p=$(cat "$d/$h/ns.pid" 2>/dev/null) && [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	local k
	for ((k = 0; k < 50; k++)); do [ -e "$d/$h/ns.pid" ] || return 0; sleep 0.1; done
}

# minilab_start DIR HOST: brings a downed host back
minilab_start() {
	rm -f "$1/$2/down"
	minilab_wait_up "$1" "$2"
}

minilab_down() {
	local d=$1 h p
	for h in "$d"/n*/; do
		h=${h%/}
		[ -d "$h" ] || continue
		touch "$h/stop" "$h/down"
		p=$(cat "$h/ns.pid" 2>/dev/null) && [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
		p=$(cat "$h/loop.pid" 2>/dev/null) && [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	for h in "$d"/n*/; do
		p=$(cat "${h%/}/loop.pid" 2>/dev/null) || continue
		while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
	done
	return 0
}
