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
# -----------------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C
umask 022
CC_STEP=${CC_STEP:-$(basename "$0" .sh)}
CC_CHANGES=0
CC_WROTE=0
CC_APT_STALE=0
declare -A CC_IN=()

cc_log() { printf '[%s] %s\n' "$CC_STEP" "$*" >&2; }
cc_warn() { printf '[%s] warning: %s\n' "$CC_STEP" "$*" >&2; }
cc_die() {
	printf '[%s] error: %s\n' "$CC_STEP" "$*" >&2
	exit 1
}
cc_changed() {
	CC_CHANGES=$((CC_CHANGES + 1))
	cc_log "changed: $*"
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
	cc_log "asking the runner for a reboot"
	printf '::clusterc::reboot\n'
}

cc_write_file() {
	local path=$1 mode=$2 owner=${3:-root:root} dir tmp
	CC_WROTE=0
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
	if [ -e "$1" ] || [ -L "$1" ]; then
		rm -f "$1"
		CC_WROTE=1
		cc_changed "removed $1"
	fi
}
cc_ensure_dir() {
	if [ ! -d "$1" ]; then
		mkdir -p "$1"
		chmod "$2" "$1"
		cc_changed "created $1"
	fi
}

cc_pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
cc_apt_update() {
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
		if ! grep -qx -- "$p" <<<"$held"; then
			apt-mark hold "$p" >/dev/null
			cc_changed "held $p"
		fi
	done
}
cc_apt_repo() {
	local name=$1 key_url=$2 keyring=$3 line=$4 list tmp
	list=/etc/apt/sources.list.d/$name.list
	cc_write_file "$list" 0644 <<<"$line"
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
	systemctl restart "$1"
	cc_changed "restarted $1"
}
cc_module_load() {
	# /sys/module lists built-in modules too; lsmod the loadable ones.
	if [ ! -d "/sys/module/$1" ] && ! lsmod | awk -v m="$1" '$1 == m { f = 1 } END { exit !f }'; then
		modprobe "$1"
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

cc_finish() {
	local rc=$?
	if [ "$rc" -eq 0 ]; then
		cc_log "done: $CC_CHANGES change(s)"
	else
		cc_log "failed (exit $rc) after $CC_CHANGES change(s)"
	fi
}
trap cc_finish EXIT
# ---- end of prelude -----------------------------------------------------------------
