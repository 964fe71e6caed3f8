#!/usr/bin/env bash
# tests/e2e/run.sh [CLUSTER_FILE...]: the run users do, from an empty Proxmox
# host to a working cluster, as one `clusterc apply`, on lab hosts and Proxmox
# simulators (tests/api/mock_server.py over self-signed TLS, pinned by
# fingerprint). With no argument: clusters/homelab.cluster and clusters/ha.cluster.
#
# For any cluster file it: builds it with the operator key of this run; maps
# every node onto a lab host of the same name and every proxmox block onto its
# own simulator (inventory overrides); seeds the installer ISO cache with a
# small stand-in ISO (the real one is 3 GB); applies; and checks that every
# step ran, with strict host-key checking on every connection and no secret in
# out/, artifacts/, argv or the simulators' request logs. Then a second apply
# changes nothing and sends the API nothing but reads, a runner killed in the
# infra phase converges on the re-run without a duplicate VM or upload.
#
# VM nodes start with no usable login: the lab host refuses every key and its
# host key is in no known_hosts file. Only the simulator's boot hook
# (boot_vm.py) applying the seed the run uploaded lets the runner in, and only
# the host key read through the guest agent lets ssh trust it.
source "$(dirname "$0")/../lib.sh"
cd "$TOP"
HERE=$TOP/tests/e2e
MOCKPY=$TOP/tests/api/mock_server.py
LAB=$TOP/tests/lab/lab.sh
# Seconds from VM start to the "installed system": long enough that the runner
# must wait through every stage, short enough for CI.
E2E_INSTALL_DELAY=${E2E_INSTALL_DELAY:-2}

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(clusters/homelab.cluster clusters/ha.cluster)

for t in openssl xorriso jq python3 ssh-keygen; do
	command -v "$t" >/dev/null || { fail "e2e: $t is not installed (make deps)"; finish; exit; }
done
python3 -c 'import yaml' 2>/dev/null || { fail "e2e: python3-yaml is not installed (make deps)"; finish; exit; }
[ -x "$CLUSTERC_BIN" ] || { fail "e2e: $CLUSTERC_BIN is not built (make)"; finish; exit; }

# expect NAME CMD...: like check, for the scenario's many small assertions.
expect() { check "$CURRENT: $1" "${@:2}"; }

# start_sim DIR NAME [CERT KEY]: a simulator on 127.0.0.1; its port in SIM_PORT.
start_sim() {
	local d=$1 n=$2 t pid
	python3 "$MOCKPY" "$d/$n.port" "$d/$n.requests.log" "${@:3}" >"$d/$n.out" 2>"$d/$n.err" &
	pid=$!
	at_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	for ((t = 0; t < 200; t++)); do [ -s "$d/$n.port" ] && break; sleep 0.05; done
	SIM_PORT=$(cat "$d/$n.port")
}

# with_operator_key SRC KEYTEXT: the cluster file as this run's operator would
# write it, with public_key naming the run's own key (the file's key belongs to
# someone else; the seed must carry a key the run can log in with).
with_operator_key() {
	python3 - "$1" "$2" <<'PY'
import re, sys
path, key = sys.argv[1], sys.argv[2]
s = open(path, encoding="utf-8").read()
lit = '"' + key + '"'
if re.search(r"(?m)^\s*public_key\s*=", s):
    s = re.sub(r"(?m)^(\s*public_key\s*=\s*).*$", lambda m: m.group(1) + lit, s, count=1)
elif re.search(r"(?m)^\s*ssh\s*\{", s):
    s = re.sub(r"(?m)^(\s*)ssh\s*\{", lambda m: m.group(0) + " public_key = " + lit, s, count=1)
else:
    sys.exit("no ssh block in the cluster block: cannot give the run's operator key")
open(path, "w", encoding="utf-8").write(s)
PY
}

# lower_minor FILE: kubernetes and crio one minor version lower, in place.
lower_minor() {
	python3 - "$1" <<'PY'
import re, sys
path = sys.argv[1]
s = open(path, encoding="utf-8").read()
s, n = re.subn(r'(?m)^(\s*(?:kubernetes|crio)\s*=\s*")1\.(\d+)"',
              lambda m: '%s1.%d"' % (m.group(1), int(m.group(2)) - 1), s)
if n != 2:
    sys.exit("expected kubernetes = \"1.N\" and crio = \"1.N\" in the cluster block")
open(path, "w", encoding="utf-8").write(s)
PY
}

# apply_run N [ARGS...]: apply number N of the scenario; log in $w/applyN.log.
apply_run() {
	local n=$1
	shift
	(cd "$w" && HOME=$w/home XDG_STATE_HOME=$w/state CLUSTERC_TRACE_ARGV=$w/argv.log \
		"$CLUSTERC_BIN" apply "${APPLY_OUT:-$w/out}/$name" --inventory "$w/inventory.json" --env "$w/secrets.env" \
		--yes --artifacts "$w/artifacts" --connect-timeout 5 "$@" </dev/null >"$w/apply$n.log" 2>&1)
}

# sim_vm_count: the VMs on every simulator of this run, together.
sim_vm_count() {
	local s n=0
	for s in "$w"/sim/pve-*.port; do
		[ -f "$s" ] || continue
		n=$((n + $(curl -sf --cacert "$w/sim/tls.crt" "https://127.0.0.1:$(cat "$s")/__mock/state" | jq '.vms | length')))
	done
	echo "$n"
}
last_summary() { ls -d "$w"/artifacts/*/ 2>/dev/null | LC_ALL=C sort | tail -n 1 | sed 's:/$:/summary.json:'; }
count_writes() { cat "$w"/sim/*.requests.log 2>/dev/null | jq -s '[.[] | select(.method != "GET")] | length'; }

e2e_cluster() {
	local file=$1 src lab hosts vmhosts h secret added fname
	fname=$(basename "$file" .cluster)
	name=$fname
	CURRENT=e2e/$name
	w=$TMP/$name
	lab=$w/lab
	mkdir -p "$w/src" "$w/home/.ssh" "$w/state" "$w/sim" "$w/store"
	chmod 0700 "$w/home" "$w/state"

	# ---- the operator's key and the cluster file
	ssh-keygen -q -t ed25519 -N '' -C "operator@e2e-$name" -f "$w/operator"
	src=$w/src/$fname.cluster
	cp "$file" "$src"
	for e in "$(dirname "$file")/.env" "$(dirname "$file")/$fname.env"; do
		[ -f "$e" ] && cp "$e" "$w/src/"
	done
	if ! out=$(with_operator_key "$src" "$(cat "$w/operator.pub")" 2>&1); then
		fail "$CURRENT: map the operator key" "$out"; return
	fi
	# A file with several control nodes starts one Kubernetes minor lower: the
	# scenario ends with the upgrade to the file's own version (e2e_upgrade).
	local upgrade=''
	if [ "$(grep -cE '^\s*role\s*=\s*control' "$src")" -ge 2 ]; then
		mkdir -p "$w/src-up"
		cp -a "$w/src/." "$w/src-up/"
		if ! out=$(lower_minor "$src" 2>&1); then
			fail "$CURRENT: lower the Kubernetes version by one minor" "$out"; return
		fi
		upgrade=1
	fi
	if ! (cd "$w/src" && HOME=$w/home "$CLUSTERC_BIN" build "$fname.cluster" -o "$w/out") >"$w/build.log" 2>&1; then
		fail "$CURRENT: build" "$(cat "$w/build.log")"; return
	fi
	pass "$CURRENT: build with the run's operator key"
	# The output folder is named by the cluster block, not the file.
	name=$(jq -r .cluster "$w"/out/*/plan.json | head -n 1)
	local plan=$w/out/$name/plan.json
	# The same file grown by one worker, for the "a node added converges" step;
	# its hosts are in the lab from the start (absent from the first plan).
	mkdir -p "$w/src-added"
	cp -a "$w/src/." "$w/src-added/"
	added=''
	if added=$(python3 "$HERE/add_node.py" "$src" "$w/src-added/$fname.cluster") &&
		(cd "$w/src-added" && HOME=$w/home "$CLUSTERC_BIN" build "$fname.cluster" -o "$w/out-added") >"$w/build-added.log" 2>&1; then
		pass "$CURRENT: build with node $added added"
	elif [ -n "$added" ]; then
		fail "$CURRENT: build with node $added added" "$(cat "$w/build-added.log")"; added=''
	fi
	local plan_all=$plan
	[ -z "$added" ] || plan_all=$w/out-added/$name/plan.json
	mapfile -t hosts < <(jq -r '.hosts | keys[]' "$plan_all")
	mapfile -t vmhosts < <(jq -r '.steps[] | select(.builtin == "proxmox.vm") | .host' "$plan" | sort -u)
	local allvms
	allvms=$(jq -r '.steps[] | select(.builtin == "proxmox.vm") | .host' "$plan_all" | sort -u)

	# ---- secrets: a fresh random value for every secret a step names
	: >"$w/secrets.env"
	chmod 0600 "$w/secrets.env"
	# A Ceph key has the shape the operator pastes: `ceph auth get-key` prints
	# base64 of a 28-byte CryptoKey (type 1 = AES, so it starts "AQ"), and the
	# reference project's value is that text base64-encoded once more.
	local cephkeys
	cephkeys=$(jq -r '[.ceph.key.secret?, .ceph.admin_key.secret?] | map(select(. != null))[]' "$w/out/$name/model.json")
	for secret in $(jq -r '[.steps[].secrets[]] | unique[]' "$plan_all"); do
		if grep -qxF -- "$secret" <<<"$cephkeys"; then
			printf '%s=%s\n' "$secret" "$({ printf '\001\000'; head -c 26 /dev/urandom; } | base64 -w0 | base64 -w0)" >>"$w/secrets.env"
		else
			printf '%s=e2e-%s-%s\n' "$secret" "$secret" "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$w/secrets.env"
		fi
	done
	secret_of() { sed -n "s/^$1=//p" "$w/secrets.env"; }

	# ---- lab hosts, one per node, named as the nodes
	# E2E_KEEP=DIR keeps the run's files (logs, hosts' written files) for a post-mortem.
	[ -z "${E2E_KEEP:-}" ] || at_exit "mkdir -p '$E2E_KEEP' && cp -a '$w' '$E2E_KEEP/' 2>/dev/null"
	at_exit "bash '$LAB' down '$lab' >/dev/null 2>&1"
	if ! bash "$LAB" up "${#hosts[@]}" "$lab" --names "$(IFS=,; echo "${hosts[*]}")" --one-cluster >"$w/lab.log" 2>&1; then
		fail "$CURRENT: lab up" "$(tail -n 20 "$w/lab.log")"; return
	fi
	# Every host refuses the lab's key. A VM's login and its host key come only
	# from its seed (boot_vm.py); an existing machine is one the operator set up:
	# its user with passwordless sudo and the operator's key, its key pinned.
	: >"$w/known_hosts.vms"
	: >"$w/known_hosts.machines"
	local user addr cidr
	for h in "${hosts[@]}"; do
		bash "$LAB" exec "$lab/$h" -- sh -c ': > /etc/clusterc-lab/authorized_keys'
		addr=$(jq -r --arg h "$h" '.hosts[$h].address' "$lab/inventory.json")
		if ! grep -qx -- "$h" <<<"$allvms"; then
			user=$(jq -r --arg h "$h" '.hosts[$h].user' "$plan_all")
			# ... and, as a machine on that network does, its address and a
			# resolvable hostname (no route: the lab has no way out).
			cidr=$(jq -r --arg h "$h" '.nodes[] | select(.name == $h) | .cidr' "$(dirname "$plan_all")/model.json")
			bash "$LAB" exec "$lab/$h" -- sh -c "ip addr replace '$cidr' dev eth0 &&
				printf '127.0.1.1 %s\n' '$h' >>/etc/hosts"
			bash "$LAB" exec "$lab/$h" -- sh -c "id '$user' >/dev/null 2>&1 || useradd -m -s /bin/bash '$user'; usermod -p '*' '$user'
				printf '%s ALL=(ALL) NOPASSWD:ALL\n' '$user' > /etc/sudoers.d/90-operator
				cat > /etc/clusterc-lab/authorized_keys && chmod 0644 /etc/clusterc-lab/authorized_keys" <"$w/operator.pub"
			grep -F "$addr " "$lab/known_hosts" >>"$w/known_hosts.machines"
		fi
	done
	jq --slurpfile plan "$plan_all" --arg key "$w/operator" --arg vmkh "$w/known_hosts.vms" \
		--arg mkh "$w/known_hosts.machines" --argjson vms "$(jq -R . <<<"$allvms" | jq -s 'map(select(. != ""))')" '
		.hosts |= with_entries(.value += {user: $plan[0].hosts[.key].user, key: $key,
			known_hosts: (if (.key | IN($vms[])) then $vmkh else $mkh end)})' \
		"$lab/inventory.json" >"$w/inventory.base.json"

	# ---- one simulator per proxmox block, self-signed TLS pinned by fingerprint
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pve.e2e -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$w/sim/tls.key" -out "$w/sim/tls.crt" >/dev/null 2>&1
	local fp port pve args overrides='{}' cfg
	fp=$(openssl x509 -noout -fingerprint -sha256 -in "$w/sim/tls.crt" | sed 's/^.*=//')
	local outall
	outall=$(dirname "$plan_all")
	for args in $(jq -r '.steps[] | select(.builtin // "" | startswith("proxmox.")) | .args' "$plan_all" | sort -u); do
		pve=$(jq -r .proxmox "$outall/$args")
		[ -f "$w/sim/pve-$pve.port" ] && continue
		start_sim "$w/sim" "pve-$pve" "$w/sim/tls.crt" "$w/sim/tls.key"
		port=$SIM_PORT
		cfg=$(jq -n --argjson a "$(jq .auth "$outall/$args")" --arg store "$w/store/$pve" \
			--arg pw "$(secret_of "$(jq -r '.auth.password_secret // ""' "$outall/$args")")" \
			--arg tok "$(secret_of "$(jq -r '.auth.token_secret // ""' "$outall/$args")")" \
			--arg hook "$HERE/boot_vm.py" --arg lab "$lab" --argjson delay "$E2E_INSTALL_DELAY" '
			{store: $store, boot_hook: ["python3", $hook, $lab], install_delay: $delay,
			 task_running_polls: 1}
			+ (if $a.user then {pve_user: $a.user, pve_password: $pw} else {} end)
			+ (if $a.token_id then {tokens: {($a.token_id): $tok}} else {} end)')
		curl -sf --cacert "$w/sim/tls.crt" -X POST --data-binary "$cfg" "https://127.0.0.1:$port/__mock/config" >/dev/null ||
			{ fail "$CURRENT: configure simulator $pve"; return; }
		overrides=$(jq --arg n "$pve" --arg e "https://127.0.0.1:$port" --arg fp "$fp" \
			'.proxmox[$n] = {endpoint: $e, fingerprint: $fp}' <<<"$overrides")
	done
	# ---- GitLab, when the plan registers a deploy key
	args=$(jq -r '[.steps[] | select(.builtin == "gitlab.deploy_key") | .args][0] // empty' "$plan")
	if [ -n "$args" ]; then
		start_sim "$w/sim" gitlab
		port=$SIM_PORT
		cfg=$(jq -n --arg t "$(secret_of "$(jq -r '.token_secret // ""' "$w/out/$name/$args")")" \
			--arg p "$(jq -r .project_path "$w/out/$name/$args")" '{gitlab_token: $t, gitlab_projects: {($p): []}}')
		curl -sf -X POST --data-binary "$cfg" "http://127.0.0.1:$port/__mock/config" >/dev/null ||
			{ fail "$CURRENT: configure the GitLab mock"; return; }
		overrides=$(jq --arg a "http://127.0.0.1:$port/api/v4" '.gitlab = {api: $a}' <<<"$overrides")
	fi
	jq --argjson o "$overrides" '. + $o' "$w/inventory.base.json" >"$w/inventory.json"

	# ---- the installer ISO, as a finished download in the cache (stamp and all)
	local cache=$w/home/.cache/clusterc/iso iso sha
	mkdir -p "$cache"
	bash "$TOP/tests/tools/fake-ubuntu-iso.sh" "$w/iso"
	while read -r iso sha; do
		cp "$w/iso/orig.iso" "$cache/$iso"
		printf '%s %s\n' "$sha" "$(stat -c '%s %Y' "$cache/$iso")" >"$cache/$iso.verified"
	done < <(jq -r '.images[]? | "\(.iso_file) \(.sha256)"' "$w/out/$name/model.json")

	# ---- apply 1: from empty
	apply_run 1
	local rc=$? sum nsteps
	sum=$(last_summary)
	nsteps=$(jq '.steps | length' "$plan")
	expect "the first apply, from empty, exits 0" test "$rc" = 0
	expect "every one of the $nsteps steps ran ok" \
		bash -c "test \"\$(jq '.counts.ok' '$sum')\" = $nsteps" 
	[ "$rc" = 0 ] || { sed -n '1,60p' "$w/apply1.log" | sed 's/^/    /'; jq -c '.boots' <(curl -sf --cacert "$w/sim/tls.crt" "https://127.0.0.1:$(cat "$w"/sim/pve-*.port | head -n1)/__mock/state") 2>/dev/null | head -c 2000; echo; }
	local nvms=${#vmhosts[@]}
	expect "one VM per VM node ($nvms), each booted once from its own seed" bash -c '
		shopt -s nullglob; n=0; for s in "$1"/sim/pve-*.port; do
			st=$(curl -sf --cacert "$1/sim/tls.crt" "https://127.0.0.1:$(cat "$s")/__mock/state") || exit 1
			[ "$(jq "[.boots[] | select(.rc != 0)] | length" <<<"$st")" = 0 ] || { jq -c .boots <<<"$st"; exit 1; }
			n=$((n + $(jq ".vms | length" <<<"$st")))
		done; [ "$n" = "$2" ]' _ "$w" "$nvms"
	expect "every ssh connection used StrictHostKeyChecking=yes, none accept-new or no" bash -c '
		grep -q "StrictHostKeyChecking=yes\|StrictHostKeyChecking yes" "$1"/argv.log "$1"/artifacts/*/ssh_config 2>/dev/null &&
		! grep -rqiE "StrictHostKeyChecking[= ](accept-new|no|off)" "$1/argv.log" "$1/artifacts"' _ "$w"
	expect "the VMs' host keys were learned through the API (one pin per VM)" bash -c '
		f=$(ls "$1"/state/clusterc/*/known_hosts.learned 2>/dev/null | head -n 1)
		[ "$2" = 0 ] || [ "$(grep -c . "$f")" = "$2" ]' _ "$w" "$nvms"
	expect "no secret in out/, artifacts/, argv or the request logs" bash -c '
		while IFS= read -r line; do
			v=${line#*=}
			if grep -rqF -- "$v" "$1/out" "$1/artifacts" "$1/argv.log" "$1"/sim/*.requests.log; then
				echo "found ${line%%=*}"; exit 1; fi
		done <"$1/secrets.env"
		! grep -rqF "PRIVATE KEY" "$1/out" "$1/artifacts" "$1"/sim/*.requests.log' _ "$w"

	if jq -e '(.features.gateway_api or .features.ingress_controller) and .features.l2' \
		"$w/out/$name/model.json" >/dev/null; then
		expect "the summary names the LoadBalancer address LB-IPAM gave, from the pool (and in the /etc/hosts line with the web UIs)" bash -c '
			a=$(jq -r ".access.address // empty" "$1") p=$(jq -r .network.lb_pool "$2")
			python3 -c "import ipaddress, sys; sys.exit(ipaddress.ip_address(sys.argv[1]) not in ipaddress.ip_network(sys.argv[2]))" "$a" "$p" &&
			grep -qF "  address     $a (from the pool $p)" "$3" && { h=$(jq -r ".access.hostnames // empty" "$1")
			[ -z "$h" ] || grep -qxF -- "    $a $h" "$3"; }' \
			_ "$sum" "$w/out/$name/model.json" "${sum%.json}.txt"
	fi

	# ---- apply 2: nothing to do, and the API hears only reads
	local writes
	writes=$(count_writes)
	apply_run 2
	rc=$?
	sum=$(last_summary)
	expect "a second apply exits 0 and skips every step" \
		bash -c "test $rc = 0 && test \"\$(jq '.counts.skipped' '$sum')\" = $nsteps"
	expect "... and sends the Proxmox and GitLab APIs no write" test "$(count_writes)" = "$writes"

	# ---- drift: none now; a hand-edited file, node label and firewall rule found,
	# and put back by the apply the report names
	[ "$rc" = 0 ] && e2e_drift

	# ---- an apply killed during the infra phase, then re-run
	if [ "$nvms" -gt 0 ]; then
		e2e_killed_infra
	fi

	# ---- a node added to the file: created and joined, nothing else redone;
	# then taken out again: drained and deleted, its VM only with --destroy
	if [ -n "$added" ]; then
		e2e_added_node
		e2e_removed_node
		# Reset on the file that is not upgraded (homelab): each scenario
		# once keeps make check inside CI's budget.
		if [ -z "$upgrade" ]; then
			e2e_reset
			e2e_removed_feature
		else
			echo "ok - $CURRENT: reset # SKIP covered by the file without an upgrade scenario"
		fi
	else
		echo "ok - $CURRENT: a node added converges # SKIP the file has no worker add_node.py can copy"
	fi

	# ---- the file's own version, one minor up from the one applied so far
	if [ -n "$upgrade" ]; then
		e2e_upgrade
	fi

	# ---- every request the runner sent, against the official Proxmox API schema
	if ls "$w"/sim/pve-*.requests.log >/dev/null 2>&1; then
		expect "every Proxmox API request of every apply is valid by the official API schema" \
			python3 "$TOP/tests/consumers/pve_api_check.py" "$TOP/tests/consumers/proxmox-api-subset.json" "$w"/sim/pve-*.requests.log
	fi
}

# drift_run N [ARGS...]: `clusterc drift` number N; log in $w/driftN.log.
drift_run() {
	local n=$1
	shift
	(cd "$w" && HOME=$w/home XDG_STATE_HOME=$w/state "$CLUSTERC_BIN" drift "$w/out/$name" \
		--inventory "$w/inventory.json" --env "$w/secrets.env" --artifacts "$w/artifacts" \
		--connect-timeout 5 "$@" </dev/null >"$w/drift$n.log" 2>&1)
}
last_drift() { ls -d "$w"/artifacts/*/ 2>/dev/null | LC_ALL=C sort | tail -n 1 | sed 's:/$:/drift.json:'; }

# Right after an apply, drift finds nothing. Then three things are changed by
# hand: a file a node step wrote, a label the cluster file gives, a firewall
# rule; drift reports exactly those three (exit 2), changing nothing and
# recording nothing; the apply its report names puts them back; drift is clean.
e2e_drift() {
	local rc node ctl lk lv states0 rep
	node=$(jq -r '[.nodes[] | select(.role == "worker")][0].name // .nodes[0].name' "$w/out/$name/model.json")
	ctl=$(jq -r .cluster_host "$plan")
	read -r lk lv < <(jq -r --arg n "$node" '.nodes[] | select(.name == $n) | .labels | to_entries[0] | "\(.key) \(.value)"' \
		"$w/out/$name/model.json")
	drift_run 1
	rc=$?
	expect "drift right after the apply finds nothing (exit 0)" test "$rc" = 0
	# On failure, what drift found, not the progress lines above it.
	[ "$rc" = 0 ] || { grep -vE '^(start|ok|skip) ' "$w/drift1.log" | head -n 40
		jq -c '.hosts' "$(last_drift)" 2>/dev/null | head -c 4000; echo; } | sed 's/^/    /'
	states0=$(bash "$LAB" exec "$lab/$node" -- sh -c "cat /var/lib/clusterc/$name/state/* | sha256sum")
	bash "$LAB" exec "$lab/$node" -- sh -c 'echo "# edited by hand" >>/etc/sysctl.d/90-kubernetes.conf'
	bash "$LAB" exec "$lab/$ctl" -- kubectl label node "$node" --overwrite "$lk=edited-by-hand" >/dev/null
	bash "$LAB" exec "$lab/$node" -- ufw delete allow 10250/tcp >/dev/null
	local h lines0=()
	for h in "$node" "$ctl"; do lines0+=("$(bash "$LAB" exec "$lab/$h" -- sh -c 'wc -l </var/log/clusterc-shims.log')"); done
	drift_run 2
	rc=$?
	rep=$(last_drift)
	expect "after a hand-edited file, label and firewall rule, drift exits 2" test "$rc" = 2
	[ "$rc" = 2 ] || sed -n '1,40p' "$w/drift2.log" | sed 's/^/    /'
	expect "... and reports exactly those three" bash -c '
		jq -e --arg n "$2" --arg c "$3" --arg k "$4" "
			([.hosts[][]] | length) == 3 and
			any(.hosts[\$n][]; .step == \"os.base\" and (.what | test(\"/etc/sysctl.d/90-kubernetes.conf differs\"))) and
			any(.hosts[\$n][]; .step == \"os.firewall\" and (.what | test(\"ufw allow 10250/tcp\"))) and
			any(.hosts[\$c][]; .step == \"labels.apply\" and (.what | test(\"label \" + \$k + \"=\")))" "$1" >/dev/null ||
		{ jq -c .hosts "$1"; exit 1; }' _ "$rep" "$node" "$ctl" "$lk"
	# What would change the machine or the cluster, as the shims log it.
	local writes='^(apt-get|apt-mark hold|ufw (allow|delete|default|--force|enable)|systemctl (enable|start|restart|stop|daemon-reload)|modprobe|sysctl (-w|-p|--system)|kubeadm (init|join|reset|token|upgrade)|helm (upgrade|install|uninstall)|kubectl (apply|label|annotate|taint|delete|patch|drain|cordon|create))'
	expect "... changing nothing: no write in the shim logs of $node and $ctl, the same records, no folder left" bash -c '
		s=$(bash "$1" exec "$2/$3" -- sh -c "cat /var/lib/clusterc/$5/state/* | sha256sum")
		test "$s" = "$6" || { echo "records changed"; exit 1; }
		for h in "$3:$7" "$4:$8"; do
			bash "$1" exec "$2/${h%%:*}" -- sh -c "tail -n +$((${h#*:} + 1)) /var/log/clusterc-shims.log" |
				sed -E "s/^kubectl( (-n|--namespace|--kubeconfig|--context) [^ ]+)+ /kubectl /" |
				grep -E "$9" | grep -vE -- "--dry-run|--local" | { ! grep .; } || exit 1
			! bash "$1" exec "$2/${h%%:*}" -- test -e "/var/lib/clusterc/$5/check" || { echo "check/ left on ${h%%:*}"; exit 1; }
		done' _ "$LAB" "$lab" "$node" "$ctl" "$name" "$states0" "${lines0[0]}" "${lines0[1]}" "$writes"
	local fix
	fix=$(sed -n 's/^to put it back: clusterc apply //p' "$w/drift2.log")
	expect "... and names the apply that puts them back" test -n "$fix"
	# shellcheck disable=SC2086 # the options the report names
	apply_run 10 $fix
	rc=$?
	expect "that apply ($fix) exits 0" test "$rc" = 0
	drift_run 3
	rc=$?
	expect "... and drift after it finds nothing (exit 0)" test "$rc" = 0
	[ "$rc" = 0 ] || sed -n '1,40p' "$w/drift3.log" | sed 's/^/    /'
}

# The file grown by one worker is applied over the converged cluster: its VM
# is created from its own seed and joined; a step of another node runs again
# only when its content changed (the new node's address in a firewall rule,
# say), and the apply after that changes nothing.
e2e_added_node() {
	local sum rc nplan=$w/out-added/$name/plan.json vms0
	vms0=$(sim_vm_count)
	APPLY_OUT=$w/out-added apply_run 5
	rc=$?
	sum=$(last_summary)
	expect "node $added added to the file: the next apply exits 0" test "$rc" = 0
	[ "$rc" = 0 ] || sed -n '1,40p' "$w/apply5.log" | sed 's/^/    /'
	expect "... joins it (kubernetes.join@$added ok)" \
		test "$(jq -r --arg id "kubernetes.join@$added" '.steps[] | select(.id == $id) | .status' "$sum")" = ok
	if grep -qx -- "$added" <<<"$allvms"; then
		expect "... from a VM of its own (one more VM)" test "$(sim_vm_count)" = $((vms0 + 1))
	fi
	# (A step that prints a value the new node's steps read, the join token,
	# runs again by design.)
	expect "... and runs no step of another node whose content did not change" bash -c '
		jq -r --slurpfile old "$1" --slurpfile new "$2" --arg n "$3" "
			(\$old[0].steps | map({(.id): .hash}) | add) as \$h |
			(\$new[0].steps | map({(.id): .}) | add) as \$s |
			.steps[] | select(.status == \"ok\" and .host != \$n) | .id as \$id |
			select(\$h[\$id] != null and \$h[\$id] == \$s[\$id].hash and (\$s[\$id].outputs | length) == 0) |
			\$id" "$4" | { ! grep . ; }' _ "$plan" "$nplan" "$added" "$sum"
	APPLY_OUT=$w/out-added apply_run 6
	rc=$?
	sum=$(last_summary)
	expect "... and the apply after it skips every step" \
		bash -c "test $rc = 0 && test \"\$(jq '.counts.skipped' '$sum')\" = \"\$(jq '.steps | length' '$nplan')\""
}

# The original file, built over the output that had the added node, plans its
# removal (model.json remembers it): the next apply drains it and deletes its
# Node from the first control node and keeps its VM, held; `--destroy`
# destroys the VM; the apply after that changes nothing.
e2e_removed_node() {
	local sum rc plan7=$w/out-added/$name/plan.json vms0 ks=$lab/shared/cluster writes
	if ! (cd "$w/src" && HOME=$w/home "$CLUSTERC_BIN" build "$fname.cluster" -o "$w/out-added") >"$w/build-removed.log" 2>&1; then
		fail "$CURRENT: the original file builds over the output with $added" "$(cat "$w/build-removed.log")"; return
	fi
	local vm=0
	grep -qx -- "$added" <<<"$allvms" && vm=1
	expect "node $added taken out of the file: the plan drains and deletes it${vm/1/ and holds its VM}" bash -c '
		jq -e --arg n "$2" "[.steps[] | select(.phase == \"remove\") | .id] |
			index(\"node.remove.\(\$n)@\(.[0] | split(\"@\")[1])\") != null" "$1" >/dev/null &&
		if [ "$3" = 1 ]; then jq -e --arg n "$2" "any(.steps[]; .id == \"infra.vm_destroy.\(\$n)@local\" and .destroys)" "$1" >/dev/null; fi' \
		_ "$plan7" "$added" "$vm"
	vms0=$(sim_vm_count)
	# Without a terminal and without --yes, a run that drains a node is refused.
	(cd "$w" && HOME=$w/home XDG_STATE_HOME=$w/state "$CLUSTERC_BIN" apply "$w/out-added/$name" \
		--inventory "$w/inventory.json" --env "$w/secrets.env" --artifacts "$w/artifacts" \
		--connect-timeout 5 </dev/null >"$w/apply7-no-yes.log" 2>&1)
	rc=$?
	expect "... without --yes and no terminal, the apply that drains it is refused, changing nothing" bash -c '
		test "$1" != 0 && grep -q "this run has 1 drain" "$2" && test -e "$3/nodes/$4" -o ! -e "$3/deleted-nodes/$4"' \
		_ "$rc" "$w/apply7-no-yes.log" "$ks" "$added"
	APPLY_OUT=$w/out-added apply_run 7
	rc=$?
	sum=$(last_summary)
	expect "... the next apply exits 0" test "$rc" = 0
	[ "$rc" = 0 ] || sed -n '1,40p' "$w/apply7.log" | sed 's/^/    /'
	expect "... and ran node.remove.$added" test \
		"$(jq -r --arg n "node.remove.$added@" '.steps[] | select(.id | startswith($n)) | .status' "$sum")" = ok
	local first
	first=$(jq -r --arg n "node.remove.$added@" '.steps[] | select(.id | startswith($n)) | .host' "$plan7")
	expect "... which drained it and deleted its Node, from $first (the API state has no $added)" bash -c '
		test -e "$1/deleted-nodes/$2" && test ! -e "$1/nodes/$2" &&
		bash "$3" exec "$4" -- grep -q "kubectl drain $2 " /var/log/clusterc-shims.log' _ "$ks" "$added" "$LAB" "$lab/$first"
	if [ "$vm" = 1 ]; then
		expect "... and kept its VM: destroying it waits for --destroy" bash -c '
			test "$1" = "$2" && grep -q "held *infra.vm_destroy.$3@local: destroys a VM" "$4" &&
			jq -e ".counts.held == 1" "$5" >/dev/null' _ "$(sim_vm_count)" "$vms0" "$added" "$w/apply7.log" "$sum"
		APPLY_OUT=$w/out-added apply_run 8 --destroy
		rc=$?
		expect "apply --destroy exits 0 and destroys the VM of $added (one VM fewer)" \
			test "$rc:$(sim_vm_count)" = "0:$((vms0 - 1))"
		[ "$rc" = 0 ] || sed -n '1,40p' "$w/apply8.log" | sed 's/^/    /'
	fi
	writes=$(count_writes)
	APPLY_OUT=$w/out-added apply_run 9 --destroy
	rc=$?
	sum=$(last_summary)
	expect "... and the apply after it changes nothing and writes nothing to the API" \
		test "$rc:$(jq '.counts.ok + .counts.failed' "$sum"):$(count_writes)" = "0:0:$writes"
}

# `clusterc reset` of a worker: refused without a terminal and without --yes;
# with --yes the first control node drains it and deletes its Node, then the
# worker is reset (kubeadm reset -f, CNI, iptables, clusterc's records); the
# next apply joins it again, and the apply after that changes nothing.
e2e_reset() {
	local out=$w/out-added/$name node ctl rc sum ks=$lab/shared/cluster
	node=$(jq -r '[.nodes[] | select(.role == "worker")][0].name // empty' "$out/model.json")
	ctl=$(jq -r .cluster_host "$out/plan.json")
	[ -n "$node" ] || { echo "ok - $CURRENT: reset # SKIP no worker"; return; }
	reset_run() {
		(cd "$w" && HOME=$w/home XDG_STATE_HOME=$w/state "$CLUSTERC_BIN" reset "$out" "$@" \
			--inventory "$w/inventory.json" --env "$w/secrets.env" --artifacts "$w/artifacts" \
			--connect-timeout 5 </dev/null)
	}
	reset_run "$node" >"$w/reset1.log" 2>&1
	rc=$?
	expect "reset $node without --yes and no terminal is refused, naming what is lost, changing nothing" bash -c '
		test "$1" != 0 && grep -q "kubeadm reset -f" "$2" && grep -q "this run has 1 destroy" "$2" &&
		bash "$3" exec "$4" -- test -f /etc/kubernetes/kubelet.conf' _ "$rc" "$w/reset1.log" "$LAB" "$lab/$node"
	reset_run "$node" --yes >"$w/reset2.log" 2>&1
	rc=$?
	expect "reset $node --yes exits 0" test "$rc" = 0
	[ "$rc" = 0 ] || sed -n '1,40p' "$w/reset2.log" | sed 's/^/    /'
	expect "... $ctl drained it and deleted its Node first" bash -c '
		test -e "$1/deleted-nodes/$2" && bash "$3" exec "$4" -- grep -q "^kubectl drain $2 " /var/log/clusterc-shims.log' \
		_ "$ks" "$node" "$LAB" "$lab/$ctl"
	expect "... then kubeadm reset -f, the iptables rules flushed, the CNI config and clusterc's records gone" \
		bash "$LAB" exec "$lab/$node" -- bash -c '
		grep -qx "kubeadm reset -f" /var/log/clusterc-shims.log && grep -q "^iptables -t nat -F" /var/log/clusterc-shims.log &&
		test ! -e /etc/kubernetes/kubelet.conf && ! compgen -G "/etc/cni/net.d/*" >/dev/null &&
		! compgen -G "/var/lib/clusterc/$1/state/*" >/dev/null' _ "$name"
	APPLY_OUT=$w/out-added apply_run 11
	rc=$?
	sum=$(last_summary)
	expect "the apply after the reset exits 0, joins $node again and labels it again" bash -c '
		test "$1" = 0 && test "$(jq -r --arg id "kubernetes.join@$2" ".steps[] | select(.id == \$id) | .status" "$3")" = ok &&
		test -s "$4/nodes/$2/labels" && test ! -e "$4/deleted-nodes/$2" || { jq -c "[.steps[] | select(.host == \"$2\" or .id == \"labels.apply@$5\") | [.id, .status]]" "$3"; exit 1; }' \
		_ "$rc" "$node" "$sum" "$ks" "$ctl"
	[ "$rc" = 0 ] || sed -n '1,40p' "$w/apply11.log" | sed 's/^/    /'
	APPLY_OUT=$w/out-added apply_run 12
	rc=$?
	sum=$(last_summary)
	expect "... and the apply after it changes nothing" test "$rc:$(jq '.counts.ok + .counts.failed' "$sum")" = "0:0"
}

# The monitoring and ceph blocks taken out of the file (the original one: the
# added node is gone since e2e_removed_node), built over the last output: the
# plan removes the features (feature.remove.monitoring and .ceph, from the
# first control node) and the node-exporter port monitoring opened; the apply
# deletes the monitoring Application (with Argo CD's resources finalizer),
# closes 9100/tcp on every node, and uninstalls the CephFS driver with its
# StorageClass and Secret; the apply after it changes nothing.
e2e_removed_feature() {
	local out=$w/out-added/$name ctl rc sum h bad
	grep -qE '^monitoring \{' "$w/src/$fname.cluster" ||
		{ echo "ok - $CURRENT: a removed feature block converges # SKIP no monitoring block"; return; }
	mkdir -p "$w/src-nomon"
	cp -a "$w/src/." "$w/src-nomon/"
	# The block runs from its "monitoring {" line to the line that balances it.
	awk '/^(monitoring|ceph) \{/ { skip = 1 } skip { d += gsub(/\{/, "{") - gsub(/\}/, "}"); if (d == 0) skip = 0; next } { print }' \
		"$w/src/$fname.cluster" >"$w/src-nomon/$fname.cluster"
	local ceph=''
	grep -qE '^ceph \{' "$w/src/$fname.cluster" && ceph=1
	if ! (cd "$w/src-nomon" && HOME=$w/home "$CLUSTERC_BIN" build "$fname.cluster" -o "$w/out-added") >"$w/build-nomon.log" 2>&1; then
		fail "$CURRENT: the file without monitoring builds over the last output" "$(cat "$w/build-nomon.log")"; return
	fi
	ctl=$(jq -r .cluster_host "$out/plan.json")
	expect "monitoring taken out of the file: the plan removes it, from $ctl" \
		jq -e --arg c "$ctl" 'any(.steps[]; .id == "feature.remove.monitoring@\($c)" and .phase == "remove")' "$out/plan.json"
	if [ -n "$ceph" ]; then
		expect "ceph taken out too: the plan removes it, from $ctl" \
			jq -e --arg c "$ctl" 'any(.steps[]; .id == "feature.remove.ceph@\($c)" and .phase == "remove")' "$out/plan.json"
		ceph_parts() { # what of the CephFS driver the cluster has, as " release class secret"
			bash "$LAB" exec "$lab/$ctl" -- helm status ceph-csi-cephfs --namespace ceph-csi-cephfs >/dev/null 2>&1 &&
				printf ' release'
			bash "$LAB" exec "$lab/$ctl" -- kubectl get storageclass cephfs-retain -o name >/dev/null 2>&1 &&
				printf ' class'
			bash "$LAB" exec "$lab/$ctl" -- kubectl -n ceph-csi-cephfs get secret csi-cephfs-secret -o name >/dev/null 2>&1 &&
				printf ' secret'
			true
		}
		local parts0
		parts0=$(ceph_parts)
		expect "... where the CephFS driver's release, StorageClass and Secret are now (found:${parts0:- none})" \
			test "$parts0" = " release class secret"
	fi
	# The nodes where node-exporter's port is open, as " name name".
	open_9100() {
		for h in $(jq -r '.nodes[].name' "$out/model.json"); do
			grep -qxF 'ufw allow 9100/tcp' <<<"$(bash "$LAB" exec "$lab/$h" -- ufw show added 2>/dev/null)" &&
				printf ' %s' "$h"
		done
	}
	local open0
	open0=$(open_9100)
	expect "... where the Application monitoring is now, and 9100/tcp open on:${open0:- no node}" bash -c '
		test -n "$3" && bash "$1" exec "$2" -- kubectl -n argocd get application monitoring -o name' _ "$LAB" "$lab/$ctl" "$open0"
	APPLY_OUT=$w/out-added apply_run 13
	rc=$?
	sum=$(last_summary)
	expect "... the next apply exits 0 and runs feature.remove.monitoring" \
		test "$rc:$(jq -r --arg id "feature.remove.monitoring@$ctl" '.steps[] | select(.id == $id) | .status' "$sum")" = 0:ok
	[ "$rc" = 0 ] || grep -vE '^(start|ok|skip) ' "$w/apply13.log" | head -n 40 | sed 's/^/    /'
	expect "... which deleted the Application monitoring" \
		bash -c '! bash "$1" exec "$2" -- kubectl -n argocd get application monitoring -o name >/dev/null 2>&1' _ "$LAB" "$lab/$ctl"
	bad=$(open_9100)
	expect "... and closed node-exporter's 9100/tcp on every node (still open on:${bad:- none})" test -z "$bad"
	if [ -n "$ceph" ]; then
		bad=$(ceph_parts)
		expect "... ran feature.remove.ceph: the release, StorageClass and Secret are gone (left:${bad:- none})" \
			test "$(jq -r --arg id "feature.remove.ceph@$ctl" '.steps[] | select(.id == $id) | .status' "$sum"):$bad" = ok:
	fi
	APPLY_OUT=$w/out-added apply_run 14
	rc=$?
	sum=$(last_summary)
	expect "... and the apply after it changes nothing" test "$rc:$(jq '.counts.ok + .counts.failed' "$sum")" = "0:0"
}

# The file at its own Kubernetes version, one minor above the version applied
# so far, built over the output of the last apply: the next apply upgrades the
# cluster in kubeadm's order (upgrade_order.py reads the shims' shared command
# log), one node drained at a time; a worker the operator cordoned by hand is
# upgraded and stays cordoned; every node ends at the new version with its
# packages held; the apply after that changes nothing.
e2e_upgrade() {
	local out=$w/out-added sum rc from ks=$lab/shared/cluster first hand to n p bad=''
	[ -d "$out/$name" ] || out=$w/out
	if ! (cd "$w/src-up" && HOME=$w/home "$CLUSTERC_BIN" build "$fname.cluster" -o "$out") >"$w/build-up.log" 2>&1; then
		fail "$CURRENT: the file one Kubernetes minor up builds over the applied output" "$(cat "$w/build-up.log")"; return
	fi
	to=$(jq -r .cluster.kubernetes "$out/$name/model.json")
	pass "$CURRENT: the file at Kubernetes $to builds over the output of the last apply (one minor up)"
	first=$(jq -r .cluster_host "$out/$name/plan.json")
	hand=$(jq -r '.workers[-1].name' "$out/$name/model.json")
	bash "$LAB" exec "$lab/$first" -- kubectl cordon "$hand" >/dev/null
	from=$(wc -l <"$ks/sequence.log")
	APPLY_OUT=$out apply_run 13
	rc=$?
	expect "Kubernetes $to: the upgrade apply exits 0" test "$rc" = 0
	[ "$rc" = 0 ] || sed -n '1,60p' "$w/apply13.log" | sed 's/^/    /'
	expect "... in kubeadm's order, node after node, one node drained at a time ($hand, cordoned by hand, stays so)" \
		python3 "$HERE/upgrade_order.py" "$ks/sequence.log" "$from" "$out/$name/model.json" "$to.1" "$hand"
	for n in $(jq -r '.nodes[].name' "$out/$name/model.json"); do
		[ "$(cat "$ks/nodes/$n/version" 2>/dev/null)" = "v$to.1" ] || bad="$bad $n:kubelet"
		for p in kubeadm kubelet kubectl cri-o; do
			grep -qx "$p $to.1-1.1" "$lab/$n/upper/var/lib/clusterc-lab/dpkg/installed" || bad="$bad $n:$p"
			grep -qx "$p" "$lab/$n/upper/var/lib/clusterc-lab/dpkg/held" || bad="$bad $n:$p-held"
		done
		if [ "$n" != "$hand" ] && grep -q unschedulable "$ks/nodes/$n/spec" 2>/dev/null; then bad="$bad $n:cordoned"; fi
		if grep -q clusterc.dev/drained-for-upgrade "$ks/nodes/$n/annotations" 2>/dev/null; then bad="$bad $n:annotated"; fi
	done
	expect "... every node reports kubelet v$to.1, its kubeadm, kubelet, kubectl and CRI-O at $to and held, schedulable${bad:+ (not:$bad)}" test -z "$bad"
	expect "... and $hand, cordoned by hand, is still cordoned" grep -q unschedulable "$ks/nodes/$hand/spec"
	APPLY_OUT=$out apply_run 14
	rc=$?
	sum=$(last_summary)
	# (A removed node's VM, destroyed already, stays listed as held.)
	expect "... and the apply after the upgrade skips every step" \
		bash -c "test $rc = 0 && test \"\$(jq '.counts.skipped + .counts.held' '$sum')\" = \"\$(jq '.steps | length' '$out/$name/plan.json')\" &&
			test \"\$(jq '.counts.ok + .counts.failed' '$sum')\" = 0"
}

# The runner is killed (SIGKILL: no cleanup at all) while a VM is installing;
# the re-run must converge with no second VM and no second upload.
e2e_killed_infra() {
	local h=${vmhosts[0]} pid t vms1 ups1 st port
	port=$(cat "$w"/sim/pve-*.port | head -n 1)
	# Forget h: its VM, its learned pin and its steps' state, as after a rebuild.
	(cd "$w" && HOME=$w/home XDG_STATE_HOME=$w/state "$CLUSTERC_BIN" apply "$w/out/$name" \
		--inventory "$w/inventory.json" --env "$w/secrets.env" --yes --artifacts "$w/artifacts" \
		--force --limit "$h" --only infra </dev/null >"$w/apply3.log" 2>&1) &
	pid=$!
	for ((t = 0; t < 600; t++)); do
		grep -q 'infra.hostkey' "$w/apply3.log" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	st=$(curl -sf --cacert "$w/sim/tls.crt" "https://127.0.0.1:$port/__mock/state")
	vms1=$(jq '.vms | length' <<<"$st")
	ups1=$(jq '.uploads | length' <<<"$st")
	apply_run 4
	local rc=$?
	st=$(curl -sf --cacert "$w/sim/tls.crt" "https://127.0.0.1:$port/__mock/state")
	expect "a re-run after the runner was killed in the infra phase exits 0" test "$rc" = 0
	expect "... with no duplicate VM" test "$(jq '.vms | length' <<<"$st")" = "$vms1"
	expect "... and no second upload of an ISO already there" test "$(jq '.uploads | length' <<<"$st")" = "$ups1"
}

for f in "${files[@]}"; do
	if [ ! -f "$f" ]; then fail "e2e: no such cluster file $f"; continue; fi
	e2e_cluster "$f"
done
finish
