#!/usr/bin/env bash
# tests/bench/run.sh [machine] [runner] [frontend]: `make bench`. Measures, and
# rewrites the named sections of BENCHMARKS.md (all three by default) with the
# exact commands, the numbers and the machine facts. Numbers are only ever
# measured here, never typed in: a tool that cannot run gets "not measured yet".
#
#   runner    issues 5 and 13: plain ssh fan-out, parallel-ssh, ansible-playbook
#             and clusterc apply (cold, and with kept connections) on the same
#             lab hosts, 1/10/50/100/200 hosts x 5 steps (above BENCH_BIG=50
#             only ssh and clusterc), first run and no-op re-run (hyperfine
#             medians; peak memory, descriptors, processes from 50 hosts up)
#   frontend  issue 2: clusterc check on generated 10..10,000-node clusters,
#             wall time and peak RSS; clusterc build of 1,000 and 10,000 nodes
#             against cp -r of its output
# Knobs: BENCH_SIZES="1 10 50 100 200"  BENCH_BIG=50  BENCH_RUNS=3  BENCH_RUNS_50=2
#        BENCH_RUNS_100=1  BENCH_BUILD_SIZES="1000 10000"  BENCH_BUILD_RUNS=1  BENCH_RUNS_ANSIBLE=2
#        BENCH_RUNS_ANSIBLE_10=1  BENCH_RUNS_ANSIBLE_50=1 (Ansible takes ~100 s per 50-host run)
#        BENCH_FE_SIZES="10 100 1000 10000"  BENCH_OUT=BENCHMARKS.md
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
BENCH=$TOP/tests/bench
OUT=${BENCH_OUT:-$TOP/BENCHMARKS.md}
SIZES=${BENCH_SIZES:-1 10 50 100 200}
# Above this many hosts only the plain ssh fan-out and clusterc run (issue 13).
BIG=${BENCH_BIG:-50}
RUNS=${BENCH_RUNS:-3}
RUNS_50=${BENCH_RUNS_50:-2}
RUNS_100=${BENCH_RUNS_100:-1}
RUNS_ANSIBLE=${BENCH_RUNS_ANSIBLE:-2}
RUNS_ANSIBLE_10=${BENCH_RUNS_ANSIBLE_10:-1}
RUNS_ANSIBLE_50=${BENCH_RUNS_ANSIBLE_50:-1}
FE_SIZES=${BENCH_FE_SIZES:-10 100 1000 10000}
BUILD_SIZES=${BENCH_BUILD_SIZES:-1000 10000}
BUILD_RUNS=${BENCH_BUILD_RUNS:-1}
PY=/usr/bin/python3
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(machine runner frontend)
want() { local p; for p in "${parts[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
log() { echo "bench: $*" >&2; }
T0=$(date +%s)
# A snapshot of the binary: other work may rebuild ./clusterc while this runs.
if [ -x "$CLUSTERC_BIN" ]; then
	cp "$CLUSTERC_BIN" "$TMP/clusterc"
	CLUSTERC_BIN=$TMP/clusterc
fi

if ! command -v hyperfine >/dev/null 2>&1; then
	echo "bench: hyperfine is missing (Debian: apt-get install hyperfine); nothing measured" >&2
	exit 1
fi

# ---------------------------------------------------------------- output
# Replaces the section NAME of BENCHMARKS.md with the file $2 (between
# <!-- bench:NAME begin/end --> markers), creating the file when needed.
put_section() {
	local name=$1 body=$2
	[ -f "$OUT" ] || cat >"$OUT" <<'EOF'
# Benchmarks

Written by `make bench` (tests/bench/run.sh); every number below was measured by
that script on the machine described, never typed in. `bash tests/bench/run.sh
runner` (or `frontend`, `machine`) refreshes one section.

<!-- bench:machine begin -->
<!-- bench:machine end -->

<!-- bench:runner begin -->
<!-- bench:runner end -->

<!-- bench:frontend begin -->
<!-- bench:frontend end -->
EOF
	"$PY" - "$OUT" "$name" "$body" <<'EOF'
import sys
path, name, body = sys.argv[1:]
text = open(path).read()
b, e = f"<!-- bench:{name} begin -->", f"<!-- bench:{name} end -->"
new = open(body).read().rstrip("\n")
if b in text and e in text:
    head, rest = text.split(b, 1)
    _, tail = rest.split(e, 1)
    text = f"{head}{b}\n{new}\n{e}{tail}"
else:
    text = text.rstrip("\n") + f"\n\n{b}\n{new}\n{e}\n"
open(path + ".tmp", "w").write(text)
import os
os.replace(path + ".tmp", path)
EOF
}

# hyperfine JSON -> "median min max user+sys runs" (seconds)
hf_stats() {
	"$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.6f %.6f %.6f %.6f %d" % (r["median"], r["min"], r["max"], r["user"] + r["system"], len(r["times"])))' "$1"
}

# ---------------------------------------------------------------- machine
machine_section() {
	local f=$TMP/machine.md
	{
		echo "## Machine"
		echo
		echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') at commit \`$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)\`$(git -C "$TOP" diff --quiet 2>/dev/null || echo ' (with uncommitted changes in the tree)')."
		echo
		echo "| fact | value |"
		echo "|---|---|"
		echo "| CPU | $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores online |"
		echo "| memory | $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
		echo "| kernel | $(uname -sr) |"
		echo "| OS | $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"') |"
		echo "| OpenSSH | $(ssh -V 2>&1) |"
		echo "| ansible-core | $(ansible-playbook --version 2>/dev/null | head -n 1 | sed 's/^ansible-playbook //') (Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())')) |"
		echo "| parallel-ssh | $(parallel-ssh --version 2>&1 | head -n 1) |"
		echo "| hyperfine | $(hyperfine --version 2>&1) |"
		echo "| clusterc | $("$CLUSTERC_BIN" version 2>/dev/null | head -n 1 || echo 'not built') (a copy of ./clusterc as built $(date -u -r "$TOP/clusterc" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?')) |"
	} >"$f"
	put_section machine "$f"
}

# ---------------------------------------------------------------- runner (issue 5)
LAB=$TMP/lab
W=$TMP/w
hosts_upto() { local i; for ((i = 1; i <= $1; i++)); do printf 'host%d ' "$i"; done; }

# Counts, over hosts 1..N, the hosts where all five steps took effect, and
# the "apt-get install" lines in the shim logs (a no-op run adds none).
state_ok() {
	local n=$1 i c=0 u
	for ((i = 1; i <= n; i++)); do
		u=$LAB/host$i/upper
		if [ -f "$u/etc/bench/app.conf" ] && [ -f "$u/etc/sysctl.d/90-bench.conf" ] &&
			grep -q '^bench-tool ' "$u/var/lib/clusterc-lab/dpkg/installed" 2>/dev/null &&
			grep -qx bench "$u/var/lib/clusterc-lab/systemd/active" 2>/dev/null; then
			c=$((c + 1))
		fi
	done
	echo "$c"
}
installs() {
	local n=$1 i
	for ((i = 1; i <= n; i++)); do cat "$LAB/host$i/upper/var/log/clusterc-shims.log" 2>/dev/null; done |
		grep -c '^apt-get install' || true
}

# Handshake cost: 10 sequential fresh connections, client CPU per connection.
handshake() {
	local kex=$1 f=$TMP/hs.time
	local opts=(-F "$LAB/ssh_config" -o ControlMaster=no -o ControlPath=none)
	[ "$kex" = default ] || opts+=(-o "KexAlgorithms=$kex")
	/usr/bin/time -f '%e %U %S' -o "$f" bash -c 'for _ in 1 2 3 4 5 6 7 8 9 10; do ssh "$@" host1 true || exit 1; done' _ "${opts[@]}" || return 1
	awk '{ printf "%.0f ms wall, %.0f ms client CPU", $1 * 100, ($2 + $3) * 100 }' "$f"
}

clusterc_apply_works() {
	# A 1-host, 5-step plan: apply must succeed, then skip all 5.
	local d=$TMP/smoke out
	rm -rf "$d"
	bash "$BENCH/make-plan.sh" "$BENCH/steps" "$d/plan" host1 || return 1
	bash "$BENCH/reset-hosts.sh" "$LAB" host1
	if ! out=$("$CLUSTERC_BIN" apply "$d/plan" --inventory "$LAB/inventory.json" --yes -q --artifacts "$d/art" 2>&1); then
		echo "first apply failed: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
		return 1
	fi
	if ! out=$("$CLUSTERC_BIN" apply "$d/plan" --inventory "$LAB/inventory.json" --yes -q --artifacts "$d/art" 2>&1); then
		echo "second apply failed: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
		return 1
	fi
	if [ "$(state_ok 1)" != 1 ]; then
		echo "apply reported success but the steps' effects are missing on host1"
		return 1
	fi
	return 0
}

runner_section() {
	local f=$TMP/runner.md max=0 n
	for n in $SIZES; do [ "$n" -gt "$max" ] && max=$n; done
	mkdir -p "$W"
	log "lab: starting $max hosts"
	local up0 up_s
	up0=$(date +%s.%N)
	if ! bash "$TOP/tests/lab/lab.sh" up "$max" "$LAB" >"$TMP/lab-up.log" 2>&1; then
		cat "$TMP/lab-up.log" >&2
		{ echo "## Runner comparison (issue 5)"; echo; echo "not measured: the lab did not start ($(tail -n 1 "$TMP/lab-up.log"))"; } >"$f"
		put_section runner "$f"
		return 1
	fi
	at_exit "bash '$TOP/tests/lab/lab.sh' down '$LAB'"
	up_s=$(awk -v a="$up0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

	local cc_status cc_ok=0
	if [ ! -x "$CLUSTERC_BIN" ]; then
		cc_status="./clusterc is not built"
	elif ! "$CLUSTERC_BIN" apply --help >/dev/null 2>&1; then
		cc_status="\`clusterc apply\` does not exist yet"
	elif cc_status=$(clusterc_apply_works); then
		cc_ok=1
		cc_status="works"
	fi
	log "clusterc apply: $cc_status"
	local kex hs_default hs_classic
	kex=$(ssh -v -F "$LAB/ssh_config" host1 true 2>&1 | sed -n 's/.*kex: algorithm: //p' | head -n 1 | tr -d '\r\n')
	hs_default=$(handshake default)
	hs_classic=$(handshake curve25519-sha256)
	# The same 10 (or fewer) parallel connections from one session, and with
	# every ssh in a session of its own (what parallel-ssh does).
	local ag_n=10 ag_hosts ag_one ag_own
	[ "$max" -lt 10 ] && ag_n=$max
	ag_hosts=$(hosts_upto "$ag_n")
	# shellcheck disable=SC2016 # expanded by the inner bash
	ag_one=$(/usr/bin/time -f %e bash -c 'for h in $2; do ssh -F "$1" "$h" true </dev/null & done; wait' _ "$LAB/ssh_config" "$ag_hosts" 2>&1 | tail -n 1)
	# shellcheck disable=SC2016 # expanded by the inner bash
	ag_own=$(/usr/bin/time -f %e bash -c 'for h in $2; do setsid -w ssh -F "$1" "$h" true </dev/null & done; wait' _ "$LAB/ssh_config" "$ag_hosts" 2>&1 | tail -n 1)

	declare -A MED MIN MAX CPU NR NOTE CMD LOAD
	local rc
	local tools=(ssh ssh1 sshc pssh ansible clusterc clusterck) tool kind hosts cmd prep runs json before after
	# clusterc keeps its ssh masters between runs (compiler/run/ssh_keep.h): in a
	# private directory of the bench's, all closed at exit. "clusterc" is the
	# cold run (clusterc disconnect before each), "clusterck" the run a
	# minute after the last (masters kept).
	export XDG_RUNTIME_DIR=$W/rt
	mkdir -m 700 "$XDG_RUNTIME_DIR"
	at_exit "for p in $W/plan.*; do '$CLUSTERC_BIN' disconnect -q \"\$p\"; done 2>/dev/null"
	declare -A PEAK
	for n in $SIZES; do
		hosts=$(hosts_upto "$n")
		# shellcheck disable=SC2086 # a list of host names
		printf '%s\n' $hosts >"$W/hosts.$n"
		mkdir -p "$W/ans.$n"
		cat >"$W/ans.$n/ansible.cfg" <<EOF
[defaults]
forks = $n
host_key_checking = True
interpreter_python = /usr/bin/python3
gathering = explicit
retry_files_enabled = False
deprecation_warnings = False
[ssh_connection]
pipelining = True
ssh_args = -F $LAB/ssh_config -o ControlMaster=auto -o ControlPersist=2s
EOF
		{ echo "[bench]"; cat "$W/hosts.$n"; echo "[bench:vars]"; echo "steps_dir=$BENCH/steps"; } >"$W/ans.$n/hosts.ini"
		cp "$BENCH/playbook.yml" "$W/ans.$n/"
		# shellcheck disable=SC2086
		bash "$BENCH/make-plan.sh" "$BENCH/steps" "$W/plan.$n" $hosts
		prep="bash $BENCH/reset-hosts.sh $LAB $hosts"
		for tool in "${tools[@]}"; do
			case $tool in
			ssh) cmd="bash $BENCH/fanout-ssh.sh $LAB/ssh_config $BENCH/steps $hosts" ;;
			ssh1) cmd="FANOUT_SETSID=0 bash $BENCH/fanout-ssh.sh $LAB/ssh_config $BENCH/steps $hosts" ;;
			sshc) cmd="FANOUT_SSH_OPTS='-o KexAlgorithms=curve25519-sha256' bash $BENCH/fanout-ssh.sh $LAB/ssh_config $BENCH/steps $hosts" ;;
			pssh) cmd="bash $BENCH/pssh.sh $LAB/ssh_config $BENCH/steps $W/hosts.$n $n" ;;
			ansible) cmd="bash $BENCH/ansible.sh $W/ans.$n" ;;
			clusterc | clusterck) cmd="$CLUSTERC_BIN apply $W/plan.$n --inventory $LAB/inventory.json --yes -q -j $n --artifacts $W/artifacts" ;;
			esac
			CMD[$tool.$n]=$cmd
			# The classic-KEX floor only at 50 hosts (or the largest size below): it answers one question.
			[ "$tool" = sshc ] && [ "$n" != "$((max < BIG ? max : BIG))" ] && continue
			case $tool in ssh1 | sshc | pssh | ansible) [ "$n" -gt "$BIG" ] && continue ;; esac
			local cold=
			[ "$tool" = clusterc ] && cold="$CLUSTERC_BIN disconnect -q $W/plan.$n"
			local need=
			case $tool in pssh) need=parallel-ssh ;; ansible) need=ansible-playbook ;; esac
			if [ -n "$need" ] && ! command -v "$need" >/dev/null 2>&1; then
				NOTE[$tool.$n.first]="not measured: $need is not installed"
				NOTE[$tool.$n.noop]="not measured: $need is not installed"
				continue
			fi
			if [ "${tool%k}" = clusterc ] && [ "$cc_ok" != 1 ]; then
				NOTE[$tool.$n.first]="not measured yet"
				NOTE[$tool.$n.noop]="not measured yet"
				continue
			fi
			runs=$RUNS
			[ "$n" -ge 50 ] && runs=$RUNS_50
			[ "$n" -ge 100 ] && runs=$RUNS_100
			if [ "$tool" = ansible ]; then
				runs=$RUNS_ANSIBLE
				[ "$n" -ge 10 ] && runs=$RUNS_ANSIBLE_10
				[ "$n" -ge 50 ] && runs=$RUNS_ANSIBLE_50
			fi
			for kind in first noop; do
				json=$W/$tool.$n.$kind.json
				log "$tool, $n hosts, $kind run x$runs ($(($(date +%s) - T0)) s so far)"
				before=$(installs "$n")
				LOAD[$tool.$n.$kind]=$(cut -d' ' -f1 /proc/loadavg)
				# Kept connections: open (or renew) them before timing.
				[ "$tool" = clusterck ] && "$CLUSTERC_BIN" plan "$W/plan.$n" --inventory "$LAB/inventory.json" >/dev/null 2>&1
				local pre=$prep
				[ "$kind" = first ] || pre=true
				[ -n "$cold" ] && pre="$pre; $cold"
				if [ "$kind" = first ]; then
					# shellcheck disable=SC2086 # a list of host names
					bash "$BENCH/reset-hosts.sh" "$LAB" $hosts
				fi
				hyperfine -s bash --runs "$runs" --prepare "$pre" --export-json "$json" "$cmd" >"$W/hf.log" 2>&1
				rc=$?
				# One more run, sampled: peak memory, descriptors, processes (n >= 50).
				if [ $rc -eq 0 ] && [ "$n" -ge 50 ] && { [ "$tool" = ssh ] || [ "$tool" = clusterc ] || [ "$tool" = clusterck ]; }; then
					bash -c "$pre" >/dev/null 2>&1
					PEAK[$tool.$n.$kind]=$("$PY" "$BENCH/peak.py" "$cmd")
					echo "$tool.$n.$kind ${PEAK[$tool.$n.$kind]}" >>"$W/peaks"
					[ "$kind" = first ] && before=$((before + n))
				fi
				after=$(installs "$n")
				if [ $rc -ne 0 ]; then
					NOTE[$tool.$n.$kind]="**failed**: $(grep -m 1 -iE 'refused|error|fail|timed out|denied' "$W/hf.log" | tr -d '|`' | cut -c1-120)"
					log "$tool failed: $(tail -n 5 "$W/hf.log")"
					continue
				fi
				read -r "MED[$tool.$n.$kind]" "MIN[$tool.$n.$kind]" "MAX[$tool.$n.$kind]" "CPU[$tool.$n.$kind]" "NR[$tool.$n.$kind]" < <(hf_stats "$json")
				if [ "$(state_ok "$n")" != "$n" ]; then
					NOTE[$tool.$n.$kind]="wrong result: the steps' effects are missing on some hosts"
				elif [ "$kind" = first ] && [ $((after - before)) -ne $((runs * n)) ]; then
					NOTE[$tool.$n.$kind]="wrong result: $((after - before)) package installs for $runs runs x $n hosts"
				elif [ "$kind" = noop ] && [ "$after" -ne "$before" ]; then
					NOTE[$tool.$n.$kind]="wrong result: a no-op run installed packages"
				fi
			done
		done
	done

	# ---- the section
	cell() { # tool n kind
		local k=$1.$2.$3
		if [ -n "${NOTE[$k]:-}" ] && [ -z "${MED[$k]:-}" ]; then echo "${NOTE[$k]}"; return; fi
		if [ -z "${MED[$k]:-}" ]; then echo "-"; return; fi
		local s r
		s=${MED[$k]}
		r=$(awk -v a="$s" -v b="${MED[ssh.$2.$3]:-0}" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else printf "?" }')
		printf '%.2f s (%s)%s' "$s" "$r" "${NOTE[$k]:+ ${NOTE[$k]}}"
	}
	{
		echo "## Runner comparison (issues 5 and 13)"
		echo
		echo "Five dependent steps per host (tests/bench/steps/step1..5.sh: small idempotent bash"
		echo "scripts that check before they act: directories, a config file, a package through the"
		echo "lab's apt-get/dpkg shims, a sysctl drop-in, a service through the systemctl shim), the"
		echo "same scripts for every tool, on the same lab hosts (tests/lab: network namespaces with"
		echo "their own addresses, overlays of /, real sshd, root login with an ed25519 key, host keys"
		echo "pinned with StrictHostKeyChecking=yes). **First run**: hosts reset before every run (not"
		echo "timed). **No-op re-run**: the same command again on hosts where everything is done."
		echo "Every run opens its connections anew (clusterc apply: \`clusterc disconnect\` before each"
		echo "run), except in the last column: clusterc apply a moment after an earlier run, whose ssh"
		echo "masters it kept (ControlPersist, a private 0700 directory; issue 13)."
		if [ "$BIG" -gt 0 ]; then
			echo "Above $BIG hosts only the plain ssh fan-out and clusterc run (Ansible takes minutes there)."
		else
			echo "Only the plain ssh fan-out and clusterc ran (BENCH_BIG=0)."
		fi
		echo "Times are hyperfine medians of the stated number of runs, wall clock; in brackets the"
		echo "ratio to plain ssh in the same row. The hosts' CPU (sshd, bash, python) shares the same"
		echo "2 cores with the client."
		echo
		echo "| hosts | run | plain ssh fan-out | ssh fan-out, one session | parallel-ssh | ansible-playbook | clusterc apply | clusterc apply, kept connections |"
		echo "|---|---|---|---|---|---|---|---|"
		for n in $SIZES; do
			for kind in first noop; do
				printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$([ "$kind" = first ] && echo "first run" || echo "no-op re-run")" \
					"$(cell ssh "$n" "$kind")" "$(cell ssh1 "$n" "$kind")" "$(cell pssh "$n" "$kind")" "$(cell ansible "$n" "$kind")" "$(cell clusterc "$n" "$kind")" "$(cell clusterck "$n" "$kind")"
			done
		done
		echo
		echo "Peaks of one more run per cell (tests/bench/peak.py, sampled every 0.1 s over the tool's"
		echo "process tree: the tool and every ssh it started that is still attached to it; a kept"
		echo "master, a daemon, is not in it): resident memory summed over the tree, open descriptors"
		echo "summed, processes. A run that failed says so."
		echo
		echo "| cell | exit status | wall | peak RSS (sum) | peak open descriptors | peak processes |"
		echo "|---|---|---|---|---|---|"
		for n in $SIZES; do for tool in ssh clusterc clusterck; do for kind in first noop; do
			local k=$tool.$n.$kind
			[ -n "${PEAK[$k]:-}" ] || continue
			read -r p_rc p_wall p_rss p_fds p_procs <<<"${PEAK[$k]}"
			printf '| %s, %s hosts, %s | %s | %s s | %s MiB | %s | %s |\n' "$tool" "$n" "$kind" \
				"$([ "$p_rc" = 0 ] && echo 0 || echo "**$p_rc (failed)**")" "$p_wall" "$p_rss" "$p_fds" "$p_procs"
		done; done; done
		echo
		echo "Runs per cell, min-max and client CPU (user+system of the tool and its ssh"
		echo "processes, per run; the hosts' side is not in it):"
		echo
		echo "| cell | runs | median | min | max | client CPU | load avg at start |"
		echo "|---|---|---|---|---|---|---|"
		for n in $SIZES; do for tool in "${tools[@]}"; do for kind in first noop; do
			local k=$tool.$n.$kind
			[ -n "${MED[$k]:-}" ] || continue
			printf '| %s, %s hosts, %s | %s | %.2f s | %.2f s | %.2f s | %.2f s | %s |\n' "$tool" "$n" "$kind" "${NR[$k]}" "${MED[$k]}" "${MIN[$k]}" "${MAX[$k]}" "${CPU[$k]}" "${LOAD[$k]}"
		done; done; done
		echo
		echo "### What it means"
		echo
		echo "- SSH handshakes dominate the floor. This OpenSSH negotiates \`$kex\` by default (a"
		echo "  post-quantum hybrid key exchange). Measured here, 10 sequential fresh \`ssh host true\`:"
		echo "  default KEX ${hs_default:-not measured} per connection; with"
		echo "  \`KexAlgorithms=curve25519-sha256\` ${hs_classic:-not measured} per connection. So one"
		echo "  handshake costs on the order of 0.1 s of client CPU, and the server side about as much"
		echo "  again on the same 2 cores: 50 hosts cost several seconds of CPU before any step runs, for"
		echo "  every tool. Connection reuse within a run (ControlMaster) is what keeps 5 steps from"
		echo "  costing 5 handshakes."
		if [ -n "${MED[sshc.$max.first]:-}" ]; then
			echo "- The same ssh fan-out at $max hosts with \`-o KexAlgorithms=curve25519-sha256\` (classic"
			echo "  key exchange): first run $(printf '%.2f' "${MED[sshc.$max.first]}") s, no-op re-run $(printf '%.2f' "${MED[sshc.$max.noop]:-0}") s"
			echo "  (default KEX: $(printf '%.2f' "${MED[ssh.$max.first]:-0}") s and $(printf '%.2f' "${MED[ssh.$max.noop]:-0}") s)."
		fi
		local c50f=${MED[clusterc.50.first]:-} s50f=${MED[ssh.50.first]:-} a50f=${MED[ansible.50.first]:-} c50n=${MED[clusterc.50.noop]:-}
		local o50f=${MED[ssh1.50.first]:-} s50n=${MED[ssh.50.noop]:-}
		if [ -n "$c50f" ] && [ -n "$s50f" ]; then
			echo "- Issue 5 targets, at 50 hosts: clusterc's first run takes $(awk -v a="$c50f" -v b="$s50f" 'BEGIN { printf "%.2fx", a / b }') the plain ssh"
			echo "  fan-out's time ($( [ -n "$o50f" ] && awk -v a="$c50f" -v b="$o50f" 'BEGIN { printf "%.2fx", a / b }' || echo '?') the one-session fan-out's; target: within 1.5x);"
			echo "  ansible-playbook takes $( [ -n "$a50f" ] && awk -v a="$a50f" -v b="$c50f" 'BEGIN { printf "%.1fx", a / b }' || echo '?') clusterc's time (target: at least 10x); clusterc's no-op"
			echo "  re-run takes $(printf '%.2f' "${c50n:-0}") s (target: under 2 s), where the bare fan-out of 50 fresh connections that"
			echo "  run 5 no-op scripts takes $(printf '%.2f' "${s50n:-0}") s: with a fresh connection per host per run, the 2 s target is"
			echo "  below what 50 default-KEX handshakes cost on these 2 cores."
			if [ -n "$a50f" ]; then
				echo "- The 10x-less-than-Ansible target would need a first run of $(awk -v a="$a50f" 'BEGIN { printf "%.2f", a / 10 }') s at 50 hosts, which is"
				echo "  $(awk -v a="$a50f" -v b="$s50f" 'BEGIN { printf "%s", (a / 10 < b) ? "below" : "above" }') the $(printf '%.2f' "$s50f") s the plain ssh fan-out needs to run the same scripts: here Ansible"
				echo "  is slow by a factor the ssh floor bounds, and no runner that opens fresh default-KEX connections"
				echo "  can be 10x faster than it. Neither target is met by weakening the key exchange: the inventory's"
				echo "  \`ssh_options\` lets an operator choose \`KexAlgorithms\` explicitly, and clusterc never does so itself."
			fi
		else
			echo "- Issue 5 targets (runner within 1.5x of plain ssh, 10x less than Ansible, 50-host no-op"
			echo "  under 2 s): not evaluated, clusterc apply was not measured ($cc_status)."
		fi
		ratio() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }' || echo "not measured"; }
		echo "- Issue 13 targets (ratios to the plain ssh fan-out of the same row): at 50 hosts, first run"
		echo "  $(ratio "${MED[clusterc.50.first]:-}" "${MED[ssh.50.first]:-}") (target at most 1.0x), cold no-op re-run"
		echo "  $(ratio "${MED[clusterc.50.noop]:-}" "${MED[ssh.50.noop]:-}") (at most 0.4x), no-op with kept connections"
		echo "  $(ratio "${MED[clusterck.50.noop]:-}" "${MED[ssh.50.noop]:-}") (at most 0.1x); at 200 hosts, first run"
		echo "  $(ratio "${MED[clusterc.200.first]:-}" "${MED[ssh.200.first]:-}") (at most 1.0x), no-op"
		echo "  $(ratio "${MED[clusterc.200.noop]:-}" "${MED[ssh.200.noop]:-}") (at most 0.3x); clusterc's first-run cost per host at"
		echo "  200 hosts over that at 50: $( [ -n "${MED[clusterc.200.first]:-}" ] && [ -n "${MED[clusterc.50.first]:-}" ] && awk -v a="${MED[clusterc.200.first]}" -v b="${MED[clusterc.50.first]}" 'BEGIN { printf "%.2fx", (a / 200) / (b / 50) }' || echo "not measured") (at most 1.2x)."
		echo "- Measured under load: the machine ($(nproc) cores) was shared with other work (several"
		echo "  builds and test runs of other sessions) during this run; see the load averages."
		echo "- Load: the 1-minute load average at each cell's start is in the table above ($(nproc) cores);"
		echo "  the lab's own sshd and ssh processes count in it, and other work may run too. Under"
		echo "  load, Linux's autogroup scheduler (kernel.sched_autogroup_enabled=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo '?')) shares CPU"
		echo "  between sessions, not processes: a tool whose ssh processes each start a session of their"
		echo "  own gets more CPU than one whose processes share one session. Measured: $ag_n parallel"
		echo "  \`ssh host true\` from one session ${ag_one} s, each ssh in its own session (setsid, as"
		echo "  parallel-ssh does) ${ag_own} s. So the table has the fan-out both ways: \"plain ssh"
		echo "  fan-out\" runs every ssh in a session of its own (the floor), \"one session\" keeps them in"
		echo "  the caller's session, as a runner does that puts its children only in process groups"
		echo "  (setpgid). On an idle machine the difference shrinks; treat the numbers as relative."
		echo "- The no-op re-run of ssh, parallel-ssh and Ansible still connects and runs every script"
		echo "  (each checks and does nothing); clusterc skips steps whose hash the host remembers."
		echo "- parallel-ssh and Ansible (default linear strategy) finish a step on every host before the"
		echo "  next step starts; the ssh fan-out and clusterc run each host's chain independently."
		echo
		echo "### Commands"
		echo
		echo "Lab: \`tests/lab/lab.sh up $max \$LAB\` (took $up_s s here; hosts host1..host$max, \$LAB/ssh_config: User root,"
		echo "IdentityFile \$LAB/id_ed25519, UserKnownHostsFile \$LAB/known_hosts, StrictHostKeyChecking yes,"
		echo "BatchMode yes). Before each first run: \`tests/bench/reset-hosts.sh \$LAB host1..hostN\`"
		echo "(hyperfine --prepare). Each cell: \`hyperfine -s bash --runs R [--prepare RESET] CMD\`, with CMD"
		echo "(shown for N = $max; \$W is the work dir):"
		echo
		echo '```'
		for tool in "${tools[@]}"; do
			printf '%s\n' "${CMD[$tool.$max]}" | sed -e "s|$LAB|\$LAB|g" -e "s|$W|\$W|g" -e "s|$TOP/||g" -e "s|$TMP/clusterc|./clusterc|g" \
				-e 's/host1 host2 host3 .* host\([0-9]*\)/host1 ... host\1/'
		done
		echo '```'
		echo
		echo "- plain ssh (tests/bench/fanout-ssh.sh): per host, in parallel, \`setsid -w ssh -F \$LAB/ssh_config"
		echo "  -o ControlMaster=auto -o ControlPath=... -o ControlPersist=60 HOST bash -s < stepK.sh\`"
		echo "  for K = 1..5, then \`ssh -O exit\`."
		echo "- ssh fan-out, one session: the same with FANOUT_SETSID=0 (no setsid)."
		echo "- parallel-ssh (tests/bench/pssh.sh): \`parallel-ssh -h HOSTS -p N -t 0 -x '<same ssh"
		echo "  options>' -I bash -s < stepK.sh\` for K = 1..5, masters closed at the end."
		echo "- ansible-playbook (tests/bench/ansible.sh, tests/bench/playbook.yml): ansible-core from"
		echo "  Debian, \`forks = N\`, \`pipelining = True\`, \`gather_facts: false\`, host_key_checking"
		echo "  on, ssh_args \`-F \$LAB/ssh_config -o ControlMaster=auto -o ControlPersist=2s\`, a fresh"
		echo "  control path directory per run; five \`ansible.builtin.shell\` tasks whose cmd is the"
		echo "  text of stepK.sh, run by /bin/bash."
		echo "- clusterc apply: a hand-written plan.json (tests/bench/make-plan.sh, format 1 of"
		echo "  compiler/README.md: 5 steps per host chained by \`after\`, the same scripts under"
		echo "  nodes/HOST/steps/), the lab's inventory.json, \`-j N\`. Status: $cc_status."
		echo "  Cold cells: \`clusterc disconnect -q \$W/plan.N\` in --prepare (after the reset for a"
		echo "  first run); kept cells: one \`clusterc plan\` before the cell opens the masters, which"
		echo "  every run of the cell then reuses. XDG_RUNTIME_DIR is a 0700 directory of the bench."
	} >"$f"
	put_section runner "$f"
	log "runner section written ($(($(date +%s) - T0)) s so far)"
}

# ---------------------------------------------------------------- frontend (issue 2)
# Issue 13: clusterc build of N nodes against cp -r of its own output on the
# same disk (the file system's floor), one run each (hyperfine, a fresh
# target directory prepared for every run).
build_table() {
	local n file o c bt ct
	echo
	echo "Build (issue 13): \`hyperfine -N --runs R --prepare 'rm -rf OUT' 'clusterc build FILE -o OUT -q'\`"
	echo "against \`cp -r OUT/<cluster> COPY\` (prepared by removing COPY), on the same disk; FILE is"
	echo "gen-cluster.sh's with a /9 pod CIDR (room for the nodes). Target: build within 1.3x of cp -r."
	echo
	echo "| nodes | files written | size | runs | build (median) | cp -r of its output | ratio |"
	echo "|---|---|---|---|---|---|---|"
	for n in $BUILD_SIZES; do
		file=$W/fe/build$n.cluster o=$W/fe/out$n c=$W/fe/copy$n
		bash "$BENCH/gen-cluster.sh" "$n" | sed 's#pod_cidr *= *[0-9./]*#pod_cidr     = 10.128.0.0/9#' >"$file"
		log "frontend: build, $n nodes"
		if ! hyperfine -N --runs "$BUILD_RUNS" --prepare "rm -rf $o" --export-json "$W/fe/b$n.json" \
			"$CLUSTERC_BIN build $file -o $o -q" >"$W/fe/hf.log" 2>&1; then
			echo "| $n | - | - | - | **failed**: $(grep -m 1 -i error "$W/fe/hf.log" | tr -d '|' | cut -c1-100) | | |"
			continue
		fi
		hyperfine -N --runs "$BUILD_RUNS" --prepare "rm -rf $c" --export-json "$W/fe/c$n.json" \
			"cp -r $o/bench$n $c" >"$W/fe/hf.log" 2>&1 || { echo "| $n | | | | | cp failed | |"; continue; }
		bt=$(hf_stats "$W/fe/b$n.json" | cut -d' ' -f1)
		ct=$(hf_stats "$W/fe/c$n.json" | cut -d' ' -f1)
		printf '| %s | %s | %s | %s | %.2f s | %.2f s | %s |\n' "$n" "$(find "$o" -type f | wc -l)" "$(du -sh "$o" | cut -f1)" \
			"$BUILD_RUNS" "$bt" "$ct" "$(awk -v a="$bt" -v b="$ct" 'BEGIN { printf "%.1fx", a / b }')"
		rm -rf "$o" "$c"
	done
}

frontend_section() {
	local f=$TMP/frontend.md n file json out
	local why=""
	mkdir -p "$W/fe"
	bash "$BENCH/gen-cluster.sh" 10 >"$W/fe/bench10.cluster"
	if [ ! -x "$CLUSTERC_BIN" ]; then
		why="./clusterc is not built"
	elif ! out=$("$CLUSTERC_BIN" check "$W/fe/bench10.cluster" 2>&1); then
		why="\`clusterc check\` does not accept a generated file yet: $(printf '%s' "$out" | head -n 2 | tr '\n' ' ')"
	fi
	if [ -n "$why" ]; then
		log "frontend: skipped: $why"
		{ echo "## Front end: clusterc check (issue 2)"; echo; echo "Not measured yet: $why."; } >"$f"
		put_section frontend "$f"
		return 0
	fi
	local have_time=1
	[ -x /usr/bin/time ] || have_time=0
	{
		echo "## Front end: clusterc check (issue 2)"
		echo
		echo "Generated clusters (\`tests/bench/gen-cluster.sh N\`: one control node, N-1 workers with two"
		echo "labels each, a taint on every tenth, addresses 10.0.x.y/16). Wall time: hyperfine median"
		echo "(\`hyperfine -N --warmup 1 --runs R './clusterc check FILE'\`); peak RSS:"
		echo "\`/usr/bin/time -f %M ./clusterc check FILE\` (max resident set size, KiB → MiB)."
		echo "Targets (issue 2): 1,000 nodes in under 50 ms and 30 MB; linear growth."
		echo
		echo "| nodes | file size | runs | check wall time (median) | per node | peak RSS |"
		echo "|---|---|---|---|---|---|"
	} >"$f"
	local runs med rss
	for n in $FE_SIZES; do
		file=$W/fe/bench$n.cluster
		bash "$BENCH/gen-cluster.sh" "$n" >"$file"
		runs=10
		[ "$n" -ge 10000 ] && runs=5
		json=$W/fe/check$n.json
		log "frontend: check, $n nodes"
		if ! hyperfine -N --warmup 1 --runs "$runs" --export-json "$json" "$CLUSTERC_BIN check $file" >"$W/fe/hf.log" 2>&1; then
			printf '| %s | %s | - | failed: %s | | |\n' "$n" "$(du -h "$file" | cut -f1)" "$(tail -n 1 "$W/fe/hf.log")" >>"$f"
			continue
		fi
		med=$(hf_stats "$json" | cut -d' ' -f1)
		if [ "$have_time" = 1 ]; then
			rss=$(/usr/bin/time -f '%M' "$CLUSTERC_BIN" check "$file" 2>&1 >/dev/null | tail -n 1)
			rss=$(awk -v k="$rss" 'BEGIN { printf "%.1f MiB", k / 1024 }')
		else
			rss="not measured (/usr/bin/time missing: Debian package time)"
		fi
		printf '| %s | %s | %s | %.1f ms | %.1f µs | %s |\n' "$n" "$(du -h "$file" | cut -f1)" "$runs" \
			"$(awk -v s="$med" 'BEGIN { print s * 1000 }')" "$(awk -v s="$med" -v n="$n" 'BEGIN { print s * 1e6 / n }')" "$rss" >>"$f"
	done
	build_table >>"$f"
	echo >>"$f"
	{
		echo "Wall time includes process start-up and the embedded stdlib's loading, which the"
		echo "smallest file's time approximates; \"per node\" is the median divided by N. Measured on the"
		echo "machine of the other sections, $(date -u "+%Y-%m-%d %H:%M UTC") (1-minute load average $(cut -d' ' -f1 /proc/loadavg) at the end)."
	} >>"$f"
	put_section frontend "$f"
}

want machine && machine_section
if want runner; then runner_section || true; fi
if want frontend; then frontend_section || true; fi
log "done in $(($(date +%s) - T0)) s; results in $OUT"
