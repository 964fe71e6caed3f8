#!/usr/bin/env bash
# tests/runner/run.sh: end-to-end and fault tests of `clusterc plan` and
# `clusterc apply` over real SSH, against the lab's test hosts (tests/lab/,
# 198.18.x in network namespaces; or, with RUNNER_LAB=mini or without the lab,
# minilab.sh: sshd on 127.0.0.1 in private namespaces). Nothing else is ever
# contacted: every run passes --inventory. The fixture plan (fixtures/basic)
# has a local step, a base step per node, an init step that reads a secret and
# hands a value (JOIN) to join steps, and a cluster step; marker files in a
# host's /var/lib/lab make a step fail, sleep or ask for a reboot.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/runner/minilab.sh"

FIX=$TOP/tests/runner/fixtures/basic
LAB=$TMP/lab
W=$TMP/w
ART=$W/artifacts
TRACE=$TMP/argv.trace
export XDG_STATE_HOME=$TMP/state
# A secret with a space, a quote and a dollar: it must reach the step intact.
export TOKEN="sup3r s3cret 'tok' \$en"
export CLUSTERC_TRACE_ARGV=$TRACE
# Kept ssh masters (compiler/run/ssh_keep.h) live in this private directory,
# and every one the tests leave is closed at exit, by its socket.
export XDG_RUNTIME_DIR=$TMP/rt
mkdir -m 700 "$XDG_RUNTIME_DIR"
kept_close() {
	local s
	for s in "$XDG_RUNTIME_DIR"/clusterc/*/*; do
		[ -S "$s" ] && ssh -F /dev/null -o ControlPath="$s" -O exit kept >/dev/null 2>&1
	done
	return 0
}
at_exit kept_close

# ---- the remote scripts (stdlib/runner/*.sh, built into clusterc and sent to
# every host): ShellCheck and bash -n like every generated script. No host
# needed, so before the skip below.
if out=$(shellcheck -s bash "$TOP"/stdlib/runner/*.sh 2>&1); then
	pass "stdlib/runner/*.sh: shellcheck, zero findings"
else
	fail "stdlib/runner/*.sh: shellcheck" "$out"
fi
bad=()
for f in "$TOP"/stdlib/runner/*.sh; do bash -n "$f" 2>/dev/null || bad+=("$f"); done
if [ ${#bad[@]} -eq 0 ]; then pass "stdlib/runner/*.sh: bash -n"; else fail "stdlib/runner/*.sh: bash -n" "${bad[*]}"; fi

if [ "$(id -u)" != 0 ] || ! command -v sshd >/dev/null || ! command -v unshare >/dev/null ||
	! unshare -m -p --fork true 2>/dev/null; then
	echo "skip: the runner tests need root, sshd and unshare"
	finish
	exit $?
fi
[ -x "$CLUSTERC_BIN" ] || { fail "no clusterc binary at $CLUSTERC_BIN"; finish; exit 1; }
# A private copy: a concurrent `make` must not swap the binary mid-run.
cp "$CLUSTERC_BIN" "$TMP/clusterc" && CLUSTERC_BIN=$TMP/clusterc
REHASH=$TMP/plan_rehash
cp "$BUILD/tools/plan_rehash" "$REHASH" || { fail "no plan_rehash at $BUILD/tools"; finish; exit 1; }

# ---- the hosts: tests/lab/lab.sh when it is there (RUNNER_LAB=mini forces
# the namespace mini-lab of minilab.sh). Both give inventory.json and
# known_hosts; these helpers hide where a host's files live.
LABSH=$TOP/tests/lab/lab.sh
if [ -f "$LABSH" ] && [ "${RUNNER_LAB:-lab}" != mini ]; then
	LABKIND=lab
else
	LABKIND=mini
fi
mkdir -p "$LAB"
if [ "$LABKIND" = lab ]; then
	at_exit "bash '$LABSH' down '$LAB' >/dev/null 2>&1"
	bash "$LABSH" up 3 "$LAB" --names n1,n2,n3 >"$TMP/lab.log" 2>&1
else
	at_exit "minilab_down '$LAB'"
	minilab_up 3 "$LAB" >"$TMP/lab.log" 2>&1
fi
if [ $? != 0 ]; then
	fail "lab up ($LABKIND)" "$(cat "$TMP/lab.log")"
	finish
	exit 1
fi
echo "    hosts: $LABKIND"
INV=$LAB/inventory.json
# hpath HOST PATH: where the test reads a host's file
hpath() {
	if [ "$LABKIND" = lab ]; then
		echo "$LAB/$1/upper$2"
	else
		case $2 in
		/var/lib/lab*) echo "$LAB/$1/lab${2#/var/lib/lab}" ;;
		/var/lib/clusterc*) echo "$LAB/$1/clusterc${2#/var/lib/clusterc}" ;;
		*) echo "/nonexistent$2" ;;
		esac
	fi
}
# hsh HOST SCRIPT [ARGS]: runs a shell script inside the host (lab), or on the
# mini-lab's bound directories (paths rewritten by hpath)
hsh() {
	local h=$1 script=$2
	shift 2
	if [ "$LABKIND" = lab ]; then
		bash "$LABSH" exec "$LAB/$h" -- sh -c "$script" _ "$@"
	else
		local a=() x
		for x in "$@"; do case $x in /*) a+=("$(hpath "$h" "$x")") ;; *) a+=("$x") ;; esac; done
		sh -c "$script" _ "${a[@]}"
	fi
}
hput() { hsh "$1" 'mkdir -p "$(dirname "$1")" && printf "%s\n" "$2" > "$1"' "$2" "$3"; }
hrm() { hsh "$1" 'rm -f "$1"' "$2"; }
hkill() {
	if [ "$LABKIND" = lab ]; then bash "$LABSH" kill-sshd "$LAB" "$1" >/dev/null 2>&1
	else minilab_kill "$LAB" "$1"; fi
}
hstart() {
	if [ "$LABKIND" = lab ]; then bash "$LABSH" start-sshd "$LAB" "$1" >/dev/null 2>&1
	else minilab_start "$LAB" "$1"; fi
}
accepted() {
	if [ "$LABKIND" = lab ]; then
		cat "$LAB"/n*/upper/var/log/clusterc-lab-sshd.log 2>/dev/null | grep -c 'Accepted publickey' || true
	else
		cat "$LAB"/n*/sshd.log 2>/dev/null | grep -c 'Accepted publickey' || true
	fi
}
cat_ran() { cat "$(hpath n1 /var/lib/lab/ran)" "$(hpath n2 /var/lib/lab/ran)" "$(hpath n3 /var/lib/lab/ran)" 2>/dev/null; }
ran_count() { grep -c "^$2\$" "$(hpath "$1" /var/lib/lab/ran)" 2>/dev/null || echo 0; }
# khost NODE: the node's pattern in known_hosts
khost() {
	local a p
	a=$(jq -r --arg n "$1" '.hosts[$n].address' "$INV")
	p=$(jq -r --arg n "$1" '.hosts[$n].port // 22' "$INV")
	if [ "$p" = 22 ]; then echo "$a"; else echo "[$a]:$p"; fi
}

reset_lab() {
	local h
	for h in n1 n2 n3; do
		hsh "$h" 'rm -rf "$1"/* "$2"/*' /var/lib/lab /var/lib/clusterc
	done
	rm -rf "$XDG_STATE_HOME" "$W"
	mkdir -p "$W"
	cp -r "$FIX" "$W/demo"
}
# ap ARGS...: apply, output in $TMP/out, exit status in $RC
ap() {
	(cd "$W" && clusterc apply demo --inventory "$INV" --artifacts "$ART" --grace 2 "$@") \
		>"$TMP/out" 2>&1
	RC=$?
}
pl() {
	(cd "$W" && clusterc plan demo --inventory "$INV" "$@") >"$TMP/out" 2>&1
	RC=$?
}
# st ID: the step's status in the latest summary
st() { jq -r --arg id "$1" '.steps[] | select(.id == $id) | .status' "$ART/latest/summary.json"; }
statuses() { jq -r '.steps[] | "\(.id)=\(.status)"' "$ART/latest/summary.json" | tr '\n' ' '; }
expect() { # expect NAME COND-COMMAND...
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "rc=$RC $(statuses 2>/dev/null)
$(tail -n 30 "$TMP/out")"; fi
}
# rehash: after a test edits the plan by hand, the hashes a build would give
# it (the runner refuses a step whose files or entry changed after the build)
rehash() { "$REHASH" "$W/demo"; }
all_are() { # all_are STATUS: every step of the latest run has STATUS
	[ "$(jq -r --arg s "$1" '[.steps[] | select(.status != $s)] | length' \
		"$ART/latest/summary.json")" = 0 ]
}

# ---- usage
check "plan --help" clusterc plan --help
check "apply --help" clusterc apply --help
(cd "$TMP" && clusterc apply --bogus x) >"$TMP/out" 2>&1
expect "unknown option is a usage error" test $? = 2

# ---- missing inventory entry: refused before any connection
reset_lab
jq 'del(.hosts.n3)' "$INV" >"$TMP/inv-missing.json"
before=$(accepted)
rm -f "$TRACE"
(cd "$W" && clusterc apply demo --inventory "$TMP/inv-missing.json" --artifacts "$ART") \
	>"$TMP/out" 2>&1
RC=$?
expect "missing inventory entry refused" test "$RC" = 2
expect "missing entry: message names the node" grep -q "node 'n3' has no entry" "$TMP/out"
expect "missing entry: no process started, no connection" \
	test ! -s "$TRACE" -a "$(accepted)" = "$before"

# ---- a .cluster FILE is built first (into a private temp dir), then planned
if [ -f "$TOP/clusters/bare-metal.cluster" ]; then
	before=$(accepted)
	rm -f "$TRACE"
	(cd "$TMP" && TMPDIR=$TMP clusterc plan "$TOP/clusters/bare-metal.cluster" --inventory "$INV") \
		>"$TMP/out" 2>&1
	RC=$?
	expect "FILE form: builds, then refuses nodes missing from the inventory" \
		sh -c "test $RC = 2 && grep -q \"has no entry in the inventory\" '$TMP/out'"
	expect "FILE form: nothing contacted, the build dir removed" \
		sh -c "test ! -s '$TRACE' && test '$(accepted)' = '$before' && ! ls -d '$TMP'/clusterc-build-* 2>/dev/null"
fi

# ---- plan.json is validated before anything is contacted: a timeout that is
# not a whole number, a builtin this binary does not have
reset_lab
jq '(.steps[] | select(.id == "os.base@n2") | .timeout) = 1.5' "$FIX/plan.json" >"$W/demo/plan.json"
pl
expect "plan.json: a timeout that is not a whole number is refused" \
	sh -c "test $RC != 0 && grep -q \"os.base@n2': \\\"timeout\\\" must be a whole number\" '$TMP/out'"
jq '(.steps[] | select(.id == "os.base@n2")) |= (del(.script) | .builtin = "shell.anything" |
	.args = "steps/os.base.sh")' "$FIX/plan.json" >"$W/demo/plan.json"
pl
expect "plan.json: an unknown builtin is refused" \
	sh -c "test $RC != 0 && grep -q \"names an unknown builtin 'shell.anything'\" '$TMP/out'"
# A public output must be one the step produces: otherwise a step could make
# another's value (a join token) "public" and unredacted by naming it.
jq '(.steps[] | select(.id == "os.base@n2") | .public_outputs) = ["JOIN"]' "$FIX/plan.json" >"$W/demo/plan.json"
pl
expect "plan.json: a public output the step does not produce is refused" \
	sh -c "test $RC != 0 && grep -q \"os.base@n2': public output 'JOIN' is not one of its outputs\" '$TMP/out'"

# ---- end to end
reset_lab
ap
expect "e2e apply succeeds" test "$RC" = 0
expect "e2e: every step ok" all_are ok
expect "e2e: steps ran on every host" test -e "$(hpath n1 /var/lib/lab/base)" -a -e "$(hpath n2 /var/lib/lab/base)" \
	-a -e "$(hpath n3 /var/lib/lab/base)" -a -e "$(hpath n1 /var/lib/lab/apps)"
expect "e2e: secret reached the step intact on stdin" \
	test "$(cat "$(hpath n1 /var/lib/lab/token)")" = "$TOKEN"
JOINVAL=$(cat "$(hpath n2 /var/lib/lab/join)")
expect "e2e: value handed from init to both joins" \
	sh -c "grep -q 'kubeadm join 10.0.0.1:6443 --token [0-9a-f]' '$(hpath n2 /var/lib/lab/join)' && cmp -s '$(hpath n2 /var/lib/lab/join)' '$(hpath n3 /var/lib/lab/join)'"
expect "e2e: local step ran in OUTDIR/<cluster>" test -s "$W/demo/local-ran"
expect "e2e: a secret reaches only the step that declares it (on stdin), not the runner's children" \
	sh -c "test -s '$W/demo/local-env' && ! grep -q '^TOKEN=' '$W/demo/local-env' && ! grep -qF 's3cret' '$W/demo/local-env'"
expect "e2e: state recorded per step on the host" \
	test -f "$(hpath n1 /var/lib/clusterc/demo/state/kubernetes.init)" -a -f "$(hpath n2 /var/lib/clusterc/demo/state/os.base)"
expect "e2e: lock released" test ! -e "$(hpath n1 /var/lib/clusterc/demo/lock)"
expect "e2e: bundle is an atomic symlink" test -L "$(hpath n1 /var/lib/clusterc/demo/bundle)"
expect "e2e: artifacts/latest, per-step logs, summary" test -L "$ART/latest" \
	-a -f "$ART/latest/n1/kubernetes.init.log" -a -f "$ART/latest/summary.txt"
expect "e2e: events.jsonl is one JSON object per line" \
	jq -e -s 'length > 10 and all(.[]; has("event") and has("time"))' "$ART/latest/events.jsonl" >/dev/null
expect "e2e: logs carry step output" grep -q "init done" "$ART/latest/n1/kubernetes.init.log"

# ---- values and secrets: never in logs, artifacts, out/ or a command line
tok64=$(printf '%s' "$TOKEN" | base64 -w0)
join64=$(printf '%s' "$JOINVAL" | base64 -w0)
jointok=${JOINVAL##* }
leaks=$(grep -rlF -e "$TOKEN" -e "$tok64" -e "$JOINVAL" -e "$join64" -e "$jointok" -e "s3cret" "$ART" "$W/demo" 2>/dev/null)
expect "secrets and values never reach logs, artifacts or out/" test -z "$leaks"
expect "the log shows where a secret was redacted" \
	grep -q '\[redacted TOKEN\]' "$ART/latest/n1/kubernetes.init.log"
expect "the log shows where a value was redacted" \
	grep -q '\[redacted JOIN\]' "$ART/latest/n2/kubernetes.join.log"
# Redaction is for secrets: an output plan.json marks public (a public key)
# is shown as it is, where every other output is hidden.
expect "a public output (public_outputs) is shown in logs, not redacted" \
	grep -qF 'trusting: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIlabPublicHalf lab-ca' "$ART/latest/n2/kubernetes.join.log"
expect "secrets and values never on any command line (argv trace)" \
	sh -c "! grep -qF -e 's3cret' -e '$tok64' -e '$jointok' -e '$join64' '$TRACE'"
expect "argv trace shows ssh with BatchMode and pinned keys" \
	grep -q 'ssh -F [^ ]*/ssh_config -T -o BatchMode=yes.*StrictHostKeyChecking=yes.*UserKnownHostsFile' "$TRACE"

# ---- progress on a terminal (a real pseudo-terminal, script(1)): a live line
# per host with its done/total, the step it runs and for how long, the run's
# count and time, then the summary; without a terminal, plain lines only
reset_lab
hput n2 /var/lib/lab/sleep-os.base 3
(cd "$W" && TERM=xterm script -qfec "'$CLUSTERC_BIN' apply demo --inventory '$INV' --artifacts '$ART' --yes" \
	/dev/null) >"$TMP/tty.raw" 2>&1
RC=$?
hrm n2 /var/lib/lab/sleep-os.base
# The screen as lines: carriage returns and escape sequences out.
tr '\r' '\n' <"$TMP/tty.raw" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' >"$TMP/out"
expect "terminal: apply succeeds" test "$RC" = 0 -a "$(st os.base@n2)" = ok
expect "terminal: a live line per host: done/total, the running step and its time" \
	grep -qE '^  n2 +[0-9]+/[0-9]+ +os\.base@n2 \([0-9]+s\)$' "$TMP/out"
expect "terminal: a host that waits says so" grep -qE '^  n[13] +[0-9]+/[0-9]+ +(waiting|done)$' "$TMP/out"
expect "terminal: the run's count and elapsed time" grep -qE '^\[[0-9]+/8\] steps finished, [0-9]+s$' "$TMP/out"
expect "terminal: the live lines are redrawn in place (cursor up, clear)" grep -qF $'\x1b[J' "$TMP/tty.raw"
expect "terminal: the final summary with its time" \
	sh -c "grep -q '^apply: 8 ok, 0 skipped, 0 failed' '$TMP/out' && grep -qE '^time: [0-9.]+s$' '$TMP/out'"
jqe() { jq -e "$1" "$ART/latest/summary.json" >/dev/null; }
expect "terminal: summary.json has the run's time" jqe '.elapsed > 2'
reset_lab
# With the model beside plan.json (as `clusterc build` writes it), the summary
# says where things are.
cp "$TOP/out/homelab/model.json" "$W/demo/model.json"
ap
plain_ok() { test "$RC" = 0 && grep -q '^start   os.base@n2' "$TMP/out" &&
	! grep -q 'steps finished' "$TMP/out" && ! grep -q $'\x1b' "$TMP/out"; }
expect "no terminal: plain start/ok lines, no live lines, no escapes" plain_ok

where_ok() {
	grep -q '^where things are:' "$TMP/out" &&
		grep -qE '^  kubeconfig +~/\.kube/homelab\.conf' "$TMP/out" &&
		grep -qE '^  argocd +https://argocd\.k8s\.local/$' "$TMP/out" &&
		grep -qF "kubectl --kubeconfig ~/.kube/homelab.conf -n argocd get secret argocd-initial-admin-secret" "$TMP/out" &&
		grep -qE '^  grafana +http://grafana\.k8s\.local/$' "$TMP/out" &&
		grep -qE '^  matrix +http://matrix\.k8s\.local/$' "$TMP/out" &&
		grep -qE '^  address +from the pool 192\.168\.1\.192/27: kubectl .* get gateway cluster-gateway' "$TMP/out" &&
		grep -qE '^ +\(not read: k8s-control-1 is not a host of this run\)$' "$TMP/out" &&
		grep -qE '^    ADDRESS argocd\.k8s\.local grafana\.k8s\.local matrix\.k8s\.local' "$TMP/out"
}
expect "summary: where things are (kubeconfig, UIs, logins, the address command and why it was not read, /etc/hosts line)" where_ok
expect "summary.json: access, from the model" jqe '.access.kubeconfig == "~/.kube/homelab.conf" and
	([.access.services[].name] | index("argocd") != null) and .access.lb_pool == "192.168.1.192/27" and
	(.access.hostnames | test("grafana.k8s.local"))'
ap --dry-run
expect "a dry run says nothing of where things are" sh -c "test $RC = 0 && ! grep -q 'where things are' '$TMP/out'"

# ---- second apply: skips everything, fast
ran_before=$(cat_ran | wc -l)
t0=$(date +%s.%N)
ap
t1=$(date +%s.%N)
expect "re-run succeeds" test "$RC" = 0
expect "re-run skips every step" all_are skipped
expect "re-run runs nothing on hosts" test "$(cat_ran | wc -l)" = "$ran_before"
echo "    no-op re-run of 3 hosts x 8 steps: $(echo "$t1 - $t0" | bc) s"

# ---- plan: done / changed / new
pl
expect "plan: all done" grep -q "0 to run, 8 done" "$TMP/out"
jq '(.steps[] | select(.id == "os.base@n2") | .timeout) = 601' \
	"$W/demo/plan.json" >"$TMP/p.json" && cp "$TMP/p.json" "$W/demo/plan.json" && rehash
hrm n3 /var/lib/clusterc/demo/state/kubernetes.join
pl
expect "plan: changed hash shown as changed" grep -qE "changed +os.base@n2" "$TMP/out"
expect "plan: missing state shown as new" grep -qE "new +kubernetes.join@n3" "$TMP/out"
expect "plan: a needed producer is rerun" grep -qE "rerun +kubernetes.init@n1" "$TMP/out"
expect "plan: takes no lock" test ! -e "$(hpath n1 /var/lib/clusterc/demo/lock)"
ap --dry-run
expect "dry-run changes nothing" test "$RC" = 0 -a ! -f "$(hpath n3 /var/lib/clusterc/demo/state/kubernetes.join)"
ap
expect "changed steps run, the value producer re-runs for them" \
	test "$RC" = 0 -a "$(st os.base@n2)" = ok -a "$(st kubernetes.join@n3)" = ok \
	-a "$(st kubernetes.init@n1)" = ok -a "$(st os.base@n1)" = skipped

# ---- what was reviewed is what runs: a step file edited after the build is
# refused before anything is contacted, the step and the file named (without
# the check, os.base would run on fresh hosts under the reviewed hash and be
# skipped on the others)
ran_before=$(cat_ran | wc -l)
cp "$W/demo/steps/os.base.sh" "$TMP/os.base.sh"
echo 'touch /var/lib/lab/edited' >>"$W/demo/steps/os.base.sh"
: >"$TRACE"
ap
ran_after=$(cat_ran | wc -l)
expect "edited after review: refused, step and file named, nothing contacted" \
	sh -c "test $RC = 2 && grep -q \"step 'os.base@n1' does not match the hash it was reviewed under.*most recently modified: steps/os.base.sh).*What was reviewed is what runs\" '$TMP/out' && test ! -s '$TRACE' && test $ran_after = $ran_before"
cp "$TMP/os.base.sh" "$W/demo/steps/os.base.sh"

# ---- --only / --limit / --force
ap --only apps --force
expect "--only apps --force runs just the apps step" \
	test "$RC" = 0 -a "$(jq '.steps | length' "$ART/latest/summary.json")" = 1 -a "$(st apps.deploy)" = ok
ap --limit n3
expect "--limit n3 selects only n3's steps" \
	test "$RC" = 0 -a "$(jq -r '[.steps[].id] | join(",")' "$ART/latest/summary.json")" = "os.base@n3,kubernetes.join@n3"

# ---- a failing step: dependents blocked, others complete, re-run resumes
reset_lab
hput n2 /var/lib/lab/fail-kubernetes.join ""
ap
expect "failing step: exit 1" test "$RC" = 1
expect "failing step: it is failed, its dependent blocked" \
	test "$(st kubernetes.join@n2)" = failed -a "$(st apps.deploy)" = blocked
expect "failing step: other hosts complete" \
	test "$(st kubernetes.join@n3)" = ok -a "$(st os.base@n2)" = ok
expect "failing step: summary names the log" grep -q "kubernetes.join.log" "$TMP/out"
expect "failing step: its log has its stderr" \
	grep -q "failing on purpose" "$ART/latest/n2/kubernetes.join.log"
hrm n2 /var/lib/lab/fail-kubernetes.join
ap
expect "failing step: re-run resumes and completes" \
	test "$RC" = 0 -a "$(st kubernetes.join@n2)" = ok -a "$(st apps.deploy)" = ok \
	-a "$(st os.base@n2)" = skipped -a "$(st kubernetes.join@n3)" = skipped
hput n2 /var/lib/lab/fail-kubernetes.join ""
ap --force --only kubernetes
expect "failing step: a forced re-run fails" test "$RC" = 1 -a "$(st kubernetes.join@n2)" = failed
pl
expect "failing step: ... and is not done afterwards" grep -qE "new +kubernetes.join@n2" "$TMP/out"
hrm n2 /var/lib/lab/fail-kubernetes.join

# ---- a forging step: a worker prints the join command that only
# kubernetes.init produces (other nodes would join an attacker's API server)
reset_lab
hput n2 /var/lib/lab/sleep-os.base 2
hput n2 /var/lib/lab/forge-os.base JOIN
hput n3 /var/lib/lab/sleep-os.base 4
ap
expect "forged output: the forging step fails, loudly, naming the output" \
	sh -c "test $RC = 1 && test '$(st os.base@n2)' = failed && grep -q 'printed output JOIN, which plan.json does not name it the producer' '$TMP/out'"
expect "forged output: the value is not taken (n3 joins the real API server)" \
	sh -c "test '$(st kubernetes.join@n3)' = ok && grep -q 'kubeadm join 10.0.0.1:6443' '$(hpath n3 /var/lib/lab/join)' && ! grep -q forged '$(hpath n3 /var/lib/lab/join)'"
expect "forged output: the host does not record the refused step" \
	test ! -e "$(hpath n2 /var/lib/clusterc/demo/state/os.base)"
hrm n2 /var/lib/lab/forge-os.base
pl
expect "forged output: the next run runs it again" grep -qE "new +os.base@n2" "$TMP/out"

# ---- missing secret: the step fails clearly, nothing leaks
reset_lab
(unset TOKEN; cd "$W" && clusterc apply demo --inventory "$INV" --artifacts "$ART") \
	>"$TMP/out" 2>&1
RC=$?
expect "missing secret fails its step with a clear message" \
	test "$RC" = 1 -a "$(st kubernetes.init@n1)" = failed
expect "missing secret: message says how to set it" grep -q "secret TOKEN is not set" "$TMP/out"

# ---- secrets from --env FILE (the environment is not needed)
reset_lab
# As an editor on Windows saves it: a byte order mark, CRLF, `export`, blanks
# around '=' and a trailing comment, all read as build reads them (lib/dotenv).
printf '\xef\xbb\xbf# secrets\r\nexport TOKEN = "%s"  # the init token\r\n' "from-env-file-9d2" \
	>"$TMP/secrets.env"
(unset TOKEN; cd "$W" && clusterc apply demo --inventory "$INV" --artifacts "$ART" \
	--env "$TMP/secrets.env") >"$TMP/out" 2>&1
RC=$?
expect "--env FILE: the secret reaches the step" \
	sh -c "test $RC = 0 && test \"\$(cat '$(hpath n1 /var/lib/lab/token)')\" = from-env-file-9d2"
expect "--env FILE: and is redacted from its log" \
	sh -c "! grep -rq from-env-file-9d2 '$ART'"

# ---- a malformed --env FILE: refused before anything is contacted, located
reset_lab
: >"$TRACE"
printf 'TOKEN=ok\nTOKEN2 from-env-bad-4c1\n' >"$TMP/bad.env"
(unset TOKEN; cd "$W" && clusterc apply demo --inventory "$INV" --artifacts "$ART" \
	--env "$TMP/bad.env") >"$TMP/out" 2>&1
RC=$?
expect "--env FILE malformed: refused, located, nothing contacted, value not shown" \
	sh -c "test $RC != 0 && grep -q 'bad.env:2:8: expected' '$TMP/out' && test ! -s '$TRACE' &&
		! grep -q from-env-bad-4c1 '$TMP/out'"

# ---- a step that leaves a process behind holding its stdout: the step ends
# when its script ends, as the host recorded it
reset_lab
hput n2 /var/lib/lab/bg-os.base 25
t0=$(date +%s)
ap
t1=$(date +%s)
expect "background process holding stdout: the step is ok when its script ends, not after it" \
	sh -c "test $RC = 0 && test '$(st os.base@n2)' = ok && test $((t1 - t0)) -lt 15 &&
		test -f '$(hpath n2 /var/lib/clusterc/demo/state/os.base)'"
hrm n2 /var/lib/lab/bg-os.base

# ---- a slow host does not hold the others back
reset_lab
hput n3 /var/lib/lab/sleep-os.base 6
ap
ev=$ART/latest/events.jsonl
t_n1=$(jq -r 'select(.event == "ok" and .step == "kubernetes.init@n1") | .time' "$ev")
t_n3=$(jq -r 'select(.event == "ok" and .step == "os.base@n3") | .time' "$ev")
expect "slow host: run completes" test "$RC" = 0
expect "slow host: faster hosts go ahead meanwhile" \
	test "$(echo "$t_n1 < $t_n3" | bc)" = 1

# ---- per-step deadline: TERM, grace, KILL on the host
reset_lab
jq '(.steps[] | select(.id == "os.base@n2") | .timeout) = 2' "$FIX/plan.json" >"$W/demo/plan.json" && rehash
hput n2 /var/lib/lab/sleep-os.base 30
t0=$(date +%s)
ap
t1=$(date +%s)
expect "timeout: the step fails as timed out" \
	test "$RC" = 1 -a "$(st os.base@n2)" = failed
expect "timeout: message says so" grep -q "timed out after 2 s" "$TMP/out"
expect "timeout: the run does not wait for the step" test $((t1 - t0)) -lt 20
sleep 1
expect "timeout: the step was killed on the host" test ! -e "$(hpath n2 /var/lib/lab/woke-os.base)"
expect "timeout: no state recorded" test ! -e "$(hpath n2 /var/lib/clusterc/demo/state/os.base)"

# ---- a step that ignores TERM past its deadline: KILLed after the grace, and
# reported as timed out (not as exit 137)
reset_lab
jq '(.steps[] | select(.id == "os.base@n2") | .timeout) = 2' "$FIX/plan.json" >"$W/demo/plan.json" && rehash
hput n2 /var/lib/lab/sleep-os.base 30
hput n2 /var/lib/lab/noterm-os.base ""
ap
expect "timeout, TERM ignored: killed, reported as timed out" \
	sh -c "test $RC = 1 && test '$(st os.base@n2)' = failed && grep -q 'timed out after 2 s (killed: it ignored TERM)' '$TMP/out'"
hrm n2 /var/lib/lab/noterm-os.base

# ---- host killed in the middle of a step
reset_lab
hput n3 /var/lib/lab/sleep-os.base 20
(cd "$W" && exec "$CLUSTERC_BIN" apply demo --inventory "$INV" --artifacts "$ART" --grace 2 \
	--retries 1) >"$TMP/out" 2>&1 &
apid=$!
at_exit "kill $apid 2>/dev/null"
for _ in $(seq 100); do [ "$(ran_count n3 os.base)" -ge 1 ] && break; sleep 0.1; done
hkill n3
wait "$apid"
RC=$?
expect "killed host: exit 1" test "$RC" = 1
expect "killed host: its step failed (connection lost)" \
	test "$(st os.base@n3)" = failed
expect "killed host: other hosts' work completes" \
	test "$(st kubernetes.join@n2)" = ok -a "$(st kubernetes.init@n1)" = ok
expect "killed host: dependents blocked" test "$(st apps.deploy)" = blocked
hrm n3 /var/lib/lab/sleep-os.base
hstart n3
ap
expect "killed host: re-run takes over its stale lock and completes" \
	test "$RC" = 0 -a "$(st os.base@n3)" = ok -a "$(st apps.deploy)" = ok
expect "killed host: stale lock reported" grep -q "stale lock" "$TMP/out"

# ---- sshd stopped before the run: retried with backoff, failed, others finish
reset_lab
hkill n2
ap --retries 2 --connect-timeout 2
expect "sshd down: exit 1" test "$RC" = 1
expect "sshd down: retried before giving up" \
	test "$(jq -s '[.[] | select(.event == "host_retry" and .host == "n2")] | length' \
		"$ART/latest/events.jsonl")" = 2
expect "sshd down: host reported unreachable" grep -q "host n2: unreachable after 3 attempts" "$TMP/out"
expect "sshd down: the others finish" \
	test "$(st kubernetes.join@n3)" = ok -a "$(st os.base@n1)" = ok -a "$(st os.base@n2)" = failed
hstart n2
ap
expect "sshd down: re-run completes" test "$RC" = 0 -a "$(st kubernetes.join@n2)" = ok

# apply_then_signal SIG SLEEP GRACE: an apply with --grace GRACE in which
# os.base@n1 sleeps SLEEP seconds gets SIG once that step runs; sets RC, and
# core to the apply's core-size limit ("soft/hard").
apply_then_signal() {
	reset_lab
	hput n1 /var/lib/lab/sleep-os.base "$2"
	(cd "$W" && exec "$CLUSTERC_BIN" apply demo --inventory "$INV" --artifacts "$ART" --grace "$3") \
		>"$TMP/out" 2>&1 &
	local apid=$!
	for _ in $(seq 100); do [ "$(ran_count n1 os.base)" -ge 1 ] && break; sleep 0.1; done
	core=$(awk '/^Max core file size/ { print $5 "/" $6 }' "/proc/$apid/limits" 2>/dev/null)
	kill -"$1" "$apid"
	wait "$apid"
	RC=$?
}

# ---- SIGINT: running steps finish within the grace, nothing new starts
apply_then_signal INT 2 10
expect "SIGINT: exit 130" test "$RC" = 130
expect "SIGINT: the running step finished and was recorded" \
	test "$(st os.base@n1)" = ok -a -f "$(hpath n1 /var/lib/clusterc/demo/state/os.base)"
expect "SIGINT: nothing new started" test "$(st kubernetes.init@n1)" = cancelled
expect "SIGINT: locks released" test ! -e "$(hpath n1 /var/lib/clusterc/demo/lock)"
hrm n1 /var/lib/lab/sleep-os.base
ap
expect "SIGINT: re-run completes, the finished step skipped" \
	test "$RC" = 0 -a "$(st os.base@n1)" = skipped -a "$(st apps.deploy)" = ok

# ---- SIGHUP (terminal closed) and SIGQUIT (^\) stop a run the way SIGINT does;
# the runner holds secrets, so it never dumps core (RLIMIT_CORE 0)
for sig in HUP QUIT; do
	apply_then_signal "$sig" 2 10
	expect "SIG$sig: exit 130, the running step recorded, nothing new started, locks released" \
		test "$RC" = 130 -a "$(st os.base@n1)" = ok -a "$(st kubernetes.init@n1)" = cancelled \
		-a ! -e "$(hpath n1 /var/lib/clusterc/demo/lock)"
	[ "$sig" = HUP ] && expect "apply runs with a core size limit of 0 (got $core)" test "$core" = 0/0
	hrm n1 /var/lib/lab/sleep-os.base
done

# ---- SIGINT with a step that outlives the grace: killed, state consistent
apply_then_signal INT 30 1
sleep 1
expect "SIGINT past grace: step killed on the host, no state" \
	test "$RC" = 130 -a "$(st os.base@n1)" = failed -a ! -e "$(hpath n1 /var/lib/lab/woke-os.base)" \
	-a ! -e "$(hpath n1 /var/lib/clusterc/demo/state/os.base)"
hrm n1 /var/lib/lab/sleep-os.base
ap
expect "SIGINT past grace: re-run completes" test "$RC" = 0 -a "$(st os.base@n1)" = ok

# ---- reboot: the runner waits for the host to come back, then goes on
reset_lab
hput n3 /var/lib/lab/reboot-kubernetes.join ""
ap --reboot-timeout 60
expect "reboot: run completes after the host comes back" \
	test "$RC" = 0 -a "$(st apps.deploy)" = ok
expect "reboot: events record it" \
	jq -e -s 'any(.[]; .event == "reboot" and .host == "n3") and
		any(.[]; .event == "host_back" and .host == "n3")' "$ART/latest/events.jsonl" >/dev/null

# ---- host key mismatch: refused, named, nothing run there
reset_lab
kh1=$(khost n1)
k2=$(grep -F "$(khost n2) " "$LAB/known_hosts" | head -1 | cut -d' ' -f2,3)
grep -vF "$kh1 " "$LAB/known_hosts" >"$TMP/kh-bad"
echo "$kh1 $k2" >>"$TMP/kh-bad"
jq --arg kh "$TMP/kh-bad" '.hosts.n1.known_hosts = $kh' "$INV" >"$TMP/inv-badkey.json"
(cd "$W" && clusterc apply demo --inventory "$TMP/inv-badkey.json" --artifacts "$ART") \
	>"$TMP/out" 2>&1
RC=$?
expect "host key mismatch: refused" test "$RC" = 1 -a "$(st os.base@n1)" = failed
expect "host key mismatch: message names host and file" \
	grep -q "host n1: host key of $(jq -r .hosts.n1.address "$INV") not trusted.*$TMP/kh-bad" "$TMP/out"
expect "host key mismatch: nothing ran on that host" test ! -e "$(hpath n1 /var/lib/lab/ran)"
expect "host key mismatch: other hosts still run what they can" test "$(st os.base@n2)" = ok
: >"$TMP/kh-empty"
jq --arg kh "$TMP/kh-empty" '.hosts.n1.known_hosts = $kh' "$INV" >"$TMP/inv-nokey.json"
(cd "$W" && clusterc apply demo --inventory "$TMP/inv-nokey.json" --artifacts "$ART") \
	>"$TMP/out" 2>&1
expect "unknown host key: refused, never added" \
	sh -c "grep -q 'host key of .* not trusted' '$TMP/out' && test ! -s '$TMP/kh-empty'"

# ---- ProxyJump: n2 reached through n1, the jump leg held to the same pinned keys
reset_lab
a1=$(jq -r .hosts.n1.address "$INV")
p1=$(jq -r '.hosts.n1.port // 22' "$INV")
jump="root@$a1"
[ "$p1" = 22 ] || jump="$jump:$p1"
jq --arg j "$jump" '.hosts.n2.proxy_jump = $j' "$INV" >"$TMP/inv-jump.json"
rm -f "$TRACE"
(cd "$W" && clusterc apply demo --inventory "$TMP/inv-jump.json" --artifacts "$ART" --limit n2 --only os) \
	>"$TMP/out" 2>&1
RC=$?
expect "proxy_jump: n2's steps run through n1" \
	sh -c "test $RC = 0 && grep -q -- '-J $jump' '$TRACE' && test -e '$(hpath n2 /var/lib/lab/base)'"
grep -vF "$kh1 " "$LAB/known_hosts" >"$TMP/kh-nojump"
jq --arg j "$jump" --arg kh "$TMP/kh-nojump" '.hosts.n2.proxy_jump = $j |
	(.hosts[] | .known_hosts) = $kh' "$INV" >"$TMP/inv-jump-bad.json"
(cd "$W" && clusterc apply demo --inventory "$TMP/inv-jump-bad.json" --artifacts "$ART" --limit n2 --only os --force) \
	>"$TMP/out" 2>&1
RC=$?
expect "proxy_jump: an unknown jump host key is refused too" \
	sh -c "test $RC = 1 && grep -q 'not trusted' '$TMP/out'"

# ---- inventory ssh_options: operator choices go in, host-key rules stay
reset_lab
jq '.ssh_options = {KexAlgorithms: "curve25519-sha256", StrictHostKeyChecking: "no"}' "$INV" \
	>"$TMP/inv-opts.json"
(cd "$W" && clusterc apply demo --inventory "$TMP/inv-opts.json" --artifacts "$ART" --only os) \
	>"$TMP/out" 2>&1
RC=$?
expect "ssh_options: applied, a host-key rule refused" \
	sh -c "test $RC = 0 && grep -q \"ssh_options: 'StrictHostKeyChecking' ignored\" '$TMP/out'"

# ---- a lock held by another apply stops that host, with who and when
reset_lab
hput n1 /var/lib/clusterc/demo/lock/owner "othermachine 4242 bob 20261125T000000Z-4242 $(date +%s)"
ap
expect "held lock: host stopped with who and when" \
	sh -c "test $RC = 1 && grep -q 'locked by bob@othermachine (pid 4242' '$TMP/out'"
expect "held lock: nothing ran there, the lock is left alone" \
	test ! -e "$(hpath n1 /var/lib/lab/ran)" -a -f "$(hpath n1 /var/lib/clusterc/demo/lock/owner)"
hput n1 /var/lib/clusterc/demo/lock/owner \
	"othermachine 4242 bob 20261125T000000Z-4242 $(($(date +%s) - 100000))"
ap
expect "old lock: reported as stale, still refused" \
	sh -c "test $RC = 1 && grep -q 'stale (' '$TMP/out'"
ap --break-lock
expect "--break-lock takes it over" test "$RC" = 0

# ---- a live lock is not taken over from another PID namespace (a container
# on the same machine: same host name, the first apply's pid invisible there)
reset_lab
hput n1 /var/lib/lab/sleep-os.base 6
(cd "$W" && exec "$CLUSTERC_BIN" apply demo --inventory "$INV" --artifacts "$ART" --grace 2) \
	>"$TMP/out-a" 2>&1 &
apid=$!
at_exit "kill $apid 2>/dev/null"
for _ in $(seq 100); do [ "$(ran_count n1 os.base)" -ge 1 ] && break; sleep 0.1; done
(cd "$W" && exec unshare --pid --fork --mount-proc "$CLUSTERC_BIN" apply demo --inventory "$INV" \
	--artifacts "$TMP/art-b" --grace 2) >"$TMP/out" 2>&1
RC=$?
wait "$apid"
RCA=$?
expect "lock from another PID namespace: the second apply is refused, takes nothing over" \
	sh -c "test $RC != 0 && grep -q 'another apply is running' '$TMP/out' && ! grep -q 'taking over' '$TMP/out'"
expect "lock from another PID namespace: the first completes, each step ran once" \
	test "$RCA" = 0 -a "$(ran_count n1 os.base)" = 1 -a "$(ran_count n2 os.base)" = 1
hrm n1 /var/lib/lab/sleep-os.base

# ---- a runner killed mid-step (pid 1 of its own PID namespace, SIGKILL: no
# release) leaves its step running on n1: the re-run sees the live step and
# refuses; once the step is over, the lock is stale and taken over unasked
reset_lab
hput n1 /var/lib/lab/sleep-os.base 6
(cd "$W" && exec unshare --pid --fork --mount-proc "$CLUSTERC_BIN" apply demo --inventory "$INV" \
	--artifacts "$TMP/art-k" --grace 2) >"$TMP/out-k" 2>&1 &
upid=$!
at_exit "kill $upid 2>/dev/null"
for _ in $(seq 100); do [ "$(ran_count n1 os.base)" -ge 1 ] && break; sleep 0.1; done
kpid=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null)
[ -n "$kpid" ] && kill -KILL $kpid
wait "$upid"
ap
expect "orphaned step: the re-run sees it still running and refuses n1" \
	sh -c "test $RC = 1 && grep -q 'host n1: .*another apply is running (its step os.base still runs here)' '$TMP/out' &&
		test '$(ran_count n1 os.base)' = 1"
for _ in $(seq 100); do [ -e "$(hpath n1 /var/lib/lab/woke-os.base)" ] && break; sleep 0.1; done
sleep 1
ap
expect "orphaned step over: its lock (owner pid 1 in a PID namespace) is stale, taken over, the run completes" \
	sh -c "test $RC = 0 && grep -q 'host n1: taking over a stale lock' '$TMP/out' &&
		test '$(st os.base@n1)' = skipped -a '$(ran_count n1 os.base)' = 1"
hrm n1 /var/lib/lab/sleep-os.base

# ---- a lock whose owner record is empty (a full disk as it was written): stale
# once a few seconds old; a write that fails leaves no lock behind
reset_lab
hsh n1 'mkdir -p "$1" && : > "$1/owner" && touch -d "-1 minute" "$1"' /var/lib/clusterc/demo/lock
ap
expect "empty lock owner a minute old: taken over, the run completes" \
	sh -c "test $RC = 0 && grep -q 'host n1: taking over a lock with an empty owner record' '$TMP/out'"
if [ "$LABKIND" = lab ]; then
	reset_lab
	hsh n1 'mount -t tmpfs -o size=16k tmpfs "$1" && mkdir -p "$1/demo/state" "$1/demo/run" &&
		{ dd if=/dev/zero of="$1/fill" bs=4k count=64 2>/dev/null; true; }' /var/lib/clusterc
	ap
	left=$(hsh n1 'test -e "$1" && echo left' /var/lib/clusterc/demo/lock)
	expect "full disk on n1: refused with the reason, no lock left behind" \
		sh -c "test $RC = 1 && test -z '$left' && grep -q 'host n1: cannot write .*lock/owner (is the disk full?)' '$TMP/out'"
	hsh n1 'umount "$1"' /var/lib/clusterc
fi

# ---- a builtin step that "creates" a host: the host is not contacted until
# the builtin has succeeded (it runs here, its record kept here), then its
# state is read and its steps run. gitlab.deploy_key against the API mock.
MOCKPY=$TOP/tests/api/mock_server.py
if [ -f "$MOCKPY" ]; then
	python3 "$MOCKPY" "$TMP/mock.port" "$TMP/mock.log" 2>"$TMP/mock.err" &
	mpid=$!
	at_exit "kill $mpid 2>/dev/null; wait $mpid 2>/dev/null"
	for _ in $(seq 100); do [ -s "$TMP/mock.port" ] && break; sleep 0.05; done
	MOCK=http://127.0.0.1:$(cat "$TMP/mock.port")
	export GITLAB_TOKEN=glpat-RunnerLeakCheck123
	mockcfg() {
		jq -n --arg gl "$GITLAB_TOKEN" "{gitlab_token: \$gl} + ($1)" |
			curl -sf -X POST --data-binary @- "$MOCK/__mock/config" >/dev/null
	}
	jq --arg api "$MOCK/api/v4" '.gitlab = {api: $api}' "$INV" >"$TMP/inv-api.json"
	with_builtin() {
		jq '.steps = [{id: "local.key", name: "local.key", phase: "infra", host: "local",
			on: "local", script: "local/key.sh", files: ["local/key.sh"], after: [],
			hash: "sha256:k1", secrets: [], inputs: [], outputs: ["argocd_pubkey"], timeout: 60},
			{id: "infra.key@n3", name: "infra.key", phase: "infra", host: "n3", on: "node",
			builtin: "gitlab.deploy_key", args: "infra/key.json", files: ["infra/key.json"],
			after: ["local.key"], hash: "sha256:b1", secrets: ["GITLAB_TOKEN"],
			inputs: ["argocd_pubkey"], outputs: [], timeout: 60}] + .steps
		| (.steps[] | select(.id == "os.base@n3") | .after) += ["infra.key@n3"]' \
			"$FIX/plan.json" >"$W/demo/plan.json" && rehash
	}
	n3_sessions() { grep -c 'Accepted publickey' "$(hpath n3 /var/log/clusterc-lab-sshd.log)" 2>/dev/null || echo 0; }

	reset_lab
	with_builtin
	mockcfg '{gitlab_projects: {"home/infra/cluster-setup": []}, gitlab_role_ok: false}'
	b0=$(n3_sessions)
	(cd "$W" && clusterc apply demo --inventory "$TMP/inv-api.json" --artifacts "$ART") >"$TMP/out" 2>&1
	RC=$?
	expect "builtin fails: its host's steps are blocked" \
		test "$RC" = 1 -a "$(st infra.key@n3)" = failed -a "$(st os.base@n3)" = blocked \
		-a "$(st os.base@n2)" = ok
	if [ "$LABKIND" = lab ]; then
		expect "builtin fails: the host it creates is never contacted" test "$(n3_sessions)" = "$b0"
	fi
	mockcfg '{gitlab_projects: {"home/infra/cluster-setup": []}}'
	(cd "$W" && clusterc apply demo --inventory "$TMP/inv-api.json" --artifacts "$ART") >"$TMP/out" 2>&1
	RC=$?
	expect "builtin succeeds: then its host is connected and completes" \
		test "$RC" = 0 -a "$(st infra.key@n3)" = ok -a "$(st os.base@n3)" = ok -a "$(st apps.deploy)" = ok
	expect "builtin succeeds: the late host is announced" grep -q "connect n3 (created in this run)" "$TMP/out"
	expect "builtin: its record is kept on this machine under the step id" \
		test -f "$XDG_STATE_HOME/clusterc/demo/state/infra.key@n3"
	expect "builtin: the API token never reaches logs or command lines" \
		sh -c "! grep -rqF '$GITLAB_TOKEN' '$ART' '$TRACE'"
	(cd "$W" && clusterc apply demo --inventory "$TMP/inv-api.json" --artifacts "$ART") >"$TMP/out" 2>&1
	RC=$?
	expect "builtin: a re-run skips it and connects to the host at the start" \
		test "$RC" = 0 -a "$(st infra.key@n3)" = skipped -a "$(st os.base@n3)" = skipped
	unset GITLAB_TOKEN

	# ---- a VM's host key, learned through the Proxmox API: n3 plays a VM this
	# run creates. Its inventory known_hosts is empty, so only the key that
	# proxmox.hostkey read through the (mock) guest agent lets ssh in; a wrong
	# key there must stop n3, never be replaced by what the connection offers.
	: >"$TMP/kh-none"
	n3key=$(grep -F "$(khost n3) " "$LAB/known_hosts" | head -1 | cut -d' ' -f2,3)
	jq --arg api "$MOCK" --arg kh "$TMP/kh-none" \
		'.proxmox = {pve: {endpoint: $api}} | .hosts.n3.known_hosts = $kh' "$INV" >"$TMP/inv-pve.json"
	export PVE_TOKEN=2f4c1d7e-runner-hostkey-check
	pvecfg() { # pvecfg KEYFILE-CONTENT
		jq -n --arg tok "$PVE_TOKEN" --arg k "$1" \
			'{tokens: {"root@pam!clusterc": $tok},
			  vms: [{vmid: 183, name: "n3", node: "pve", status: "running"}],
			  guests: {"183": {agent_after: 1, files: {"/var/lib/clusterc/installed": "n3\n",
			  "/etc/ssh/ssh_host_ed25519_key.pub": $k}}}}' |
			curl -sf -X POST --data-binary @- "$MOCK/__mock/config" >/dev/null
	}
	with_hostkey() {
		jq -n '{proxmox: "pve", endpoint: "http://127.0.0.1:1", node: "pve",
			auth: {token_id: "root@pam!clusterc", token_secret: "PVE_TOKEN"},
			vm: {name: "n3", vmid: 183}, marker: "/var/lib/clusterc/installed",
			key_file: "/etc/ssh/ssh_host_ed25519_key.pub", install_timeout_s: 30, poll_s: 1}' \
			>"$W/demo/infra/hostkey.json"
		jq '.steps = [{id: "infra.hostkey@n3", name: "infra.hostkey", phase: "infra", host: "n3",
			on: "node", builtin: "proxmox.hostkey", args: "infra/hostkey.json",
			files: ["infra/hostkey.json"], after: [], hash: "sha256:h1", secrets: ["PVE_TOKEN"],
			inputs: [], outputs: ["host_key"], timeout: 60}] + .steps
		| (.steps[] | select(.id == "os.base@n3") | .after) += ["infra.hostkey@n3"]' \
			"$FIX/plan.json" >"$W/demo/plan.json" && rehash
	}
	reset_lab
	rm -f "$XDG_STATE_HOME/clusterc/demo/known_hosts.learned"
	with_hostkey
	pvecfg "$n3key root@n3"
	(cd "$W" && clusterc apply demo --inventory "$TMP/inv-pve.json" --artifacts "$ART") >"$TMP/out" 2>&1
	RC=$?
	expect "hostkey: the key read through the API is pinned, and n3 is reached with strict checking" \
		test "$RC" = 0 -a "$(st infra.hostkey@n3)" = ok -a "$(st os.base@n3)" = ok
	expect "hostkey: pinned in the private state folder, one line for n3" \
		sh -c "test \"\$(grep -c . '$XDG_STATE_HOME/clusterc/demo/known_hosts.learned')\" = 1 &&
			grep -qF '$(khost n3) $n3key' '$XDG_STATE_HOME/clusterc/demo/known_hosts.learned'"
	expect "hostkey: the ssh argv still says StrictHostKeyChecking=yes, never accept-new" \
		sh -c "grep -q 'StrictHostKeyChecking=yes' '$TRACE' && ! grep -q 'accept-new' '$TRACE'"
	expect "hostkey: the API token never reaches logs or command lines" \
		sh -c "! grep -rqF '$PVE_TOKEN' '$ART' '$TRACE'"
	# The VM is rebuilt with another key, but the API reports a third one: the
	# old pin is replaced by the API's, and the connection's own key is refused.
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/other" >/dev/null
	pvecfg "$(cat "$TMP/other.pub")"
	(cd "$W" && clusterc apply demo --inventory "$TMP/inv-pve.json" --artifacts "$ART" --force) >"$TMP/out" 2>&1
	RC=$?
	expect "hostkey: a key that is not the host's stops n3 (no trust on first use)" \
		test "$RC" = 1 -a "$(st os.base@n3)" != ok
	expect "hostkey: ... the message says nothing is trusted on first use and where keys come from" \
		sh -c "grep -q 'Nothing is trusted on first use' '$TMP/out' && grep -q 'infra.hostkey' '$TMP/out'"
	expect "hostkey: ... and the pin was replaced, not added to" \
		sh -c "test \"\$(grep -c . '$XDG_STATE_HOME/clusterc/demo/known_hosts.learned')\" = 1 &&
			! grep -qF '$n3key' '$XDG_STATE_HOME/clusterc/demo/known_hosts.learned'"
	rm -f "$XDG_STATE_HOME/clusterc/demo/known_hosts.learned"
	unset PVE_TOKEN
fi

# ---- kept masters (issue 13): a later plan or apply uses the master the last
# run left (no new key exchange), in a private directory; a changed pin or
# config is never served by an old master; disconnect closes them.
kdir() { ls -d "$XDG_RUNTIME_DIR"/clusterc/*/ 2>/dev/null | head -n 1; }
ksockets() { find "$XDG_RUNTIME_DIR/clusterc" -type s 2>/dev/null | sort; }
kalive() { local s n=0; for s in $(ksockets); do
	ssh -F /dev/null -o ControlPath="$s" -O check kept >/dev/null 2>&1 && n=$((n + 1)); done; echo $n; }
kept_close
rm -rf "$XDG_RUNTIME_DIR/clusterc"
reset_lab
ap --yes
expect "kept: a run leaves one master per host, in a 0700 directory of this user" \
	sh -c "test $RC = 0 && test \"\$(stat -c %a:%u '$(kdir)')\" = 700:$(id -u) &&
		test \"\$(stat -c %a '$XDG_RUNTIME_DIR/clusterc')\" = 700 && test $(kalive) = 3"
expect "kept: ControlPersist bounded (600 s), StrictHostKeyChecking=yes unchanged" \
	sh -c "grep -q 'ControlPersist=600' '$TRACE' && grep -q 'StrictHostKeyChecking=yes' '$TRACE' &&
		! grep -q 'ControlPersist=yes' '$TRACE'"
before=$(accepted)
socks=$(ksockets)
ap --yes
expect "kept: a second apply reuses every master (no new ssh session accepted)" \
	sh -c "test $RC = 0 && test '$(accepted)' = '$before' && test '$(ksockets)' = '$socks'"
pl
expect "kept: plan uses them too" sh -c "test $RC = 0 && test '$(accepted)' = '$before'"
# A changed pin: n1's line in known_hosts replaced by another key. The old
# master must not be asked (it would not check the key again): a new one is
# opened, refused by ssh, and the old one is closed.
cp "$LAB/known_hosts" "$TMP/kh.good"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/kh-other" >/dev/null 2>&1
grep -vF "$(khost n1) " "$TMP/kh.good" >"$LAB/known_hosts"
echo "$(khost n1) $(cut -d' ' -f1,2 "$TMP/kh-other.pub")" >>"$LAB/known_hosts"
ap --yes --force
expect "kept: a changed pin is not served by the old master (n1 refused)" \
	sh -c "test $RC != 0 && grep -q 'host key of .* not trusted' '$TMP/out' && test $(kalive) -lt 3"
cp "$TMP/kh.good" "$LAB/known_hosts"
ap --yes
expect "kept: the pin restored, the run connects anew and succeeds" test "$RC" = 0
chmod 755 "$(kdir)"
before=$(accepted)
ap --yes
expect "kept: a directory others can read is refused (the run keeps nothing)" \
	sh -c "test $RC = 0 && grep -q 'not kept for the next run: .* has mode 0755' '$TMP/out' &&
		test '$(accepted)' -gt '$before'"
chmod 700 "$(kdir)"
(cd "$W" && clusterc disconnect demo) >"$TMP/out" 2>&1
RC=$?
expect "kept: disconnect closes every master and removes the directory" \
	sh -c "test $RC = 0 && grep -q '3 connections of cluster demo closed' '$TMP/out' &&
		test -z '$(ksockets)' && test -z '$(kdir)'"
CLUSTERC_SSH_KEEP=0 ap --yes
expect "kept: CLUSTERC_SSH_KEEP=0 keeps none" sh -c "test $RC = 0 && test -z '$(ksockets)'"

# ---- a step that prints without end: the run's memory and the step's log stay
# bounded; the log keeps its first and last lines and says what was dropped
reset_lab
hput n2 /var/lib/lab/flood-os.base 48
ap
log=$ART/latest/n2/os.base.log
expect "flood: a step printing 48 MiB succeeds; its log keeps 8 MiB, its first and last lines, and names the cut" \
	sh -c "test $RC = 0 && test \$(stat -c %s '$log') -lt $((9 << 20)) && grep -qx 'flood begins' '$log' &&
		grep -qx 'flood ends' '$log' && grep -q '^\[clusterc: output dropped here' '$log' &&
		grep -q 'bytes of this step.s output were dropped from the middle' '$log'"
hrm n2 /var/lib/lab/flood-os.base

# ---- a full artifacts disk (a one-page tmpfs, filled, in a mount namespace of
# its own): the steps run, the first failed write is named at once, and the
# run exits 1, not 0 with its logs silently missing
full=$TMP/full-artifacts
mkdir -p "$full"
reset_lab
(cd "$W" && unshare -m bash -c 'mount -t tmpfs -o size=4k tmpfs "$1" &&
	{ dd if=/dev/zero of="$1/fill" bs=4k count=1 status=none || true; } &&
	exec "$2" apply demo --inventory "$3" --artifacts "$1" --grace 2' _ "$full" "$CLUSTERC_BIN" "$INV") >"$TMP/out" 2>&1
RC=$?
ran=$(cat_ran | wc -l)
expect "full artifacts disk: the steps run, the lost log is named, and the run exits 1" \
	sh -c "test $RC = 1 && test $ran -gt 0 &&
		grep -q 'warning: cannot write .*: No space left on device; this run.s logs are incomplete' '$TMP/out' &&
		grep -q 'this run exits 1 so that its missing logs are noticed' '$TMP/out'" 
ap
expect "... and the run after it, with space, exits 0 and skips what the first one did" \
	sh -c "test $RC = 0 && grep -q 'skip' '$TMP/out'"

# ---- artifacts are pruned to --keep-runs
ap --keep-runs 2
expect "old runs pruned to --keep-runs" \
	test "$(find "$ART" -maxdepth 1 -name '20*' -type d | wc -l)" = 2

# ---- clusterc status (its own lab host: tests/runner/status.sh); its counts join this area's
bash "$TOP/tests/runner/status.sh" >"$TMP/status.log" 2>&1
grep -v '^[0-9]* passed, [0-9]* failed$' "$TMP/status.log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/status.log" | tail -n 1)
if [ -n "$line" ]; then
	T_PASSED=$((T_PASSED + ${line%% passed*}))
	n=${line#*passed, }
	T_FAILED=$((T_FAILED + ${n%% failed*}))
else
	fail "status tests printed no summary" "$(tail -n 20 "$TMP/status.log")"
fi

finish
