#!/usr/bin/env bash
# tests/lab/run.sh: the lab's own tests. Starts real lab hosts (network
# namespaces, overlays, sshd), checks what tests/runner and the benchmarks rely
# on, and always tears down (also after a failure: at_exit).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
LAB=$TOP/tests/lab/lab.sh

if [ "$(id -u)" -ne 0 ]; then
	fail "lab tests need root (network and mount namespaces)"
	finish
	exit 1
fi

L1=$TMP/lab1
L2=$TMP/lab2
at_exit "bash '$LAB' down '$L1' >/dev/null 2>&1"
at_exit "bash '$LAB' down '$L2' >/dev/null 2>&1"

# ---- static checks
check "shims, lab.sh and helpers pass ShellCheck" \
	env -C "$TOP" shellcheck -x -P "$TOP/tests/lab/shims" "$TOP"/tests/lab/shims/* "$LAB" \
	"$TOP/tests/lab/host-init.sh" "$TOP/tests/lab/start-sshd" "$TOP/tests/lab/set-slow" "$TOP/tests/lab/run.sh"

if ! out=$(bash "$LAB" up 2 "$TMP/bad" --names ok,Bad_Name 2>&1) && [[ $out == *"bad host name"* ]] && [ ! -e "$TMP/bad/lab.env" ]; then
	pass "up rejects a bad host name before building anything"
else
	fail "up rejects a bad host name before building anything" "$out"
fi

# A failure half-way through up (every host already running) leaves nothing.
F=$TMP/failing
at_exit "bash '$LAB' down '$F' >/dev/null 2>&1"
if ! out=$(LAB_TEST_FAIL=started bash "$LAB" up 2 "$F" --names lt-fail-a,lt-fail-b 2>&1) && [[ $out == *"tearing down"* ]] &&
	[ ! -e "$F/lab.env" ] && ! ip netns list | grep -q -- "-lt-fail-" && ! pgrep -f "host-init.sh $F/" >/dev/null; then
	pass "a failed up tears down what it built"
else
	fail "a failed up tears down what it built" "$out
$(ip netns list)"
fi

# ---- up
start=$(date +%s.%N)
if ! out=$(bash "$LAB" up 3 "$L1" 2>&1); then
	fail "up 3 hosts" "$out"
	finish
	exit 1
fi
pass "up 3 hosts ($(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f s", e - s }'))"
# shellcheck source=/dev/null
. "$L1/lab.env"

check "inventory.json is valid JSON with host1..host3" \
	/usr/bin/python3 -c 'import json, sys
inv = json.load(open(sys.argv[1]))
assert sorted(inv["hosts"]) == ["host1", "host2", "host3"], inv
for h in inv["hosts"].values():
    assert h["port"] == 22 and h["user"] == "root" and h["address"].startswith("198.18.")
    assert h["key"].endswith("/id_ed25519") and h["known_hosts"].endswith("/known_hosts")
' "$L1/inventory.json"

if ! out=$(bash "$LAB" up 3 "$L1" 2>&1) && [[ $out == *"already up"* ]]; then pass "up refuses a directory whose lab is up"; else fail "up refuses a directory whose lab is up" "$out"; fi

addr() { sed -n "s/^HOST_ADDR=//p" "$1/$2/host.env"; }
# ssh with nothing but the lab's files: pinned key, strict host key checking.
lssh() {
	local dir=$1 host=$2
	shift 2
	ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes \
		-o UserKnownHostsFile="$dir/known_hosts" -o GlobalKnownHostsFile=/dev/null \
		-o ConnectTimeout=5 -i "$dir/id_ed25519" -l root "$(addr "$dir" "$host")" "$@"
}

for h in host1 host2 host3; do
	out=$(lssh "$L1" "$h" hostname 2>&1)
	if [ "$out" = "$h" ]; then pass "ssh to $h with the pinned key and known_hosts"; else fail "ssh to $h with the pinned key and known_hosts" "$out"; fi
done

# ---- files land in the host's upper dir, not on the real /
marker=/etc/clusterc-lab-test-$LAB_ID
lssh "$L1" host2 "echo written-by-ssh > $marker; mkdir -p /var/lib/clusterc; echo s > /var/lib/clusterc/state; echo t > /tmp/t"
if [ "$(cat "$L1/host2/upper$marker" 2>/dev/null)" = written-by-ssh ]; then pass "a file written through ssh is in the host's upper dir"; else fail "a file written through ssh is in the host's upper dir"; fi
if [ ! -e "$marker" ]; then pass "the file is not on the real /"; else fail "the file is not on the real /"; rm -f "$marker"; fi
if ! out=$(lssh "$L1" host1 "cat $marker" 2>&1); then pass "the file is not on another host"; else fail "the file is not on another host" "$out"; fi
if [ "$(cat "$L1/host2/upper/var/lib/clusterc/state" "$L1/host2/upper/tmp/t" 2>/dev/null | tr -d '\n')" = st ]; then
	pass "/var/lib/clusterc and /tmp writes land in the upper dir"
else
	fail "/var/lib/clusterc and /tmp writes land in the upper dir"
fi
out=$(lssh "$L1" host1 'ls -A /tmp /var/lib/clusterc; cat /etc/debian_version >/dev/null && echo lower-visible' 2>&1)
if [ "$out" = $'/tmp:\n\n/var/lib/clusterc:\nlower-visible' ]; then pass "a host's /tmp and /var/lib/clusterc start empty; the real / shows through"; else fail "a host's /tmp and /var/lib/clusterc start empty; the real / shows through" "$out"; fi

# ---- shims
lssh "$L1" host1 "apt-get install -y 'kubeadm=1.34.1-1.1' cri-o >/dev/null; modprobe br_netfilter; sysctl --system >/dev/null; systemctl enable --now crio 2>/dev/null; ufw allow 'OpenSSH'" >/dev/null 2>&1
log=$L1/host1/upper/var/log/clusterc-shims.log
want="apt-get install -y kubeadm=1.34.1-1.1 cri-o
modprobe br_netfilter
sysctl --system
systemctl enable --now crio
ufw allow OpenSSH"
if [ "$(head -n 5 "$log" 2>/dev/null)" = "$want" ]; then pass "shims log their argv, one shell-quoted line each"; else fail "shims log their argv, one shell-quoted line each" "$(cat "$log" 2>&1)"; fi
lssh "$L1" host1 "kubectl label node host1 'a=b c' >/dev/null 2>&1 || true; kubectl annotate node host1 x='\$(id)' >/dev/null" >/dev/null 2>&1
if grep -qxF "kubectl annotate node host1 x=\\\$\\(id\\)" "$log"; then pass "shim log lines are shell-quoted"; else fail "shim log lines are shell-quoted" "$(tail -n 2 "$log")"; fi
# shellcheck disable=SC2016 # expanded by dpkg-query
out=$(lssh "$L1" host1 'dpkg -s kubeadm >/dev/null && echo yes; dpkg -s kubelet >/dev/null 2>&1 || echo no; dpkg-query -W -f="\${Version}" kubeadm; echo; dpkg --print-architecture' 2>&1)
if [ "$out" = $'yes\nno\n1.34.1-1.1\namd64' ]; then pass "dpkg answers 'not installed' unless apt-get installed it"; else fail "dpkg answers 'not installed' unless apt-get installed it" "$out"; fi
out=$(lssh "$L1" host3 'nvidia-smi >/dev/null 2>&1 && echo before-ok || echo before-fails; printf "%s\n" "nvidia-driver-570-server, (kernel modules provided by linux-modules-nvidia-570-server-generic)" "nvidia-driver-550-server, (kernel modules provided by linux-modules-nvidia-550-server-generic)" > /etc/clusterc-lab/ubuntu-drivers.out; ubuntu-drivers list --gpgpu | cut -d, -f1; apt-get install -y nvidia-driver-550-server >/dev/null; nvidia-smi -L >/dev/null && echo after-ok' 2>&1)
if [ "$out" = $'before-fails\nnvidia-driver-570-server\nnvidia-driver-550-server\nafter-ok' ]; then pass "ubuntu-drivers lists its file; nvidia-smi works only once a driver is installed"; else fail "ubuntu-drivers lists its file; nvidia-smi works only once a driver is installed" "$out"; fi
out=$(lssh "$L1" host1 'kubeadm token create --print-join-command' 2>&1)
if [[ $out =~ ^kubeadm\ join\ 198\.18\.[0-9.]+:6443\ --token\ [a-z0-9]{6}\.[a-z0-9]{16}\ --discovery-token-ca-cert-hash\ sha256:[0-9a-f]{64} ]]; then pass "kubeadm prints a plausible join command"; else fail "kubeadm prints a plausible join command" "$out"; fi
out=$(lssh "$L1" host1 'kubeadm init >/dev/null && test -f /etc/kubernetes/admin.conf && echo init; kubeadm init >/dev/null 2>&1 || echo refused-again' 2>&1)
if [ "$out" = $'init\nrefused-again' ]; then pass "kubeadm init writes admin.conf and refuses a second init"; else fail "kubeadm init writes admin.conf and refuses a second init" "$out"; fi
out=$(lssh "$L1" host1 'curl -fsSL https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release.key | gpg --dearmor -o /etc/k.gpg && test -s /etc/k.gpg && echo key; curl -fsSL https://example.com/x >/dev/null 2>&1 || echo no-net; curl -fsSL https://pkgs.k8s.io/x/Release.key | gpg --dearmor -o /etc/k.gpg 2>/dev/null || echo gpg-refuses-overwrite' 2>&1)
if [ "$out" = $'key\nno-net\ngpg-refuses-overwrite' ]; then pass "curl returns a canned key, never the network; gpg --dearmor behaves"; else fail "curl returns a canned key, never the network; gpg --dearmor behaves" "$out"; fi
out=$(lssh "$L1" host1 'kubectl label node n1 a=b; kubectl label node n1 a=b; kubectl get node n1 -o jsonpath="{.metadata.labels.a}"; echo; kubectl taint node n1 k=v:NoSchedule; kubectl taint node n1 k=v:NoSchedule 2>/dev/null || echo taint-exists' 2>&1)
if [ "$out" = $'node/n1 labeled\nnode/n1 not labeled\nb\nnode/n1 tainted\ntaint-exists' ]; then pass "kubectl keeps node labels and taints"; else fail "kubectl keeps node labels and taints" "$out"; fi
snap() { find "$L1/host1/upper/var/lib/clusterc-lab" -printf '%p %s %T@\n' | sort; }
before=$(snap)
out=$(lssh "$L1" host1 'kubectl get nodes -o name; kubectl get node n1 -o json >/dev/null && echo json' 2>&1)
after=$(snap)
if [ "$out" = $'node/host1\nnode/n1\njson' ] && [ "$before" = "$after" ]; then pass "kubectl get lists nodes and writes nothing"; else fail "kubectl get lists nodes and writes nothing" "$out $(diff <(echo "$before") <(echo "$after"))"; fi
# The object model behind kubectl: CRDs before custom resources, stored data, NotFound.
out=$(lssh "$L1" host1 'set -o pipefail
	printf "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata: {name: p}\n" | kubectl apply -f - 2>&1 | grep -c "no matches for kind" 
	helm upgrade --install cilium cilium --repo https://helm.cilium.io/ --namespace kube-system >/dev/null
	kubectl get crd/ciliumloadbalancerippools.cilium.io -o name
	printf "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata: {name: p}\n" | kubectl apply -f -
	kubectl -n kube-system rollout status daemonset/cilium
	kubectl create namespace ns1 >/dev/null
	kubectl -n ns1 create secret generic s --from-literal=url=git@h:r --dry-run=client -o yaml |
		kubectl label --local -f - -o yaml a=b | kubectl apply -f - >/dev/null
	kubectl -n ns1 get secret s -o "jsonpath={.data.url}" | base64 -d; echo
	kubectl -n ns1 get secret s -o "jsonpath={.metadata.labels.a}"; echo
	kubectl -n ns1 get configmap nope 2>&1; echo "rc=$?"' 2>&1)
want=$'1\ncustomresourcedefinition/ciliumloadbalancerippools.cilium.io\nciliumloadbalancerippool/p created\ndaemonset "cilium" successfully rolled out\ngit@h:r\nb\nError from server (NotFound): configmap "nope" not found\nrc=1'
if [ "$out" = "$want" ]; then pass "kubectl's object model: CRDs first, stored data, NotFound"; else fail "kubectl's object model: CRDs first, stored data, NotFound" "$(diff <(echo "$want") <(echo "$out"))"; fi
out=$(bash "$LAB" exec "$L1/host1" -- cat /etc/hostname 2>&1)
if [ "$out" = host1 ]; then pass "lab.sh exec runs a command inside a host"; else fail "lab.sh exec runs a command inside a host" "$out"; fi
printf 'seeded\n' | bash "$LAB" put "$L1/host1" /etc/clusterc-lab/new-dir/seed
if [ "$(cat "$L1/host1/upper/etc/clusterc-lab/new-dir/seed" 2>/dev/null)" = seeded ]; then pass "lab.sh put writes a file inside a host"; else fail "lab.sh put writes a file inside a host"; fi
if [ ! -e /etc/k.gpg ] && [ ! -e /etc/kubernetes/admin.conf ]; then pass "no shim output reached the real /"; else fail "no shim output reached the real /"; fi

# ---- host keys and authentication
cp "$L1/known_hosts" "$TMP/kh.changed"
sed -i "s|^$(addr "$L1" host1) ssh-ed25519 .*|$(addr "$L1" host1) $(cut -d' ' -f1,2 "$L1/host2/upper/etc/clusterc-lab/ssh_host_ed25519_key.pub")|" "$TMP/kh.changed"
out=$(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$TMP/kh.changed" -o GlobalKnownHostsFile=/dev/null \
	-i "$L1/id_ed25519" -o IdentitiesOnly=yes -l root "$(addr "$L1" host1)" true 2>&1)
if [ $? -eq 255 ] && [[ $out == *"IDENTIFICATION HAS CHANGED"* ]]; then pass "a changed host key is refused"; else fail "a changed host key is refused" "$out"; fi
: >"$TMP/kh.empty"
out=$(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$TMP/kh.empty" -o GlobalKnownHostsFile=/dev/null \
	-i "$L1/id_ed25519" -o IdentitiesOnly=yes -l root "$(addr "$L1" host1)" true 2>&1)
if [ $? -eq 255 ] && [[ $out == *"Host key verification failed"* ]]; then pass "an unknown host key is refused"; else fail "an unknown host key is refused" "$out"; fi
ssh-keygen -q -t ed25519 -N '' -f "$TMP/otherkey"
out=$(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$L1/known_hosts" -o GlobalKnownHostsFile=/dev/null \
	-i "$TMP/otherkey" -o IdentitiesOnly=yes -o PreferredAuthentications=publickey,password,keyboard-interactive \
	-l root "$(addr "$L1" host1)" true 2>&1)
if [ $? -eq 255 ] && [[ $out == *"Permission denied (publickey)"* ]]; then pass "another key is refused; only publickey is offered"; else fail "another key is refused; only publickey is offered" "$out"; fi

# ---- kill-sshd, start-sshd, slow, reboot
bash "$LAB" kill-sshd "$L1" host2
out=$(lssh "$L1" host2 true 2>&1)
if [ $? -eq 255 ]; then pass "kill-sshd: the host no longer answers"; else fail "kill-sshd: the host no longer answers" "$out"; fi
bash "$LAB" start-sshd "$L1" host2
out=$(lssh "$L1" host2 cat "$marker" 2>&1)
if [ "$out" = written-by-ssh ]; then pass "start-sshd: it answers again, its files kept"; else fail "start-sshd: it answers again, its files kept" "$out"; fi

# Timed over one master connection, so the handshake's CPU cost is not in it.
lssh "$L1" host3 -o ControlMaster=yes -o ControlPath="$TMP/cm-%C" -o ControlPersist=30 true
bash "$LAB" slow "$L1" host3 1500
t0=$(date +%s%N)
lssh "$L1" host3 -o ControlPath="$TMP/cm-%C" true
t1=$(date +%s%N)
bash "$LAB" slow "$L1" host3 0
lssh "$L1" host3 -o ControlPath="$TMP/cm-%C" true
t2=$(date +%s%N)
lssh "$L1" host3 -o ControlPath="$TMP/cm-%C" -O exit 2>/dev/null
ms_slow=$(((t1 - t0) / 1000000)) ms_fast=$(((t2 - t1) / 1000000))
# (Generous margins: the machine may be busy.)
if [ "$ms_slow" -ge 1500 ] && [ $((ms_slow - ms_fast)) -ge 1000 ]; then pass "slow 1500: a session takes ${ms_slow} ms, ${ms_fast} ms after slow 0 ($(cat "$L1/host3/slow.mode"))"; else fail "slow host delays sessions" "slow ${ms_slow} ms, fast ${ms_fast} ms"; fi

lssh "$L1" host3 reboot >/dev/null 2>&1
gone=0 back=0
for _ in $(seq 100); do
	if lssh "$L1" host3 true >/dev/null 2>&1; then
		[ "$gone" = 1 ] && { back=1; break; }
	else
		gone=1
	fi
	sleep 0.1
done
if [ "$gone" = 1 ] && [ "$back" = 1 ] && [ "$(lssh "$L1" host3 'wc -l < /var/lib/clusterc-lab/reboots')" = 1 ]; then
	pass "reboot: the host goes away and comes back"
else
	fail "reboot: the host goes away and comes back" "gone=$gone back=$back"
fi

# ---- a second lab beside the first
if out=$(bash "$LAB" up 2 "$L2" --names cp-1,worker-1 2>&1); then
	inv2=$(cat "$L2/inventory.json")
	if [[ $inv2 == *'"cp-1"'* ]] && [[ $inv2 == *'"worker-1"'* ]] && [ "$(lssh "$L2" worker-1 hostname 2>&1)" = worker-1 ] &&
		[ "$(lssh "$L1" host1 hostname 2>&1)" = host1 ]; then
		pass "a second lab (--names) runs beside the first"
	else
		fail "a second lab (--names) runs beside the first" "$inv2"
	fi
else
	fail "a second lab (--names) runs beside the first" "$out"
fi

# ---- teardown leaves nothing behind
# shellcheck source=/dev/null
. "$L1/lab.env"
pids=()
for h in host1 host2 host3; do
	pids+=("$(cat "$L1/$h/init.pid")" "$(cat "$L1/$h/unshare.pid")")
done
mntns=$(cat "$L1"/host*/init.mntns | sort -u)
sshd_outer=$(for p in $(pgrep -x sshd); do
	for n in $mntns; do [ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" = "$n" ] && echo "$p"; done
done)
lab1_id=$LAB_ID lab1_bridge=$LAB_BRIDGE lab1_slot=$LAB_SLOT
if out=$(bash "$LAB" down "$L1" 2>&1); then pass "down"; else fail "down" "$out"; fi
left=""
for p in "${pids[@]}" $sshd_outer; do [ -e "/proc/$p" ] && left+=" $p($(cat "/proc/$p/comm" 2>/dev/null))"; done
for p in /proc/[0-9]*; do
	n=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
	for m in $mntns; do [ "$n" = "$m" ] && left+=" ${p#/proc/}"; done
done
if [ -z "$left" ]; then pass "down: no process of the lab is left (init, unshare, sshd, sessions)"; else fail "down: no process of the lab is left" "$left"; fi
if ! ip netns list | grep -q "ccl-$lab1_id-"; then pass "down: no network namespace left"; else fail "down: no network namespace left" "$(ip netns list)"; fi
if ! ip link show "$lab1_bridge" >/dev/null 2>&1 && ! ip -br link | grep -q "ccl$lab1_id"; then pass "down: no bridge or veth left"; else fail "down: no bridge or veth left" "$(ip -br link)"; fi
if ! grep -q "$L1" /proc/self/mountinfo && ! grep -q "clusterc-lab" /proc/self/mountinfo; then pass "down: no mount left"; else fail "down: no mount left" "$(grep -e "$L1" -e clusterc-lab /proc/self/mountinfo)"; fi
# (Freed: gone, or already taken by a lab another test started since.)
if [ ! -e "$L1" ] && [ "$(cat "/run/clusterc-lab/slot.$lab1_slot/owner" 2>/dev/null)" != "$L1" ]; then pass "down: lab dir removed, slot freed"; else fail "down: lab dir removed, slot freed" "$(ls -A "$L1" 2>&1)"; fi
if [ "$(lssh "$L2" cp-1 hostname 2>&1)" = cp-1 ]; then pass "the other lab is untouched"; else fail "the other lab is untouched"; fi
if bash "$LAB" down "$L1" && bash "$LAB" down "$TMP/never-was"; then pass "down is idempotent"; else fail "down is idempotent"; fi
check "down the second lab" bash "$LAB" down "$L2"
finish
