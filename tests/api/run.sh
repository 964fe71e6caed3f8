#!/usr/bin/env bash
# tests/api: the builtins (proxmox.vm, proxmox.iso, gitlab.deploy_key) against
# tests/api/mock_server.py on 127.0.0.1, driven through build/tools/builtin_cli.
# Every request goes to the local mock; args files that name a "real" endpoint
# use http://127.0.0.1:1 (a closed loopback port) so a broken override could
# never reach another machine.
. "$(dirname "$0")/../lib.sh"

CLI=$BUILD/tools/builtin_cli
HERE=$TOP/tests/api
if [ ! -x "$CLI" ]; then
	fail "builtin_cli is built" "$CLI missing: run make"
	finish
	exit 1
fi

# A private copy: other work in the tree may relink build/tools while we run.
cp "$CLI" "$TMP/builtin_cli" && CLI=$TMP/builtin_cli
# KEEP_LOGS=DIR keeps every builtin log, args file and the mock's request log.
if [ -n "${KEEP_LOGS:-}" ]; then
	at_exit "mkdir -p '$KEEP_LOGS' && cp -r '$TMP/logs' '$TMP'/args.*.json '$TMP/requests.log' '$TMP/requests.all.log' '$KEEP_LOGS/'"
fi
# VALGRIND=1 runs the builtin under valgrind; any memory error or leak fails it.
if [ "${VALGRIND:-}" = 1 ]; then
	CLI_RUN=(valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99 "$CLI")
else
	CLI_RUN=("$CLI")
fi

python3 "$HERE/mock_server.py" "$TMP/port" "$TMP/requests.log" 2>"$TMP/mock.err" &
MOCK_PID=$!
at_exit "kill $MOCK_PID 2>/dev/null; wait $MOCK_PID 2>/dev/null"
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
if [ ! -s "$TMP/port" ]; then
	fail "mock server starts" "$(cat "$TMP/mock.err")"
	finish
	exit 1
fi
PORT=$(cat "$TMP/port")
MOCK=http://127.0.0.1:$PORT

# Fake credentials: distinctive strings so the leak check can grep for them.
PVE_PW='pw-S3cr3t=with&odd chars'
PVE_TOKEN='tok-7f3a9c2e-5b1d-4e8f-a6c0-d9e2b4f1c8a7'
GL_TOKEN='glpat-LeakCheck1234567890'
PUBKEY='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl argocd-deploy-key'
SECRETS=("$PVE_PW" "$PVE_TOKEN" "$GL_TOKEN" tok-first-half tok-second-half "$(printf %s "$PVE_PW" | jq -sRr @uri 2>/dev/null || true)")

mkdir -p "$TMP/out" "$TMP/logs"
jq -n --arg pw "$PVE_PW" --arg tok "$PVE_TOKEN" --arg gl "$GL_TOKEN" --arg key "$PUBKEY" \
	'{PROXMOX_PASSWORD: ($pw + "\n"), PROXMOX_TOKEN: $tok, GITLAB_TOKEN: $gl, argocd_pubkey: $key,
	  SPLIT_TOKEN: "tok-first-half\r\nX-Injected: tok-second-half"}' \
	>"$TMP/values.json"
jq -n --arg ep "$MOCK" '{proxmox: {pve: {endpoint: $ep}}, gitlab: {api: ($ep + "/api/v4")},
	hosts: {}}' >"$TMP/overrides.json"

# next_requests: starts a fresh request log for the next case; every request
# is kept in requests.all.log, which the schema check at the end reads.
next_requests() {
	cat "$TMP/requests.log" >>"$TMP/requests.all.log"
	: >"$TMP/requests.log"
}
# mock SCENARIO_JSON: resets the mock's state and sets the scenario.
mock() {
	jq -n --arg pw "$PVE_PW" --arg tok "$PVE_TOKEN" --arg gl "$GL_TOKEN" \
		"{pve_password: \$pw, tokens: {\"root@pam!clusterc\": \$tok}, gitlab_token: \$gl,
		  auth_delay: 0.3} + ($1)" >"$TMP/scenario.json"
	curl -sf -X POST --data-binary @"$TMP/scenario.json" "$MOCK/__mock/config" >/dev/null
	next_requests
}
mock_state() { curl -sf "$MOCK/__mock/state"; }
# requests [METHOD] [PATH-REGEX]: how many requests the mock saw.
requests() {
	jq -s --arg m "${1:-}" --arg p "${2:-}" \
		'[.[] | select(($m == "" or .method == $m) and ($p == "" or (.path | test($p))))] | length' \
		"$TMP/requests.log"
}

N=0
# run NAME ARGS_JSON [OVERRIDES_FILE]: runs the builtin; sets RC, LOG, OUT.
run() {
	local name=$1 args=$2 ovr=${3-$TMP/overrides.json}
	N=$((N + 1))
	printf '%s\n' "$args" >"$TMP/args.$N.json"
	LOG=$TMP/logs/$N.log
	OUT=$TMP/logs/$N.out
	local t0 t1
	t0=$(date +%s.%N)
	if [ -n "$ovr" ]; then
		(cd "$TMP/out" && "${CLI_RUN[@]}" "$name" "$TMP/args.$N.json" "$TMP/values.json" "$ovr") >"$OUT" 2>"$LOG"
	else
		(cd "$TMP/out" && "${CLI_RUN[@]}" "$name" "$TMP/args.$N.json" "$TMP/values.json") >"$OUT" 2>"$LOG"
	fi
	RC=$?
	t1=$(date +%s.%N)
	ELAPSED=$(echo "$t1 - $t0" | bc)
}
expect() { # expect TEST-NAME CONDITION...: passes when the condition holds, shows the log otherwise
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "$(cat "$LOG")"; fi
}
has() { grep -qF -- "$1" "$LOG"; }
eq() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'" >>"$LOG"; return 1; }; }

FAST='"client": {"backoff_ms": 50, "backoff_max_ms": 200, "poll_ms": 50, "timeout_s": 5}'
AUTH_PW='{"user": "root@pam", "password_secret": "PROXMOX_PASSWORD"}'
AUTH_TOK='{"token_id": "root@pam!clusterc", "token_secret": "PROXMOX_TOKEN"}'
vm_args() { # vm_args AUTH VM-EXTRA [TOP-EXTRA]
	cat <<EOF
{"proxmox": "pve", "endpoint": "http://127.0.0.1:1", "node": "pve", "auth": $1, $FAST ${3:+, $3},
 "vm": {"name": "k8s-control-1", "vmid": 101, "cores": 2, "memory_mib": 12288, "disk_gib": 50,
        "storage": "local-lvm", "bridge": "vmbr0", "iso_volid": "local:iso/ubuntu-auto.iso",
        "cpu": "host", "onboot": true ${2:+, $2}}}
EOF
}
gl_args() {
	cat <<EOF
{"api": "http://127.0.0.1:1/api/v4", "project_path": "home/infra/cluster-setup", "title": "clusterc argocd",
 "token_secret": "GITLAB_TOKEN", "key_input": "argocd_pubkey", "can_push": false, $FAST}
EOF
}
created() { mock_state | jq -r ".created[${2:-0}][\"$1\"] // \"(unset)\""; }

# ---- proxmox.vm
mock '{}'
run proxmox.vm "$(vm_args "$AUTH_PW" '"gpu": null')"
expect "vm: create + start with a ticket" [ $RC -eq 0 ]
expect "vm: no output (only declared outputs are accepted, and it declares none)" eq "$(jq -c . "$OUT")" '{}'
expect "vm: one login, one create, one start" \
	eq "$(requests POST /access/ticket)/$(requests POST '/qemu$')/$(requests POST /status/start)" 1/1/1
expect "vm: task polled until stopped (UPID percent-encoded)" [ "$(requests GET '/tasks/UPID%3Apve%3A.*/status$')" -ge 4 ]
expect "vm: create params" eq "$(created cpu) $(created scsihw) $(created scsi0) $(created net0) $(created ide2) $(created boot) $(created agent) $(created ostype) $(created balloon) $(created onboot) $(created memory)" \
	"host virtio-scsi-pci local-lvm:50 virtio,bridge=vmbr0 local:iso/ubuntu-auto.iso,media=cdrom order=scsi0;ide2 1 l26 0 1 12288"
expect "vm: no GPU, no machine/bios/hostpci" eq "$(created machine)$(created bios)$(created hostpci0)" "(unset)(unset)(unset)"

# ---- a run that outlives its ticket: tickets last 1.5 s here, the task takes
# 40 polls of 50 ms; renewed at 1 s (POST /access/ticket with the ticket as
# password), it finishes; without renewal the same run fails with a 401.
SLOW_TASK='{"ticket_lifetime": 1.5, "task_running_polls": 40}'
mock "$SLOW_TASK"
run proxmox.vm "$(vm_args "$AUTH_PW" "" '"client": {"poll_ms": 50, "ticket_renew_s": 1}')"
renewals=$(mock_state | jq .ticket_renewals)
expect "ticket: renewed before it expires, the long run succeeds" \
	bash -c "[ $RC -eq 0 ] && [ $renewals -ge 1 ] && grep -q 'ticket renewed' '$LOG'"
mock "$SLOW_TASK"
run proxmox.vm "$(vm_args "$AUTH_PW" "" '"client": {"poll_ms": 50, "ticket_renew_s": 3600}')"
expect "ticket: ... and without renewal the same run is refused (the test can fail)" \
	bash -c "[ $RC -eq 1 ] && grep -q 'HTTP 401' '$LOG'"
mock '{}'
run proxmox.vm "$(vm_args "$AUTH_PW" '"gpu": null')"

next_requests
run proxmox.vm "$(vm_args "$AUTH_PW")"
expect "vm: second run reports exists" has "exists: VM 101 'k8s-control-1'"
expect "vm: second run succeeds, again with no output" eq "$RC $(jq -c . "$OUT")" '0 {}'
expect "vm: second run makes no create/start POST" eq "$(requests POST)" 1
expect "vm: ... and checks the VM's config against the file" \
	bash -c "[ $(requests GET '/qemu/101/config$') -eq 1 ] && grep -q 'matches the cluster file' '$LOG'"

# Drift: someone changed the VM (web UI, qm set): a field-by-field report with
# the fix, a failed step (the file is not applied), and nothing changed.
curl -sf -X POST --data '{"vmid": 101, "set": {"memory": "8192", "cores": "4"}, "delete": ["onboot"]}' \
	"$MOCK/__mock/vm_config" >/dev/null
: >"$TMP/requests.log"
run proxmox.vm "$(vm_args "$AUTH_TOK" '"disk_gib": 64')"
expect "drift: an edited VM fails the step, changing nothing" eq "$RC/$(requests POST)/$(requests PUT)" 1/0/0
expect "drift: ... field by field, with the fix" bash -c "
	grep -q 'VM 101 .k8s-control-1. on node pve differs from the cluster file' '$LOG' &&
	grep -q 'memory   the VM has 8192, the cluster file says 12288  (fix on the Proxmox host: qm set 101 --memory 12288)' '$LOG' &&
	grep -q 'cores    the VM has 4, the cluster file says 2' '$LOG' &&
	grep -q 'onboot   the VM has 0, the cluster file says 1' '$LOG' &&
	grep -q 'disk     the VM has 50G, the cluster file says 64G' '$LOG' && grep -q 'qm disk resize 101 scsi0 64G' '$LOG'"
expect "drift: ... and names no field that agrees" bash -c "! grep -qE '^ *(cpu|bridge|storage|bios|gpu) ' '$LOG'"
curl -sf -X POST --data '{"vmid": 101, "set": {"memory": "12288", "cores": "2", "onboot": "1"}}' \
	"$MOCK/__mock/vm_config" >/dev/null

next_requests
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: second run with a token sends no POST at all" eq "$RC/$(requests POST)" 0/0
expect "vm: token header accepted (split at the last '=')" eq "$(jq -rs '[.[].auth] | unique | join(",")' "$TMP/requests.log")" token

# What vm_args would have created (create parameters; the mock stores them as Proxmox does).
VM_CFG='{cores: 2, sockets: 1, memory: 12288, cpu: "host", scsi0: "local-lvm:50", net0: "virtio,bridge=vmbr0", onboot: 1}'
mock "{vms: [{vmid: 101, name: \"k8s-control-1\", node: \"pve\", status: \"stopped\", config: $VM_CFG}]}"
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: existing stopped VM is started, not created" eq "$RC/$(requests POST '/qemu$')/$(requests POST /status/start)" 0/0/1

mock '{vms: [{vmid: 101, name: "someone-else", node: "pve2", status: "running"}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: vmid taken by another name fails" [ $RC -eq 1 ]
expect "vm: ... and says so" has "VMID 101 is already taken by VM 'someone-else' on node pve2"
expect "vm: ... without creating" eq "$(requests POST)" 0

mock '{vms: [{vmid: 140, name: "k8s-control-1", node: "pve", status: "running"}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: same name under another vmid fails" eq "$RC/$(requests POST)" 1/0
expect "vm: ... naming the other vmid" has "already exists with vmid 140"

mock '{}'
run proxmox.vm "$(vm_args "$AUTH_TOK" '"gpu": {"pci": "0000:01:00"}')"
expect "vm: token + raw PCI refused" [ $RC -eq 1 ]
expect "vm: ... explaining root@pam and mappings" bash -c "grep -q 'only root@pam' '$LOG' && grep -q 'gpu.mapping' '$LOG'"
expect "vm: ... before any request" eq "$(requests)" 0

mock '{}'
run proxmox.vm "$(vm_args '{"token_id": "root@pam!clusterc", "token_secret": "SPLIT_TOKEN"}')"
expect "vm: a token secret with a line break is refused before any request" \
	bash -c "[ $RC -eq 1 ] && grep -q \"secret 'SPLIT_TOKEN' contains a control character\" '$LOG' && [ $(requests) -eq 0 ]"
run gitlab.deploy_key "$(gl_args | jq '.token_secret = "SPLIT_TOKEN"')"
expect "gitlab: a token with a line break is refused before any request" \
	bash -c "[ $RC -eq 1 ] && grep -q 'contains a control character' '$LOG' && [ $(requests) -eq 0 ]"

mock '{}'
run proxmox.vm "$(vm_args "$AUTH_TOK" '"gpu": {"mapping": "gtx1060"}')"
expect "vm: token + PCI mapping accepted" [ $RC -eq 0 ]
expect "vm: mapping params" eq "$(created hostpci0) $(created machine) $(created bios) $(created efidisk0)" \
	"mapping=gtx1060,pcie=1 q35 ovmf local-lvm:1,efitype=4m,pre-enrolled-keys=0"

mock '{}'
run proxmox.vm "$(vm_args "$AUTH_TOK" '"cidata_volid": "local:iso/clusterc-lab-k8s-control-1-cidata.iso"')"
expect "vm: cidata_volid becomes a second CD-ROM (ide3), boot order unchanged" \
	eq "$RC $(created ide3) $(created boot)" "0 local:iso/clusterc-lab-k8s-control-1-cidata.iso,media=cdrom order=scsi0;ide2"

mock '{}'
run proxmox.vm "$(vm_args "$AUTH_PW" '"gpu": {"pci": "0000:01:00"}, "bios": "seabios"')"
expect "vm: root@pam ticket + raw PCI" eq "$RC $(created hostpci0) $(created machine) $(created bios) $(created efidisk0)" \
	"0 0000:01:00,pcie=1,x-vga=0 q35 seabios (unset)"

mock '{}'
run proxmox.vm "$(vm_args "$AUTH_PW" '"gpu": {"pci": "0000:0A:1F.0"}')"
expect "vm: a PCI address in upper case is sent in lower case (Proxmox's pattern is case-sensitive)" \
	eq "$RC $(created hostpci0)" "0 0000:0a:1f.0,pcie=1,x-vga=0"

mock '{pve_password: "not-the-one"}'
run proxmox.vm "$(vm_args "$AUTH_PW")"
expect "vm: bad password fails with HTTP 401" bash -c "[ $RC -eq 1 ] && grep -q 'HTTP 401' '$LOG'"
expect "vm: ... with a hint about the password and the 3-second delay" has "3-second delay"
expect "vm: ... without retrying the login" eq "$(requests POST /access/ticket)" 1

# The real 3-second delay with a 1-second request limit: the login must wait
# for the 401 rather than time out and retry the password.
mock '{pve_password: "not-the-one", auth_delay: 3}'
run proxmox.vm "$(vm_args "$AUTH_PW" "" '"client": {"timeout_s": 1, "backoff_ms": 50}')"
echo "# measured: failed login with a 3 s server delay took ${ELAPSED}s"
expect "vm: a 401 delayed 3 s is reported as 401 even with timeout_s 1" \
	bash -c "[ $RC -eq 1 ] && grep -q 'HTTP 401' '$LOG' && [ $(requests POST /access/ticket) -eq 1 ] && [ \$(echo '$ELAPSED >= 3' | bc) = 1 ]"

mock '{tokens: {"root@pam!clusterc": "another-secret"}}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: bad token fails with HTTP 401 and a hint" bash -c "[ $RC -eq 1 ] && grep -q 'HTTP 401' '$LOG' && grep -q 'hint: the ticket or token was rejected' '$LOG'"

mock '{task_exit: {qmcreate: "unable to create VM 101 - lvcreate failed"}}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: failed create task fails the step" eq "$RC/$(requests POST /status/start)" 1/0
expect "vm: ... with the exit status and the task log tail" \
	bash -c "grep -q 'task failed: unable to create VM 101 - lvcreate failed' '$LOG' && grep -q 'TASK ERROR' '$LOG'"

mock '{task_exit: {qmcreate: "WARNINGS: 2"}}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: WARNINGS: n counts as success" eq "$RC" 0

mock '{faults: [{method: "GET", path: "/cluster/resources", mode: "500", times: 2}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "retry: 500 twice then success" eq "$RC/$(requests GET /cluster/resources)" 0/3
expect "retry: ... logged" has "retrying in 50 ms (attempt 2 of 4)"

mock '{faults: [{method: "POST", path: "/qemu$", mode: "503", times: 10}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK" "" '"verify_tls": true')"
expect "retry: bounded (4 attempts) then a clear failure" eq "$RC/$(requests POST '/qemu$')" 1/4
echo "# measured: 4 attempts with 50+100+200 ms backoff took ${ELAPSED}s"
expect "retry: backoff 50+100+200 ms was slept" [ "$(echo "$ELAPSED >= 0.35" | bc)" = 1 ]
expect "retry: ... naming status, server text, attempts" has "HTTP 503 mock fault 503 (after 4 attempts)"

mock '{faults: [{method: "POST", path: "/qemu$", mode: "500", times: 5}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "retry: a Proxmox write refused with 500 is final (not repeated)" eq "$RC/$(requests POST '/qemu$')" 1/1

mock '{faults: [{method: "POST", path: "/qemu$", mode: "lost", times: 1}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: create answer lost, retry says 'already exists', VM recognised as ours" \
	eq "$RC/$(requests POST '/qemu$')/$(requests POST /status/start)" 0/2/1
expect "vm: ... and the log explains it" has "an earlier attempt went through"

mock '{lock_polls: 2}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: waits for the create lock before starting" bash -c "[ $RC -eq 0 ] && grep -q 'is locked (create)' '$LOG'"

mock "{vms: [{vmid: 101, name: \"k8s-control-1\", node: \"pve\", status: \"stopped\", lock: \"create\", lock_left: 1, config: $VM_CFG}]}"
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: existing locked stopped VM: wait, then start" eq "$RC/$(requests GET /status/current)/$(requests POST /status/start)" 0/2/1

mock '{faults: [{path: "/cluster/resources", mode: "reset", times: 1}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "retry: connection reset then success" eq "$RC" 0

mock '{faults: [{path: "/cluster/resources", mode: "429", times: 1}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "retry: 429 honours Retry-After then succeeds" eq "$RC/$(requests GET /cluster/resources)" 0/2

mock '{faults: [{path: "/cluster/resources", mode: "slow", delay: 2.5, times: 1}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK" "" '"client": {"timeout_s": 1, "backoff_ms": 50, "poll_ms": 50}')"
expect "retry: answer slower than the timeout is retried" bash -c "[ $RC -eq 0 ] && grep -q 'timed out' '$LOG'"

mock '{faults: [{path: "/cluster/resources", mode: "slow", delay: 2.5, times: 9}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK" "" '"client": {"timeout_s": 1, "attempts": 2, "backoff_ms": 50}')"
expect "retry: persistent timeouts fail after the bound" bash -c "[ $RC -eq 1 ] && grep -q 'timed out.*(after 2 attempts)' '$LOG'"

mock '{faults: [{path: "/cluster/resources", mode: "badjson", times: 1}]}'
run proxmox.vm "$(vm_args "$AUTH_TOK")"
expect "vm: malformed JSON is a clear failure" bash -c "[ $RC -eq 1 ] && grep -q 'not a Proxmox JSON envelope' '$LOG'"

mock '{}'
run proxmox.vm '{"proxmox": "pve", "endpoint": "http://127.0.0.1:1", "node": "pve", "auth": {"user": "root"},
	"vm": {"name": "bad name", "vmid": 7, "storage": "local-lvm", "iso_volid": "x.iso"}}'
expect "vm: bad args rejected, every problem listed" \
	bash -c "[ $RC -eq 1 ] && grep -q 'vm.name' '$LOG' && grep -q 'vm.vmid' '$LOG' && grep -q 'vm.bridge' '$LOG' && grep -q 'iso_volid' '$LOG' && grep -q 'auth.user must be USER@REALM' '$LOG'"
expect "vm: ... before any request" eq "$(requests)" 0

mock '{}'
run proxmox.vm "$(vm_args "$AUTH_TOK" "" '"ca_file": "/nonexistent/pve-root-ca.pem"')"
expect "overrides: the cluster file's ca_file is not used for the inventory endpoint" eq "$RC" 0
run proxmox.vm "$(vm_args "$AUTH_TOK" "" '"ca_file": "/nonexistent/pve-root-ca.pem"')" ""
expect "vm: without overrides a missing ca_file is a clear error" \
	bash -c "[ $RC -eq 1 ] && grep -q 'ca_file /nonexistent/pve-root-ca.pem: No such file' '$LOG'"

echo '{"proxmox": {"other": {"endpoint": "'"$MOCK"'"}}}' >"$TMP/ovr-missing.json"
run proxmox.vm "$(vm_args "$AUTH_TOK")" "$TMP/ovr-missing.json"
expect "overrides: a proxmox section without our entry refuses to fall back" \
	bash -c "[ $RC -eq 1 ] && grep -q \"no endpoint for 'pve'\" '$LOG'"
mock '{}'
run proxmox.vm "$(vm_args "$AUTH_TOK")" ""
expect "overrides: none given uses args.endpoint (closed port: connection refused)" \
	bash -c "[ $RC -eq 1 ] && grep -q '127.0.0.1:1/api2/json' '$LOG' && [ $(requests) -eq 0 ]"

# ---- proxmox.iso
head -c 300000 /dev/urandom >"$TMP/out/auto.iso"
ISO_SHA=$(sha256sum "$TMP/out/auto.iso" | cut -d' ' -f1)
iso_args() {
	cat <<EOF
{"proxmox": "pve", "endpoint": "http://127.0.0.1:1", "node": "pve", "auth": $1, $FAST,
 "iso_storage": "local", "file": "${2:-auto.iso}", "name": "ubuntu-auto.iso", "sha256": "${3:-$ISO_SHA}"}
EOF
}
mock '{isos: ["local:iso/other.iso"]}'
run proxmox.iso "$(iso_args "$AUTH_PW")"
expect "iso: uploads when missing" eq "$RC/$(requests POST /upload)" 0/1
expect "iso: fields in order, Content-Length, whole file" \
	eq "$(mock_state | jq -c '.uploads[0] | [.fields, .size, .filename, (.content_length > .size)]')" \
	'[["content","checksum-algorithm","checksum","filename"],300000,"ubuntu-auto.iso",true]'
expect "iso: imgcopy task polled" [ "$(requests GET '/tasks/UPID%3A.*imgcopy.*/status$')" -ge 2 ]
next_requests
rm -f "$TMP/out/auto.iso.gone"
run proxmox.iso "$(iso_args "$AUTH_PW" "no-such-file.iso")"
expect "iso: second run finds it and uploads nothing (file not even needed)" eq "$RC/$(requests POST /upload)" 0/0
expect "iso: ... says so" has "exists: local:iso/ubuntu-auto.iso"

next_requests
run proxmox.iso "$(iso_args "$AUTH_PW")"
expect "iso: same name and same size as the local file: no upload" eq "$RC/$(requests POST /upload)" 0/0

mock '{isos: [{volid: "local:iso/ubuntu-auto.iso", size: 1234}]}'
run proxmox.iso "$(iso_args "$AUTH_TOK")"
expect "iso: a stored copy of another size is uploaded again" \
	bash -c "[ $RC -eq 0 ] && [ $(requests POST /upload) -eq 1 ] && grep -q 'size differs (1234 bytes there, 300000 here)' '$LOG'"

mock '{}'
run proxmox.iso "$(iso_args "$AUTH_TOK" auto.iso 0000000000000000000000000000000000000000000000000000000000000000)"
expect "iso: checksum mismatch fails from the imgcopy task" bash -c "[ $RC -eq 1 ] && grep -q 'checksum mismatch' '$LOG'"

mock '{}'
run proxmox.iso "$(iso_args "$AUTH_TOK" missing.iso)"
expect "iso: a missing local file is a clear failure" bash -c "[ $RC -eq 1 ] && grep -q 'cannot upload missing.iso' '$LOG' && grep -q 'read from the working directory' '$LOG' && [ $(requests POST) -eq 0 ]"

mock '{faults: [{method: "POST", path: "/upload$", mode: "502", times: 1}]}'
run proxmox.iso "$(iso_args "$AUTH_TOK" "$TMP/out/auto.iso")"
expect "iso: upload retried after a 502 (absolute path)" eq "$RC/$(requests POST /upload)" 0/2

# Issue 10, defect 10: a cidata seed is judged by its content, not its size.
# content_addressed stores it as NAME-<16 hex of its sha256>.iso; proxmox.vm's
# cidata_file names the same volume.
ca_args() {
	cat <<EOF
{"proxmox": "pve", "endpoint": "http://127.0.0.1:1", "node": "pve", "auth": $1, $FAST,
 "iso_storage": "local", "file": "seed.iso", "name": "clusterc-lab-n1-cidata.iso", "content_addressed": true}
EOF
}
printf 'user-data: A\n' >"$TMP/out/seed.iso"
SEED1=$(sha256sum "$TMP/out/seed.iso" | cut -c1-16)
mock '{isos: [{volid: "local:iso/clusterc-lab-n1-cidata.iso", size: 13}]}'
run proxmox.iso "$(ca_args "$AUTH_TOK")"
expect "iso: content_addressed: uploaded under the name with its content hash" \
	eq "$RC/$(requests POST /upload)/$(mock_state | jq -r '.uploads[0].filename')" "0/1/clusterc-lab-n1-cidata-$SEED1.iso"
next_requests
run proxmox.iso "$(ca_args "$AUTH_TOK")"
expect "iso: content_addressed: the same content is not uploaded again" eq "$RC/$(requests POST /upload)" 0/0
printf 'user-data: B\n' >"$TMP/out/seed.iso"
SEED2=$(sha256sum "$TMP/out/seed.iso" | cut -c1-16)
next_requests
run proxmox.iso "$(ca_args "$AUTH_TOK")"
expect "iso: content_addressed: an edited seed of the same size is uploaded, under its new name" \
	eq "$RC/$(requests POST /upload)/$(mock_state | jq -r '.uploads[-1].filename')" "0/1/clusterc-lab-n1-cidata-$SEED2.iso"
mock '{}'
run proxmox.vm "$(vm_args "$AUTH_TOK" '"cidata_volid": "local:iso/clusterc-lab-n1-cidata.iso", "cidata_file": "seed.iso"')"
expect "vm: cidata_file: ide3 is the content-addressed seed" eq "$RC $(created ide3)" "0 local:iso/clusterc-lab-n1-cidata-$SEED2.iso,media=cdrom"
run proxmox.iso "$(ca_args "$AUTH_TOK" | jq '.file = "no-such-seed.iso"')"
expect "iso: content_addressed: a missing seed is a clear failure" bash -c "[ $RC -eq 1 ] && grep -q 'cannot read no-such-seed.iso' '$LOG'"

# ---- gitlab.deploy_key
OTHER_KEYS='[range(5) | {id: (10 + .), title: "k\(.)", key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther\(.)xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx u@h"}]'
mock "{gitlab_projects: {\"home/infra/cluster-setup\": $OTHER_KEYS}, gitlab_page_max: 2}"
run gitlab.deploy_key "$(gl_args)"
expect "gitlab: registers a new key" eq "$RC/$(requests POST)" 0/1
expect "gitlab: follows X-Next-Page through 3 pages" eq "$(requests GET 'deploy_keys\?per_page=100&page=[123]$')" 3
expect "gitlab: project path encoded as %2F" eq "$(requests "" '/projects/home%2Finfra%2Fcluster-setup/deploy_keys')" 4
expect "gitlab: posted can_push false" eq "$(mock_state | jq -c '.keys["home/infra/cluster-setup"][5] | [.title, .can_push]')" '["clusterc argocd",false]'
next_requests
run gitlab.deploy_key "$(gl_args)"
expect "gitlab: second run finds it, no POST" eq "$RC/$(requests POST)" 0/0
expect "gitlab: ... says already registered" has "already registered"

mock '{gitlab_projects: {"home/infra/cluster-setup": []}}'
run gitlab.deploy_key "$(gl_args | jq '.project_path += ".git"')"
expect "gitlab: a trailing .git is dropped from project_path" \
	eq "$RC/$(requests POST '/projects/home%2Finfra%2Fcluster-setup/deploy_keys$')" 0/1

mock "{gitlab_projects: {\"home/infra/cluster-setup\": [{id: 3, title: \"old\", key: \"${PUBKEY% *} other-comment\"}]}}"
run gitlab.deploy_key "$(gl_args)"
expect "gitlab: matching ignores the comment" eq "$RC/$(requests POST)" 0/0

mock "{gitlab_projects: {\"home/infra/cluster-setup\": [{id: 3, title: \"old\", key: \"$PUBKEY\"}]}, gitlab_list_hidden: true}"
run gitlab.deploy_key "$(gl_args)"
expect "gitlab: 400 has already been taken counts as success" bash -c "[ $RC -eq 0 ] && grep -q 'already been taken' '$LOG'"

mock '{gitlab_projects: {"home/infra/cluster-setup": []}, gitlab_token: "a-different-token"}'
run gitlab.deploy_key "$(gl_args)"
expect "gitlab: 401 names the api scope" bash -c "[ $RC -eq 1 ] && grep -q 'HTTP 401' '$LOG' && grep -q \"'api' scope\" '$LOG'"

mock '{gitlab_projects: {"home/infra/cluster-setup": []}, gitlab_role_ok: false}'
run gitlab.deploy_key "$(gl_args)"
expect "gitlab: 403 names the Maintainer role" bash -c "[ $RC -eq 1 ] && grep -q 'HTTP 403' '$LOG' && grep -q 'Maintainer' '$LOG'"

mock '{gitlab_projects: {}}'
run gitlab.deploy_key "$(gl_args)"
expect "gitlab: unknown project is a clear 404" bash -c "[ $RC -eq 1 ] && grep -q 'HTTP 404' '$LOG' && grep -q 'not found or the token cannot see it' '$LOG'"

mock '{gitlab_projects: {"home/infra/cluster-setup": []}, faults: [{method: "POST", path: "deploy_keys", mode: "500", times: 1}]}'
run gitlab.deploy_key "$(gl_args)"
expect "gitlab: POST retried after a 500" eq "$RC/$(requests POST)" 0/2

echo '{"gitlab": {}}' >"$TMP/ovr-gl.json"
run gitlab.deploy_key "$(gl_args)" "$TMP/ovr-gl.json"
expect "overrides: a gitlab section without api refuses to fall back" bash -c "[ $RC -eq 1 ] && grep -q 'without \"api\"' '$LOG'"

# ---- proxmox.hostkey: the installed system's host key through the guest agent
ssh-keygen -q -t ed25519 -N '' -C root@k8s-node-1 -f "$TMP/hk" >/dev/null
HK=$(cat "$TMP/hk.pub")
hk_args() { # hk_args [TOP-EXTRA]
	cat <<EOF
{"proxmox": "pve", "endpoint": "http://127.0.0.1:1", "node": "pve", "auth": $AUTH_TOK, $FAST,
 "vm": {"name": "k8s-node-1", "vmid": 181}, "marker": "/var/lib/clusterc/installed",
 "key_file": "/etc/ssh/ssh_host_ed25519_key.pub", "install_timeout_s": 20, "poll_s": 1 ${1:+, $1}}
EOF
}
hk_guest() { # hk_guest MARKER KEYFILE-CONTENT [GUEST-EXTRA]
	jq -n --arg m "$1" --arg k "$2" --argjson x "${3:-null}" \
		'{vms: [{vmid: 181, name: "k8s-node-1", node: "pve", status: "running"}],
		  guests: {"181": ({agent_after: 2, files_after: 4, files: {"/var/lib/clusterc/installed": $m,
		  "/etc/ssh/ssh_host_ed25519_key.pub": $k}} + ($x // {}))}}'
}
mock "$(hk_guest $'k8s-node-1\n' "$HK")"
run proxmox.hostkey "$(hk_args)"
want_fp=$(ssh-keygen -lf "$TMP/hk.pub" | awk '{print $2}')
expect "hostkey: read once the installed system is up" \
	eq "$RC $(jq -r .host_key "$OUT")" "0 $(cut -d' ' -f1,2 <<<"$HK")"
expect "hostkey: each stage reported once, then the fingerprint ssh-keygen prints" \
	bash -c "grep -q 'guest agent does not answer yet' '$LOG' && grep -q 'has not finished its first boot' '$LOG' &&
		grep -q 'installed system is up' '$LOG' && grep -qF '$want_fp' '$LOG' &&
		[ \$(grep -c 'does not answer yet' '$LOG') = 1 ]"
expect "hostkey: the agent's 500s while waiting are not retried with backoff" \
	bash -c "! grep -q retrying '$LOG'"
mock "$(hk_guest $'k8s-node-9\n' "$HK")"
run proxmox.hostkey "$(hk_args)"
expect "hostkey: a marker naming another node fails at once, naming both" \
	bash -c "[ $RC -eq 1 ] && grep -q \"names 'k8s-node-9', not 'k8s-node-1'\" '$LOG'"
mock "$(hk_guest $'k8s-node-1\n' 'not a key')"
run proxmox.hostkey "$(hk_args)"
expect "hostkey: a key file that is no OpenSSH key is refused" \
	bash -c "[ $RC -eq 1 ] && grep -q 'is not an OpenSSH public key' '$LOG'"
mock "$(hk_guest $'k8s-node-1\n' "ssh-ed25519 $(printf '\0\0\0\7ssh-rsaxxxx' | base64 -w0)")"
run proxmox.hostkey "$(hk_args)"
expect "hostkey: a blob whose type differs from the line's is refused" eq "$RC" 1
mock "$(hk_guest '' "$HK" '{"files_after": 1000}')"
t0=$(date +%s)
run proxmox.hostkey "$(hk_args '"install_timeout_s": 3')"
t1=$(date +%s)
expect "hostkey: at the deadline, the stage reached and where the console is" \
	bash -c "[ $RC -eq 1 ] && grep -q 'did not finish installing within 3 s' '$LOG' &&
		grep -q 'has not finished its first boot' '$LOG' && grep -q 'qm terminal 181' '$LOG' && [ $((t1 - t0)) -le 8 ]"
mock "$(hk_guest $'k8s-node-1\n' "$HK" '{"forbidden": true}')"
run proxmox.hostkey "$(hk_args)"
expect "hostkey: a missing VM.Monitor permission fails at once with the hint" \
	bash -c "[ $RC -eq 1 ] && grep -q 'VM.Monitor' '$LOG' && grep -q 'pveum acl modify' '$LOG' && [ $(requests GET /agent/) = 0 ]"
mock '{"vms": []}'
run proxmox.hostkey "$(hk_args)"
expect "hostkey: a VM that does not exist fails at once" \
	bash -c "[ $RC -eq 1 ] && grep -q 'does not exist' '$LOG'"

# ---- TLS: a second mock speaking HTTPS with a self-signed certificate for 127.0.0.1
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1; then
	python3 "$HERE/mock_server.py" "$TMP/tlsport" "$TMP/tls-requests.log" "$TMP/tls.crt" "$TMP/tls.key" \
		2>"$TMP/tlsmock.err" &
	TLS_PID=$!
	at_exit "kill $TLS_PID 2>/dev/null; wait $TLS_PID 2>/dev/null"
	for _ in $(seq 100); do [ -s "$TMP/tlsport" ] && break; sleep 0.05; done
	TLS=https://127.0.0.1:$(cat "$TMP/tlsport")
	jq -n --arg gl "$GL_TOKEN" '{gitlab_token: $gl, gitlab_projects: {"home/infra/cluster-setup": []}}' |
		curl -sf --cacert "$TMP/tls.crt" -X POST --data-binary @- "$TLS/__mock/config" >/dev/null
	jq -n --arg api "$TLS/api/v4" '{gitlab: {api: $api}}' >"$TMP/ovr-tls.json"
	run gitlab.deploy_key "$(gl_args)" "$TMP/ovr-tls.json"
	expect "tls: verification is on by default (self-signed refused)" \
		bash -c "[ $RC -eq 1 ] && grep -q 'TLS certificate not trusted' '$LOG' && grep -q 'set ca_file' '$LOG'"
	expect "tls: ... and not retried" eq "$(grep -c retrying "$LOG")" 0
	# args alone (no inventory): the args' TLS options apply.
	tls_args() { gl_args | jq --arg api "$TLS/api/v4" ".api = \$api | $1"; }
	run gitlab.deploy_key "$(tls_args '.')" ""
	expect "tls: args without ca_file: refused" bash -c "[ $RC -eq 1 ] && grep -q 'TLS certificate not trusted' '$LOG'"
	run gitlab.deploy_key "$(tls_args ". + {ca_file: \"$TMP/tls.crt\"}")" ""
	expect "tls: args ca_file makes it trusted" eq "$RC" 0
	run gitlab.deploy_key "$(tls_args '. + {verify_tls: false}')" ""
	expect "tls: args verify_tls=false is the explicit opt-out" eq "$RC" 0
	run gitlab.deploy_key "$(tls_args '. + {verify_tls: "no"}')" ""
	expect "tls: verify_tls must be a boolean" bash -c "[ $RC -eq 1 ] && grep -q 'verify_tls must be true or false' '$LOG'"
	# with an inventory entry, its TLS options replace the args' ones.
	run gitlab.deploy_key "$(gl_args | jq '. + {verify_tls: false}')" "$TMP/ovr-tls.json"
	expect "tls: the args' verify_tls=false does not carry over to the inventory endpoint" eq "$RC" 1
	jq -n --arg api "$TLS/api/v4" --arg ca "$TMP/tls.crt" '{gitlab: {api: $api, ca_file: $ca}}' >"$TMP/ovr-tls-ca.json"
	run gitlab.deploy_key "$(gl_args | jq '. + {ca_file: "/nonexistent/ca.pem"}')" "$TMP/ovr-tls-ca.json"
	expect "tls: ca_file from the inventory entry" bash -c "[ $RC -eq 0 ] && grep -q 'already registered' '$LOG'"
	jq -n --arg api "$TLS/api/v4" '{gitlab: {api: $api, verify_tls: false}}' >"$TMP/ovr-tls-off.json"
	run gitlab.deploy_key "$(gl_args)" "$TMP/ovr-tls-off.json"
	expect "tls: verify_tls=false from the inventory entry" eq "$RC" 0
	# fingerprint pinning: the value `pvenode cert info` prints (colon hex, upper
	# case) and the same as sha256:hex; a wrong pin sends nothing at all.
	fp=$(openssl x509 -noout -fingerprint -sha256 -in "$TMP/tls.crt" | sed 's/^.*=//')
	fphex=$(printf '%s' "$fp" | tr -d : | tr A-F a-f)
	run gitlab.deploy_key "$(tls_args ". + {fingerprint: \"$fp\"}")" ""
	expect "tls: fingerprint as pvenode prints it makes the self-signed server trusted" eq "$RC" 0
	run gitlab.deploy_key "$(tls_args ". + {fingerprint: \"sha256:$fphex\"}")" ""
	expect "tls: fingerprint as sha256:hex" eq "$RC" 0
	before=$(wc -l <"$TMP/tls-requests.log")
	wrong=sha256:$(printf '%064d' 7)
	run gitlab.deploy_key "$(tls_args ". + {fingerprint: \"$wrong\"}")" ""
	expect "tls: a wrong fingerprint is refused, names both, says how to check" \
		bash -c "[ $RC -eq 1 ] && grep -q 'fingerprint is sha256:$fp, not the pinned sha256:00:00' '$LOG' &&
			grep -q 'pvenode cert info' '$LOG'"
	expect "tls: ... before any request reached the server, and not retried" \
		bash -c "[ \"\$(wc -l <'$TMP/tls-requests.log')\" = $before ] && ! grep -q retrying '$LOG'"
	jq -n --arg api "$TLS/api/v4" --arg fp "$fp" '{gitlab: {api: $api, fingerprint: $fp}}' >"$TMP/ovr-tls-fp.json"
	run gitlab.deploy_key "$(gl_args)" "$TMP/ovr-tls-fp.json"
	expect "tls: fingerprint from the inventory entry" eq "$RC" 0
	run gitlab.deploy_key "$(tls_args ". + {fingerprint: \"$fp\", ca_file: \"$TMP/tls.crt\"}")" ""
	expect "tls: fingerprint with ca_file is refused" \
		bash -c "[ $RC -eq 1 ] && grep -q 'fingerprint cannot be combined' '$LOG'"
	run gitlab.deploy_key "$(tls_args '. + {fingerprint: "sha256:12:34"}')" ""
	expect "tls: a malformed fingerprint is refused" \
		bash -c "[ $RC -eq 1 ] && grep -q 'fingerprint must be' '$LOG'"
	# As Proxmox serves it: a leaf (CA:FALSE, named for another host) signed by
	# the cluster's own root CA (pve-root-ca.pem), the chain sent. Pinning the
	# leaf alone must be enough.
	(cd "$TMP" && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=PVE Root CA" \
		-keyout pveca.key -out pveca.crt &&
	 openssl req -newkey rsa:2048 -nodes -subj /CN=pve.lan -keyout pve.key -out pve.csr &&
	 printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:pve.lan\nextendedKeyUsage=serverAuth\n' >pve.ext &&
	 openssl x509 -req -in pve.csr -CA pveca.crt -CAkey pveca.key -CAcreateserial -days 2 \
		-extfile pve.ext -out pve.crt && cat pve.crt pveca.crt >pve-chain.pem) >/dev/null 2>&1
	python3 "$HERE/mock_server.py" "$TMP/pveport" "$TMP/pve-requests.log" "$TMP/pve-chain.pem" "$TMP/pve.key" \
		2>"$TMP/pvemock.err" &
	PVE_TLS_PID=$!
	at_exit "kill $PVE_TLS_PID 2>/dev/null; wait $PVE_TLS_PID 2>/dev/null"
	for _ in $(seq 100); do [ -s "$TMP/pveport" ] && break; sleep 0.05; done
	PVE_TLS=https://127.0.0.1:$(cat "$TMP/pveport")
	jq -n --arg gl "$GL_TOKEN" '{gitlab_token: $gl, gitlab_projects: {"home/infra/cluster-setup": []}}' |
		curl -sfk -X POST --data-binary @- "$PVE_TLS/__mock/config" >/dev/null
	leaf_fp=$(openssl x509 -noout -fingerprint -sha256 -in "$TMP/pve.crt" | sed 's/^.*=//')
	pve_args() { gl_args | jq --arg api "$PVE_TLS/api/v4" ".api = \$api | $1"; }
	run gitlab.deploy_key "$(pve_args ". + {fingerprint: \"$leaf_fp\"}")" ""
	expect "tls: a pinned CA-signed leaf (Proxmox's layout) is trusted without its CA or name" eq "$RC" 0
	run gitlab.deploy_key "$(pve_args ". + {fingerprint: \"$fp\"}")" ""
	expect "tls: ... and another server's pin is refused there" \
		bash -c "[ $RC -eq 1 ] && grep -q 'not the pinned' '$LOG'"
else
	fail "tls: openssl can make a test certificate"
fi

# ---- contract: the args the stdlib templates render (templates/infra/*.json,
# templates/argocd/deploy-key.json) are accepted as they are. Only the
# endpoints are rewritten (to a closed loopback port); the inventory override
# points the builtins at the mock.
RENDER=$BUILD/tools/render
FIX=$TOP/tests/nodes/fixtures/homelab.model.json
if [ -x "$RENDER" ] && [ -f "$FIX" ]; then
	contract_ok=1
	for t in infra/vm infra/installer-iso infra/cidata-iso; do
		for i in 0 1; do
			"$RENDER" --stdlib "$TOP/stdlib" --context "$FIX" "templates/$t.json" --set "node=@nodes.$i" \
				2>>"$TMP/render.err" | jq '.endpoint = "http://127.0.0.1:1"' \
				>"$TMP/contract-$(basename $t)-$i.json" 2>>"$TMP/render.err" || contract_ok=0
		done
	done
	"$RENDER" --stdlib "$TOP/stdlib" --context "$FIX" templates/argocd/deploy-key.json 2>>"$TMP/render.err" |
		jq '.api = "http://127.0.0.1:1/api/v4"' >"$TMP/contract-deploy-key.json" 2>>"$TMP/render.err" || contract_ok=0
	LOG=$TMP/render.err
	expect "contract: the stdlib's builtin args templates render" [ $contract_ok = 1 ]
	jq --arg pw "$PVE_PW" --arg gl "$GL_TOKEN" --arg key "$PUBKEY" \
		'. + {PROXMOX_API_PASSWORD: $pw, REPOSITORY_TOKEN: $gl, argocd_public_key: $key}' \
		"$TMP/values.json" >"$TMP/values.contract.json"
	cp "$TMP/values.json" "$TMP/values.orig.json"
	cp "$TMP/values.contract.json" "$TMP/values.json"
	mock "{pve_user: $(jq '.auth.user' "$TMP/contract-vm-0.json"), gitlab_projects: {$(jq '.project_path' "$TMP/contract-deploy-key.json"): []}}"
	for i in 0 1; do
		for t in installer-iso cidata-iso; do
			f=$(jq -r .file "$TMP/contract-$t-$i.json")
			mkdir -p "$TMP/out/$(dirname "$f")"
			[ -f "$TMP/out/$f" ] || head -c 4096 /dev/urandom >"$TMP/out/$f"
			run proxmox.iso "$(cat "$TMP/contract-$t-$i.json")"
			expect "contract: proxmox.iso accepts templates/infra/$t.json (node $i)" eq "$RC" 0
		done
		run proxmox.vm "$(cat "$TMP/contract-vm-$i.json")"
		expect "contract: proxmox.vm accepts templates/infra/vm.json (node $i)" eq "$RC" 0
	done
	seed=$(sha256sum "$TMP/out/$(jq -r .vm.cidata_file "$TMP/contract-vm-1.json")" | cut -c1-16)
	expect "contract: a GPU node's params (cidata by content)" eq "$(mock_state | jq -r '[.created[] | select(.hostpci0) | .hostpci0, .machine, .bios, (.efidisk0 | split(",")[1]), .ide3] | join(" ")')" \
		"0000:01:00,pcie=1,x-vga=0 q35 ovmf efitype=4m local:iso/clusterc-homelab-k8s-node-1-cidata-$seed.iso,media=cdrom"
	expect "contract: the cidata seed was uploaded under that name" eq \
		"$(mock_state | jq -r --arg n "clusterc-homelab-k8s-node-1-cidata-$seed.iso" '[.uploads[] | select(.filename == $n)] | length')" 1
	run gitlab.deploy_key "$(cat "$TMP/contract-deploy-key.json")"
	expect "contract: gitlab.deploy_key accepts templates/argocd/deploy-key.json" eq "$RC/$(requests POST deploy_keys)" 0/1
	# templates/infra/hostkey.json, with a fingerprint on the proxmox block and
	# the node's install_timeout: what the model says reaches the builtin.
	jq '.proxmox[0].fingerprint = "sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
		| .proxmox[0].ca_file = null | .nodes[1].vm.install_timeout_s = 1200' "$FIX" >"$TMP/fp.model.json"
	"$RENDER" --stdlib "$TOP/stdlib" --context "$TMP/fp.model.json" templates/infra/hostkey.json --set "node=@nodes.1" \
		2>>"$TMP/render.err" >"$TMP/contract-hostkey-1.json"
	expect "contract: hostkey.json carries the fingerprint and the install deadline" \
		eq "$(jq -r '[.fingerprint, .install_timeout_s, .vm.vmid] | join(" ")' "$TMP/contract-hostkey-1.json")" \
		"sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89 1200 181"
	jq '.nodes[1].vm.install_timeout_s = 2700' "$FIX" >"$TMP/hk.model.json"
	"$RENDER" --stdlib "$TOP/stdlib" --context "$TMP/hk.model.json" templates/infra/hostkey.json --set "node=@nodes.1" \
		2>>"$TMP/render.err" | jq '.endpoint = "http://127.0.0.1:1" | .poll_s = 1' >"$TMP/contract-hostkey-plain.json"
	mock "{pve_user: $(jq '.auth.user' "$TMP/contract-hostkey-plain.json"),
		vms: [{vmid: 181, name: \"k8s-node-1\", node: \"pve\", status: \"running\"}],
		guests: {\"181\": {files: {\"/var/lib/clusterc/installed\": \"k8s-node-1\\n\",
		\"/etc/ssh/ssh_host_ed25519_key.pub\": $(jq -Rs . "$TMP/hk.pub")}}}}"
	run proxmox.hostkey "$(cat "$TMP/contract-hostkey-plain.json")"
	expect "contract: proxmox.hostkey accepts templates/infra/hostkey.json" \
		eq "$RC $(jq -r .host_key "$OUT")" "0 $(cut -d' ' -f1,2 "$TMP/hk.pub")"
	cp "$TMP/values.orig.json" "$TMP/values.json"
else
	echo "# contract tests not run: $RENDER or $FIX missing"
fi

# ---- proxmox.vm_destroy: a removed node's VM, stopped then destroyed; only its own
vd_args() {
	cat <<EOF
{"proxmox": "pve", "endpoint": "http://127.0.0.1:1", "node": "pve", "auth": $AUTH_TOK, $FAST,
 "vm": {"name": "k8s-node-2", "vmid": 182}}
EOF
}
mock '{vms: [{vmid: 182, name: "k8s-node-2", node: "pve", status: "running"}]}'
run proxmox.vm_destroy "$(vd_args)"
expect "vm_destroy: a running VM is stopped, then destroyed with purge" \
	eq "$RC $(requests POST 'status/stop$') $(requests DELETE 'qemu/182') $(mock_state | jq '[.vms[]? // empty] | length')" "0 1 1 0"
expect "vm_destroy: the destroy asks for purge and unreferenced disks" \
	bash -c "jq -r 'select(.method == \"DELETE\") | .path' '$TMP/requests.log' | grep -q 'purge=1' &&
		jq -r 'select(.method == \"DELETE\") | .path' '$TMP/requests.log' | grep -q 'destroy-unreferenced-disks=1'"
mock '{vms: []}'
run proxmox.vm_destroy "$(vd_args)"
expect "vm_destroy: an absent VM is already gone, and only reads are sent" \
	bash -c "[ $RC -eq 0 ] && grep -q 'already gone' '$LOG' && [ \$(jq -s '[.[] | select(.method != \"GET\")] | length' '$TMP/requests.log') = 0 ]"
mock '{vms: [{vmid: 182, name: "someone-else", node: "pve", status: "running"}]}'
run proxmox.vm_destroy "$(vd_args)"
expect "vm_destroy: a vmid holding another name's VM is refused, nothing sent but reads" \
	bash -c "[ $RC -eq 1 ] && grep -q \"named 'someone-else', not 'k8s-node-2'\" '$LOG' &&
		[ \$(jq -s '[.[] | select(.method != \"GET\")] | length' '$TMP/requests.log') = 0 ]"

# ---- every Proxmox request the builtins sent, against the official API schema
# (tests/consumers/proxmox-api-subset.json); the simulators' logs keep no secret.
next_requests
LOG=$TMP/schema-check
python3 "$TOP/tests/consumers/pve_api_check.py" "$TOP/tests/consumers/proxmox-api-subset.json" \
	"$TMP/requests.all.log" "$TMP"/*-requests.log >"$LOG" 2>&1
schema_rc=$?
expect "schema: $(tail -n 1 "$LOG")" [ $schema_rc -eq 0 ]
leaks=""
for s in "${SECRETS[@]}" c2lnbmF0dXJlLW5vdC1yZWFs Y3NyZi1tb2Nr "${PUBKEY#ssh-ed25519 }"; do
	[ -n "$s" ] || continue
	if grep -lF -- "$s" "$TMP/requests.all.log" "$TMP"/*-requests.log >/dev/null 2>&1; then leaks+="$s"$'\n'; fi
done
printf '%s' "$leaks" >"$LOG"
expect "secrets: no password, token, ticket, CSRF value or key in the simulator's request logs" [ -z "$leaks" ]

# ---- secrets never in any builtin log or output
leaks=""
for s in "${SECRETS[@]}"; do
	[ -n "$s" ] || continue
	if grep -rlF -- "$s" "$TMP/logs" >/dev/null 2>&1; then leaks+="$s found in $(grep -rlF -- "$s" "$TMP/logs" | tr '\n' ' ')"$'\n'; fi
done
for t in ticket 'PVEAuthCookie' 'CSRFPreventionToken:' "c2lnbmF0dXJlLW5vdC1yZWFs" "Y3NyZi1tb2Nr"; do
	if grep -rlF -- "$t" "$TMP/logs" >/dev/null 2>&1; then
		# "ticket" alone may appear in prose; the ticket and CSRF values may not.
		case $t in ticket|PVEAuthCookie) ;; *) leaks+="$t found"$'\n' ;; esac
	fi
done
LOG=$TMP/leaks
printf '%s' "$leaks" >"$LOG"
expect "secrets: no password, token, ticket or CSRF value in $N builtin logs" [ -z "$leaks" ]

finish
