# shellcheck shell=bash
# ---- clusterc step prelude (stdlib/templates/lib/prelude.sh) --------------------
# Rendered once per cluster to common/prelude.sh (stdlib/components/lib.json) and
# sourced by every generated step script right after its first lines, relative to
# the script's own folder, so it travels in every bundle and every step's hash
# (each script step lists common/prelude.sh in its "files").
# It only defines variables and functions, except that it reads standard input
# (see CC_IN) and installs an EXIT trap that prints how many changes the step made.
# Contract (compiler/README.md, "Step protocol"): the script runs as root under bash,
# its working directory the shipped bundle; stdin holds NAME=BASE64 lines, then EOF.
#
# Variables
#   CC_IN[NAME]     secrets and inputs from stdin, decoded (the runner sends one line
#                   per declared secret/input; nothing is read when stdin is a terminal)
#   CC_STEP         the step's name for log lines (a script sets it before the include,
#                   or it defaults to the script's file name)
#   CC_CHANGES      number of changes made so far (cc_changed increments it)
#   CC_WROTE        1 when the last cc_write_file/cc_apt_install/... changed something, else 0
#   CC_APT_STALE    1 when an APT source changed and `apt-get update` must run before installing
#   CC_CHECK_ONLY   1 in check-only mode (CLUSTERC_CHECK_ONLY=1, set by `clusterc drift`): see below
#
# Functions (each checks before it acts, so a second run changes nothing)
#   cc_log MSG...              a progress line on stderr: "[step] MSG"
#   cc_warn MSG...             the same, marked "warning:"
#   cc_die MSG...              prints "error: MSG" and exits 1
#   cc_changed WHAT            records one change (counted, logged as "changed: WHAT")
#   cc_in NAME                 prints CC_IN[NAME]; fails when the runner did not send it
#   cc_output NAME VALUE       hands VALUE to later steps (::clusterc::output NAME B64)
#   cc_reboot                  asks the runner to reboot the host after this step
#   cc_write_file PATH MODE [OWNER:GROUP] < CONTENT
#                              writes stdin to PATH atomically (temp + rename) only when
#                              the bytes differ; fixes mode and owner when they differ;
#                              sets CC_WROTE=1 on any change, 0 otherwise; always returns 0
#                              (errors abort the script), so use:
#                                cc_write_file /etc/x 0644 <<'X' ... X
#                                if [ "$CC_WROTE" = 1 ]; then systemctl restart x; fi
#   cc_remove_file PATH        removes PATH when it exists (a change)
#   cc_ensure_dir PATH MODE    creates a directory (and parents) when missing
#   cc_pkg_installed PKG       true when dpkg says PKG is installed
#   cc_apt_update              runs `apt-get update` when CC_APT_STALE=1 or no lists exist
#   cc_apt_install PKG...      installs only the missing packages (noninteractive);
#                              CC_WROTE=1 when it installed something
#   cc_apt_hold PKG...         `apt-mark hold` for the packages not held yet
#   cc_apt_repo NAME KEY_URL KEYRING SOURCE_LINE
#                              a signed-by APT repository: writes
#                              /etc/apt/sources.list.d/NAME.list, fetches the key into
#                              KEYRING (dearmored) when it is missing or the source
#                              changed; sets CC_APT_STALE=1 on change
#   cc_service_enable UNIT     `systemctl enable --now UNIT` unless enabled and active
#   cc_service_restart UNIT    restarts UNIT (a change); for use after a config change
#   cc_module_load MOD         modprobe MOD unless it is loaded or built in
#   cc_retry N DELAY CMD...    runs CMD up to N times, DELAY seconds apart
#   cc_valid RE VALUE WHAT     dies unless VALUE matches the extended regex RE
#                              (for values read at apply time before they reach a file)
#   cc_check_only              true in check-only mode
#   cc_remove_at_exit PATH...  removes PATH when the step exits, however it exits
#   cc_tmpdir VAR [TEMPLATE]   a new private folder (mktemp -d) in VAR, removed so; a
#                              step never sets a trap on EXIT (it would replace the
#                              prelude's, and its log would lose the line saying how it ended)
#
# Check-only mode (`clusterc drift`, compiler/run/drift.c): the same script runs and
# makes the same checks, but changes nothing. Every helper above decides as in a real
# run and, where the real run would act, reports instead: cc_changed prints
# "::clusterc::drift WHAT" (what apply would change) and counts it. CC_WROTE stays 0,
# so what follows a change (a restart, a reload) is not done or reported: the change
# is. Commands a script runs itself that would change the machine or the cluster
# (kubectl apply/label/delete/..., helm upgrade, kubeadm init/join, ufw allow,
# systemctl restart, apt-get, modprobe, sysctl -w, file moves and removals outside
# $TMPDIR, ...) are shell functions here that log "check only: not running ..." and
# succeed, and report "would run: CMD" unless a cc_changed after them names the
# change (cc_not_run); `kubectl apply` becomes `kubectl diff` and reports the
# objects that differ.
# A script may branch on cc_check_only where a real run would need a value that only
# a change makes (a join token).
# -----------------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C
umask 022
CC_STEP=${CC_STEP:-$(basename "$0" .sh)}
CC_CHANGES=0
CC_WROTE=0
CC_APT_STALE=0
CC_CHECK_ONLY=0
[ "${CLUSTERC_CHECK_ONLY:-0}" != 1 ] || CC_CHECK_ONLY=1
declare -A CC_IN=()

cc_log() { printf '[%s] %s\n' "$CC_STEP" "$*" >&2; }
cc_warn() { printf '[%s] warning: %s\n' "$CC_STEP" "$*" >&2; }
cc_die() {
	printf '[%s] error: %s\n' "$CC_STEP" "$*" >&2
	exit 1
}
cc_check_only() { [ "$CC_CHECK_ONLY" = 1 ]; }
cc_changed() {
	CC_CHANGES=$((CC_CHANGES + 1))
	CC_NOT_RUN=() # the change it names is what the commands before it were for
	if cc_check_only; then
		cc_log "would change: $*"
		printf '::clusterc::drift %s\n' "$(printf '%s' "$*" | tr '\n' ' ')"
	else
		cc_log "changed: $*"
	fi
}

# Standard input: NAME=BASE64 lines from the runner. A terminal means a person runs
# the script by hand; then nothing is read and cc_in fails for any name it needs.
if [ ! -t 0 ]; then
	while IFS= read -r cc_line || [ -n "$cc_line" ]; do
		[ -n "$cc_line" ] || continue
		case $cc_line in
		*=*) ;;
		*) cc_die "malformed input line on stdin (expected NAME=BASE64)" ;;
		esac
		CC_IN[${cc_line%%=*}]=$(printf '%s' "${cc_line#*=}" | base64 -d) ||
			cc_die "input ${cc_line%%=*} is not valid base64"
	done
	unset cc_line
fi

cc_in() {
	[ -n "${CC_IN[$1]+set}" ] || cc_die "the runner sent no value for '$1'"
	printf '%s' "${CC_IN[$1]}"
}
cc_output() {
	printf '::clusterc::output %s %s\n' "$1" "$(printf '%s' "$2" | base64 -w0)"
}
cc_reboot() {
	if cc_check_only; then
		cc_log "check only: no reboot"
		return 0
	fi
	cc_log "asking the runner for a reboot"
	printf '::clusterc::reboot\n'
}

# cc_check_file PATH MODE OWNER < CONTENT: check-only cc_write_file (reports, writes nothing).
cc_check_file() {
	local path=$1 mode=$2 owner=$3 tmp
	tmp=$(mktemp)
	cat >"$tmp"
	if [ ! -e "$path" ]; then
		cc_changed "file $path is missing"
	elif ! cmp -s "$tmp" "$path"; then
		cc_changed "file $path differs"
	else
		[ "$(stat -c '%a' "$path")" = "${mode#0}" ] || cc_changed "mode of $path is not $mode"
		[ "$(stat -c '%U:%G' "$path")" = "$owner" ] || cc_changed "owner of $path is not $owner"
	fi
	command rm -f "$tmp"
}
cc_write_file() {
	local path=$1 mode=$2 owner=${3:-root:root} dir tmp
	CC_WROTE=0
	if cc_check_only; then
		cc_check_file "$path" "$mode" "$owner"
		return 0
	fi
	dir=$(dirname "$path")
	[ -d "$dir" ] || mkdir -p "$dir"
	tmp=$(mktemp "$dir/.clusterc.XXXXXX")
	cat >"$tmp"
	if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
		rm -f "$tmp"
	else
		chmod "$mode" "$tmp"
		chown "$owner" "$tmp"
		mv -f "$tmp" "$path"
		CC_WROTE=1
		cc_changed "wrote $path"
		return 0
	fi
	if [ "$(stat -c '%a' "$path")" != "${mode#0}" ]; then
		chmod "$mode" "$path"
		CC_WROTE=1
		cc_changed "mode $mode on $path"
	fi
	if [ "$(stat -c '%U:%G' "$path")" != "$owner" ]; then
		chown "$owner" "$path"
		CC_WROTE=1
		cc_changed "owner $owner on $path"
	fi
	return 0
}
cc_remove_file() {
	CC_WROTE=0
	if cc_check_only; then
		if [ -e "$1" ] || [ -L "$1" ]; then cc_changed "file $1 is not wanted"; fi
		return 0
	fi
	if [ -e "$1" ] || [ -L "$1" ]; then
		rm -f "$1"
		CC_WROTE=1
		cc_changed "removed $1"
	fi
}
cc_ensure_dir() {
	if [ ! -d "$1" ] && cc_check_only; then
		cc_changed "directory $1 is missing"
	elif [ ! -d "$1" ]; then
		mkdir -p "$1"
		chmod "$2" "$1"
		cc_changed "created $1"
	fi
}

cc_pkg_installed() {
	# Captured, not piped to grep -q: under pipefail an early grep exit is a SIGPIPE.
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == *'install ok installed'* ]]
}
cc_apt_update() {
	cc_check_only && return 0
	if [ "$CC_APT_STALE" = 1 ] || ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
		cc_log "apt-get update"
		cc_retry 3 10 apt-get update -q
		CC_APT_STALE=0
	fi
}
cc_apt_install() {
	local p missing=()
	CC_WROTE=0
	for p in "$@"; do
		cc_pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if cc_check_only; then
		cc_changed "packages not installed: ${missing[*]}"
		return 0
	fi
	cc_apt_update
	cc_log "installing ${missing[*]}"
	cc_retry 3 10 apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
	CC_WROTE=1
	cc_changed "installed ${missing[*]}"
}
cc_apt_hold() {
	local p held
	held=$(apt-mark showhold)
	for p in "$@"; do
		if ! grep -qx -- "$p" <<<"$held" && cc_check_only; then
			cc_changed "package $p is not held"
		elif ! grep -qx -- "$p" <<<"$held"; then
			apt-mark hold "$p" >/dev/null
			cc_changed "held $p"
		fi
	done
}
cc_apt_repo() {
	local name=$1 key_url=$2 keyring=$3 line=$4 list tmp
	list=/etc/apt/sources.list.d/$name.list
	cc_write_file "$list" 0644 <<<"$line"
	if cc_check_only; then
		[ -s "$keyring" ] || cc_changed "keyring $keyring is missing"
		return 0
	fi
	if [ "$CC_WROTE" = 1 ] || [ ! -s "$keyring" ]; then
		mkdir -p "$(dirname "$keyring")"
		tmp=$(mktemp)
		cc_retry 3 10 curl -fsSL -o "$tmp" "$key_url"
		gpg --batch --yes --dearmor -o "$keyring.new" <"$tmp"
		rm -f "$tmp"
		chmod 0644 "$keyring.new"
		mv -f "$keyring.new" "$keyring"
		cc_changed "keyring $keyring from $key_url"
		CC_APT_STALE=1
	fi
}

cc_service_enable() {
	if cc_check_only; then
		systemctl is-enabled --quiet "$1" 2>/dev/null || cc_changed "service $1 is not enabled"
		systemctl is-active --quiet "$1" 2>/dev/null || cc_changed "service $1 is not running"
		return 0
	fi
	if ! systemctl is-enabled --quiet "$1" 2>/dev/null; then
		systemctl enable "$1"
		cc_changed "enabled $1"
	fi
	if ! systemctl is-active --quiet "$1" 2>/dev/null; then
		systemctl start "$1"
		cc_changed "started $1"
	fi
}
cc_service_restart() {
	# A restart follows a change; in check-only mode the change is what is reported.
	if cc_check_only; then
		cc_log "check only: no restart of $1"
		return 0
	fi
	systemctl restart "$1"
	cc_changed "restarted $1"
}
cc_module_load() {
	# /sys/module lists built-in modules too; lsmod the loadable ones.
	if [ ! -d "/sys/module/$1" ] && ! lsmod | awk -v m="$1" '$1 == m { f = 1 } END { exit !f }'; then
		cc_check_only || modprobe "$1"
		cc_changed "loaded kernel module $1"
	fi
}
cc_retry() {
	local n=$1 delay=$2 i=1
	shift 2
	until "$@"; do
		if [ "$i" -ge "$n" ]; then
			cc_warn "gave up after $n tries: $*"
			return 1
		fi
		cc_warn "try $i of $n failed: $*; again in ${delay}s"
		sleep "$delay"
		i=$((i + 1))
	done
}
cc_valid() {
	[[ $2 =~ $1 ]] || cc_die "$3 has an unexpected form"
}

# ---- check-only mode: the commands that would change something (see the header)
# cc_not_run CMD...: what a check-only run leaves out, said in the step's log. A
# command that would change something and that no cc_changed after it names is a
# difference too ("would run: CMD", reported when the step ends): on a converged
# host a script reaches no such command, so a check cannot pass over a change the
# real run makes. In a subshell (a pipeline, $(...)) it is reported at once, on
# the step's own stdout (CC_REPORT_FD), whatever the caller redirects.
CC_NOT_RUN=()
exec {CC_REPORT_FD}>&1
cc_not_run() {
	local what
	cc_log "check only: not running $*"
	what=$(printf '%s' "$*" | tr '\n' ' ' | cut -c1-200)
	if [ "$BASHPID" = "$$" ]; then
		CC_NOT_RUN+=("$what")
	else
		printf '::clusterc::drift would run: %s\n' "$what" >&"$CC_REPORT_FD"
	fi
}
# cc_outside_tmp ARG...: true when an argument names an absolute path outside $TMPDIR.
cc_outside_tmp() {
	local a tmp=${TMPDIR:-/tmp}
	for a in "$@"; do
		case $a in
		"$tmp" | "$tmp"/* | /dev/null | /dev/std*) ;;
		/*) return 0 ;;
		esac
	done
	return 1
}
# cc_check_apply ARGS...: `kubectl apply ARGS` as `kubectl diff`; each object that
# differs is one change.
cc_check_apply() {
	local out rc obj
	out=$(command kubectl diff "$@" 2>&1) && rc=0 || rc=$?
	case $rc in
	0) ;;
	1)
		while IFS= read -r obj; do
			cc_changed "Kubernetes object $obj differs"
		done < <(sed -n 's|^diff -u -N [^ ]*/LIVE-[^/]*/\([^ ]*\) .*|\1|p' <<<"$out" | sort -u)
		grep -q '^diff -u -N ' <<<"$out" || cc_changed "Kubernetes objects differ: kubectl apply $*"
		;;
	*) cc_die "kubectl diff $* failed: $out" ;;
	esac
}
if cc_check_only; then
	kubectl() {
		local a verb='' dry=0 i
		for ((i = 1; i <= $#; i++)); do
			a=${!i}
			case $a in
			--dry-run | --dry-run=client | --dry-run=server | --local) dry=1 ;;
			-n | --namespace | --kubeconfig | --context | -l | --selector | -o | --output | -f | --filename | -k | --kustomize | -p | --patch | --type | --for | --timeout | -c | --container) i=$((i + 1)) ;;
			-*) ;;
			*) [ -n "$verb" ] || verb=$a ;;
			esac
		done
		case $verb in
		get | wait | describe | version | diff | api-resources | api-versions | auth | cluster-info | config | kustomize | explain | logs | top | exec)
			command kubectl "$@" ;;
		rollout)
			case " $* " in *" status "* | *" history "*) command kubectl "$@" ;; *) cc_not_run kubectl "$@" ;; esac ;;
		apply)
			if [ "$dry" = 1 ]; then command kubectl "$@"; else
				local args=() skip=1
				for a in "$@"; do
					if [ "$skip" = 1 ] && [ "$a" = apply ]; then skip=0; continue; fi
					args+=("$a")
				done
				cc_check_apply "${args[@]}"
			fi ;;
		*) if [ "$dry" = 1 ]; then command kubectl "$@"; else cc_not_run kubectl "$@"; fi ;;
		esac
	}
	helm() {
		case ${1:-} in
		status | list | ls | get | template | version | show | search | history) command helm "$@" ;;
		*) cc_not_run helm "$@" ;;
		esac
	}
	kubeadm() {
		case "${1:-} ${2:-}" in
		"version "* | "config print" | "token list" | "certs check-expiration" | "upgrade plan") command kubeadm "$@" ;;
		*) cc_not_run kubeadm "$@" ;;
		esac
	}
	ufw() {
		case ${1:-} in
		status | show | version) command ufw "$@" ;;
		*) cc_not_run ufw "$@" ;;
		esac
	}
	systemctl() {
		case ${1:-} in
		is-enabled | is-active | is-failed | status | show | cat | list-units | list-unit-files) command systemctl "$@" ;;
		*) cc_not_run systemctl "$@" ;;
		esac
	}
	apt-mark() {
		case ${1:-} in
		showhold | showmanual | showauto) command apt-mark "$@" ;;
		*) cc_not_run apt-mark "$@" ;;
		esac
	}
	sysctl() {
		case " $* " in
		*" -w "* | *" -p"* | *" --system "* | *=*) cc_not_run sysctl "$@" ;;
		*) command sysctl "$@" ;;
		esac
	}
	netplan() { case ${1:-} in get | info) command netplan "$@" ;; *) cc_not_run netplan "$@" ;; esac; }
	hostnamectl() { case ${1:-} in '' | status) command hostnamectl "$@" ;; *) cc_not_run hostnamectl "$@" ;; esac; }
	ubuntu-drivers() { case ${1:-} in list | devices) command ubuntu-drivers "$@" ;; *) cc_not_run ubuntu-drivers "$@" ;; esac; }
	apt-get() { cc_not_run apt-get "$@"; }
	apt() { cc_not_run apt "$@"; }
	dpkg() { case ${1:-} in -l | -s | -L | -S | --list | --status | --print-architecture) command dpkg "$@" ;; *) cc_not_run dpkg "$@" ;; esac; }
	modprobe() { cc_not_run modprobe "$@"; }
	swapoff() { cc_not_run swapoff "$@"; }
	swapon() { case " $* " in *" --show "* | *" -s "*) command swapon "$@" ;; *) cc_not_run swapon "$@" ;; esac; }
	reboot() { cc_not_run reboot "$@"; }
	shutdown() { cc_not_run shutdown "$@"; }
	nvidia-ctk() { cc_not_run nvidia-ctk "$@"; }
	update-grub() { cc_not_run update-grub "$@"; }
	update-initramfs() { cc_not_run update-initramfs "$@"; }
	gpg() { if cc_outside_tmp "$@"; then cc_not_run gpg "$@"; else command gpg "$@"; fi; }
	curl() { if cc_outside_tmp "$@"; then cc_not_run curl "$@"; else command curl "$@"; fi; }
	rm() { if cc_outside_tmp "$@"; then cc_not_run rm "$@"; else command rm "$@"; fi; }
	mv() { if cc_outside_tmp "$@"; then cc_not_run mv "$@"; else command mv "$@"; fi; }
	cp() { if cc_outside_tmp "$@"; then cc_not_run cp "$@"; else command cp "$@"; fi; }
	ln() { if cc_outside_tmp "$@"; then cc_not_run ln "$@"; else command ln "$@"; fi; }
	mkdir() { if cc_outside_tmp "$@"; then cc_not_run mkdir "$@"; else command mkdir "$@"; fi; }
	chmod() { if cc_outside_tmp "$@"; then cc_not_run chmod "$@"; else command chmod "$@"; fi; }
	chown() { if cc_outside_tmp "$@"; then cc_not_run chown "$@"; else command chown "$@"; fi; }
	touch() { if cc_outside_tmp "$@"; then cc_not_run touch "$@"; else command touch "$@"; fi; }
	tee() { if cc_outside_tmp "$@"; then cc_not_run tee "$@"; cat >/dev/null; else command tee "$@"; fi; }
	sed() {
		case " $* " in
		*" -i"*) if cc_outside_tmp "$@"; then cc_not_run sed "$@"; return 0; fi ;;
		esac
		command sed "$@"
	}
fi

# cc_remove_at_exit PATH...: removed when the step exits, however it exits;
# cc_tmpdir VAR [TEMPLATE]: a new private folder (mktemp -d) in VAR, removed so.
# Steps use these rather than a trap of their own: a step's `trap ... EXIT`
# would replace cc_finish, and the step's log would lose its last line.
CC_AT_EXIT_RM=()
cc_remove_at_exit() { CC_AT_EXIT_RM+=("$@"); }
cc_tmpdir() {
	# A name no caller's VAR is: printf -v sets the caller's variable of that name.
	local cc_tmpdir_made
	cc_tmpdir_made=$(mktemp -d ${2:+"$2"})
	cc_remove_at_exit "$cc_tmpdir_made"
	printf -v "$1" '%s' "$cc_tmpdir_made"
}

cc_finish() {
	local rc=$? what
	[ ${#CC_AT_EXIT_RM[@]} -eq 0 ] || command rm -rf -- "${CC_AT_EXIT_RM[@]}"
	for what in "${CC_NOT_RUN[@]}"; do
		CC_CHANGES=$((CC_CHANGES + 1))
		printf '::clusterc::drift would run: %s\n' "$what" >&"$CC_REPORT_FD"
	done
	if [ "$rc" -eq 0 ]; then
		cc_log "done: $CC_CHANGES change(s)"
	else
		cc_log "failed (exit $rc) after $CC_CHANGES change(s)"
	fi
}
trap cc_finish EXIT
# ---- end of prelude -----------------------------------------------------------------
