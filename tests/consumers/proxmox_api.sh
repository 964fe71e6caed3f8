# tests/consumers/proxmox_api.sh (sourced by run.sh): the Proxmox API requests
# the runner sends for a built cluster, checked against the official schema.
# Each proxmox.* step of ROOT/plan.json runs unchanged through
# build/tools/builtin_cli (the runner's builtin call) against the simulator
# (tests/api/mock_server.py on 127.0.0.1), whose request log keeps each
# request's parameters; pve_api_check.py then checks every request against
# proxmox-api-subset.json (official pve-docs apidata.js, see its _provenance).
HERE_PVE=$(dirname "${BASH_SOURCE[0]}")
PVE_SUBSET=$HERE_PVE/proxmox-api-subset.json
PVE_CHECK=("$PY" "$HERE_PVE/pve_api_check.py" "$PVE_SUBSET")

# pve_mock_start: one simulator for the whole area, stopped by PID at exit.
pve_mock_start() {
	cp "$BUILD/tools/builtin_cli" "$TMP/builtin_cli" || return 1
	ssh-keygen -q -t ed25519 -N '' -C consumers -f "$TMP/hostkey" >/dev/null || return 1
	"$PY" "$TOP/tests/api/mock_server.py" "$TMP/pve.port" "$TMP/pve.requests.log" 2>"$TMP/pve.err" &
	PVE_MOCK_PID=$!
	at_exit "kill $PVE_MOCK_PID 2>/dev/null; wait $PVE_MOCK_PID 2>/dev/null"
	for _ in $(seq 100); do [ -s "$TMP/pve.port" ] && break; sleep 0.05; done
	[ -s "$TMP/pve.port" ] && PVE_MOCK=http://127.0.0.1:$(cat "$TMP/pve.port")
}

# pve_requests_check NAME ROOT: runs ROOT's proxmox.* steps against the
# simulator and checks what they sent.
pve_requests_check() {
	local c=$1 root=$2 w=$TMP/$1/pve builtin args n=0 failed=""
	mkdir -p "$w"
	"$PY" "$HERE_PVE/pve_scenario.py" "$root" "$w" "$PVE_MOCK" "$TMP/hostkey.pub" || {
		fail "$c: Proxmox scenario from plan.json"; return; }
	[ -s "$w/steps.tsv" ] || return 0
	curl -sf -X POST --data-binary @"$w/scenario.json" "$PVE_MOCK/__mock/config" >/dev/null
	: >"$TMP/pve.requests.log"
	while IFS=$'\t' read -r builtin args; do
		n=$((n + 1))
		(cd "$w" && "$TMP/builtin_cli" "$builtin" "$args" values.json overrides.json) \
			>"$w/step.$n.out" 2>"$w/step.$n.log" || failed+="$builtin ${args#"$root"/}: $(tail -n 3 "$w/step.$n.log")"$'\n'
	done <"$w/steps.tsv"
	cp "$TMP/pve.requests.log" "$w/requests.log"
	if [ -n "$failed" ]; then
		fail "$c: its $n proxmox.* steps run against the simulator" "$failed"
	else
		pass "$c: its $n proxmox.* steps run against the simulator"
	fi
	local out rc
	out=$("${PVE_CHECK[@]}" "$w/requests.log" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then pass "$c: ${out##*$'\n'}"; else fail "$c: every Proxmox API request matches the official schema" "$out"; fi
	if grep -qF consumers-throwaway-secret "$w/requests.log"; then
		fail "$c: the simulator's request log holds no secret value"
	fi
}

# pve_negative_cases LOG: the check fails on each mutation of a real create
# (and upload) request: a misspelled parameter, a misspelled property-string
# key, a value outside its enum or range, a missing required parameter, a
# method the endpoint lacks.
pve_negative_cases() {
	local log=$1 w=$TMP/pve-negative
	mkdir -p "$w"
	"$PY" - "$log" "$w" <<'PY'
import json, re, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
create = next(e for e in entries if e["method"] == "POST" and e["path"].endswith("/qemu"))
upload = next(e for e in entries if e["path"].endswith("/upload"))
start = next(e for e in entries if e["path"].endswith("/status/start"))
def case(name, base, expect, edit):
    e = json.loads(json.dumps(base))
    edit(e)
    with open("%s/%s.log" % (sys.argv[2], name), "w") as f:
        f.write(json.dumps(e) + "\n")
    with open("%s/%s.expect" % (sys.argv[2], name), "w") as f:
        f.write(expect)
def rename(p, old, new):
    return lambda e: e["params"].__setitem__(new, e["params"].pop(old))
def put(p, v):
    return lambda e: e["params"].__setitem__(p, v)
case("misspelled-parameter", create, "parameter 'memroy' is not defined", rename("p", "memory", "memroy"))
case("misspelled-net0-key", create, "invalid key 'brigde'", put("net0", create["params"]["net0"].replace("bridge=", "brigde=")))
case("ide2-media-enum", create, "'dvd' is not one of cdrom|disk", put("ide2", create["params"]["ide2"].replace("media=cdrom", "media=dvd")))
case("ostype-enum", create, "'linux' is not one of", put("ostype", "linux"))
case("vmid-range", create, "99 is outside 100 - 999999999", put("vmid", "99"))
case("vmid-missing", create, "required parameter 'vmid' is missing", lambda e: e["params"].pop("vmid"))
case("scsi-index", create, "parameter 'scsi31' is not defined", rename("p", "scsi0", "scsi31"))
case("efidisk0-key", create, "invalid key 'efi-type'", put("efidisk0", "local-lvm:1,efi-type=4m"))
case("hostpci0-key", create, "invalid key 'x_vga'", put("hostpci0", "0000:01:00,pcie=1,x_vga=0"))
case("hostpci0-upper-case", create, "does not match pve-qm-hostpci's", put("hostpci0", "0000:0A:00,pcie=1"))
case("ipconfig0-key", create, "invalid key 'gateway'", put("ipconfig0", "ip=10.0.0.5/24,gateway=10.0.0.1"))
case("boot-order", create, "boot order names virtio0", put("boot", "order=virtio0;ide2"))
case("upload-field", upload, "parameter 'checksum_algorithm' is not defined", rename("p", "content", "checksum_algorithm"))
case("storage-path", upload, "'l' is not a valid pve-storage-id", lambda e: e.__setitem__("path", re.sub("/storage/[^/]+/", "/storage/l/", e["path"])))
case("method", start, "has no method PUT", lambda e: e.__setitem__("method", "PUT"))
case("endpoint", start, "no endpoint of the schema subset matches", lambda e: e.__setitem__("path", e["path"].replace("/status/start", "/status/begin")))
PY
	local f name out bad=""
	for f in "$w"/*.log; do
		name=$(basename "$f" .log)
		out=$("${PVE_CHECK[@]}" "$f" 2>&1)
		if [ $? -ne 1 ] || ! grep -qF -- "$(cat "$w/$name.expect")" <<<"$out"; then
			bad+="$name: $out"$'\n'
		fi
	done
	if [ -n "$bad" ]; then
		fail "the schema check refuses each mutated request (misspelled parameter or key, enum, range, required, method, path)" "$bad"
	else
		pass "the schema check refuses each of $(ls "$w"/*.log | wc -l) mutated requests (misspelled parameter or key, enum, range, required, method, path)"
	fi
}
