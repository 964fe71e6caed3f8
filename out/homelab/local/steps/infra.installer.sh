#!/usr/bin/env bash
set -euo pipefail
# infra.installer on the operator machine: the media that install homelab's VMs.
#  1. The Ubuntu Server ISO of each image the VMs use, downloaded once into
#     ~/.cache/clusterc/iso/ (resumable: curl -C -, with a progress bar) and checked
#     against its sha256 before use; a file that fails the check is removed.
#  2. One remastered installer per image, clusterc-autoinstall-<iso file>: extracted with
#     xorriso -osirrox (keeps symlinks and Rock Ridge attributes), a first GRUB entry with
#     `autoinstall` on the kernel command line (no prompt) in boot/grub/grub.cfg and
#     boot/grub/loopback.cfg, a 1-second menu timeout, and rebuilt hybrid BIOS+UEFI with
#     the original's GRUB MBR and EFI partition. Built only when missing; the name carries
#     the recipe version (clusterc-autoinstall = recipe 1).
#  3. One small cidata ISO per VM with its user-data and meta-data (volume label cidata:
#     cloud-init's NoCloud source finds it without a ds= argument), rebuilt only when
#     their sha256 changes.
# The proxmox.iso steps upload these files. They stay in the cache; infra/media/ in this
# folder holds only symlinks to them (the builtin's paths are relative to out/<cluster>/)
# and a .gitignore, so nothing large or machine-specific is committed.
CC_STEP=infra.installer
# ---- clusterc step prelude (stdlib/templates/lib/prelude.sh) --------------------
# Included by every generated step script right after its first two lines,
# `#!/usr/bin/env bash` and `set -euo pipefail`, with the template include tag
# (a `>` partial naming templates/lib/prelude.sh; not spelled out here because this
# comment is itself rendered as a template).
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

CACHE=${HOME:?}/.cache/clusterc
ISO_DIR=$CACHE/iso
MEDIA=infra/media
mkdir -p "$ISO_DIR" "$MEDIA"
[ -f "$MEDIA/.gitignore" ] || printf '# symlinks into ~/.cache/clusterc (infra.installer)\n*\n' >"$MEDIA/.gitignore"
for tool in curl xorriso sha256sum dd; do
	command -v "$tool" >/dev/null || cc_die "$tool is needed on the operator machine (apt-get install xorriso curl)"
done

# fetch_iso URL FILE SHA256: the verified original in $ISO_DIR/FILE. A stamp beside it
# records size, mtime and sha256 so a verified file is not hashed again on every run.
fetch_iso() {
	local url=$1 file=$2 sha=$3 dest stamp got
	dest=$ISO_DIR/$file
	stamp=$dest.verified
	if [ -f "$dest" ] && [ -f "$stamp" ] &&
		[ "$(cat "$stamp")" = "$sha $(stat -c '%s %Y' "$dest")" ]; then
		return 0
	fi
	if [ ! -f "$dest" ]; then
		cc_log "downloading $url"
		# -C - resumes a partial download left by an interrupted run.
		cc_retry 3 10 curl -fL --proto '=https,http,file' -C - --progress-bar -o "$dest.part" "$url"
		mv -f "$dest.part" "$dest"
		cc_changed "downloaded $file"
	fi
	cc_log "checking the sha256 of $file"
	got=$(sha256sum "$dest" | cut -d' ' -f1)
	if [ "$got" != "$sha" ]; then
		rm -f "$dest" "$stamp"
		cc_die "$file: sha256 is $got, expected $sha (removed; the next run downloads it again)"
	fi
	printf '%s %s\n' "$sha" "$(stat -c '%s %Y' "$dest")" >"$stamp"
}

# grub_autoinstall FILE: a first menu entry that boots the installer with `autoinstall`,
# chosen after 1 second. The `---` ends the installer's arguments; what follows it is
# kept for the installed system.
grub_autoinstall() {
	local cfg=$1
	[ -f "$cfg" ] || return 0
	grep -q 'clusterc autoinstall' "$cfg" && return 0
	awk '
		/^set timeout=/ { print "set timeout=1"; next }
		/^menuentry/ && !done {
			print "menuentry \"Install Ubuntu Server (clusterc autoinstall)\" {"
			print "\tset gfxpayload=keep"
			print "\tlinux\t/casper/vmlinuz autoinstall ---"
			print "\tinitrd\t/casper/initrd"
			print "}"
			done = 1
		}
		{ print }
	' "$cfg" >"$cfg.new"
	mv -f "$cfg.new" "$cfg"
	grep -q '^set timeout=1' "$cfg" || sed -i '1i set timeout=1' "$cfg"
}

# xorriso_run ARGS...: xorriso with its messages kept in a log. Warnings and errors
# (xorriso's and libisofs' WARNING/SORRY/FAILURE/FATAL lines) go to stderr; when
# xorriso fails, its whole log does, and the step fails.
xorriso_run() {
	local log rc=0
	log=$(mktemp)
	xorriso "$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$log" >&2
		rm -f "$log"
		cc_die "xorriso failed (exit $rc)"
	fi
	grep -E ': (WARNING|SORRY|FAILURE|FATAL|ABORT) :' "$log" >&2 || true
	rm -f "$log"
}

# remaster SRC OUT: the installer with autoinstall on the kernel command line.
remaster() {
	local src=$1 out=$2 work label report efi_range start end
	[ -f "$out" ] && return 0
	work=$(mktemp -d "$ISO_DIR/.remaster.XXXXXX")
	trap 'rm -rf "$work"; cc_finish' EXIT
	cc_log "remastering $(basename "$src")"
	xorriso_run -osirrox on -indev "$src" -extract / "$work/root"
	chmod -R u+w "$work/root"
	grub_autoinstall "$work/root/boot/grub/grub.cfg"
	grub_autoinstall "$work/root/boot/grub/loopback.cfg"
	# md5sum.txt lists the two edited files; drop their lines so the installer's
	# integrity check does not report them.
	if [ -f "$work/root/md5sum.txt" ]; then
		sed -i -e '\#\./boot/grub/grub.cfg$#d' -e '\#\./boot/grub/loopback.cfg$#d' "$work/root/md5sum.txt"
	fi
	# The GRUB MBR is the first 432 bytes; the EFI system partition is the appended
	# partition 2, whose sector range xorriso reports.
	dd if="$src" of="$work/mbr.img" bs=1 count=432 status=none
	report=$(xorriso -indev "$src" -report_el_torito as_mkisofs 2>/dev/null)
	label=$(sed -n "s/^-V '\(.*\)'\$/\1/p" <<<"$report" | head -n 1)
	efi_range=$(grep -- '-append_partition 2 ' <<<"$report" | grep -o 'local_fs:[0-9]*d-[0-9]*d' | head -n 1)
	[ -n "$efi_range" ] || cc_die "$(basename "$src"): no appended EFI partition (not an Ubuntu 22.04+ live-server ISO?)"
	start=${efi_range#local_fs:} start=${start%%d-*}
	end=${efi_range##*-} end=${end%d}
	dd if="$src" of="$work/efi.img" bs=512 skip="$start" count=$((end - start + 1)) status=none
	# No -f (follow symbolic links): the extraction keeps the ISO's symlinks, and the
	# Ubuntu ISO has `ubuntu -> .`, which -f turns into an endless directory loop.
	# -r records them as Rock Ridge symlinks, as in the original.
	xorriso_run -as mkisofs -r -V "${label:-Ubuntu-Server autoinstall}" -o "$out.part" \
		--grub2-mbr "$work/mbr.img" -partition_offset 16 --mbr-force-bootable \
		-append_partition 2 28732ac11ff8d211ba4b00a0c93ec93b "$work/efi.img" \
		-appended_part_as_gpt -iso_mbr_part_type a2a0d0ebe5b9334487c068b6b72699c7 \
		-c /boot.catalog -b /boot/grub/i386-pc/eltorito.img \
		-no-emul-boot -boot-load-size 4 -boot-info-table --grub2-boot-info \
		-eltorito-alt-boot -e '--interval:appended_partition_2:::' -no-emul-boot \
		"$work/root"
	mv -f "$out.part" "$out"
	rm -rf "$work"
	trap cc_finish EXIT
	cc_changed "built $(basename "$out")"
}

# link FILE: infra/media/NAME -> the cached file.
link() {
	local target=$1 name
	name=$(basename "$target")
	if [ "$(readlink "$MEDIA/$name" 2>/dev/null || true)" != "$target" ]; then
		ln -sfn "$target" "$MEDIA/$name"
	fi
}

# cidata NODE: the node's NoCloud seed as a small ISO labelled cidata.
cidata() {
	local node=$1 dir out sum
	dir=infra/autoinstall/$node
	out=$ISO_DIR/clusterc-homelab-$node-cidata.iso
	sum=$(cat "$dir/user-data" "$dir/meta-data" | sha256sum | cut -d' ' -f1)
	if [ -f "$out" ] && [ "$(cat "$out.sha256" 2>/dev/null || true)" = "$sum" ]; then
		return 0
	fi
	xorriso_run -as mkisofs -V cidata -J -r -o "$out.part" \
		-graft-points "user-data=$dir/user-data" "meta-data=$dir/meta-data"
	mv -f "$out.part" "$out"
	printf '%s\n' "$sum" >"$out.sha256"
	cc_changed "built $(basename "$out")"
}

fetch_iso https://releases.ubuntu.com/24.04.3/ubuntu-24.04.3-live-server-amd64.iso ubuntu-24.04.3-live-server-amd64.iso c3514bf0056180d09376462a7a1b4f213c1d6e8ea67fae5c25099c6fd3d8274b
remaster "$ISO_DIR/"ubuntu-24.04.3-live-server-amd64.iso "$ISO_DIR/clusterc-autoinstall-"ubuntu-24.04.3-live-server-amd64.iso
link "$ISO_DIR/clusterc-autoinstall-"ubuntu-24.04.3-live-server-amd64.iso
cidata k8s-control-1
link "$ISO_DIR/clusterc-"homelab-k8s-control-1-cidata.iso
fetch_iso https://releases.ubuntu.com/24.04.3/ubuntu-24.04.3-live-server-amd64.iso ubuntu-24.04.3-live-server-amd64.iso c3514bf0056180d09376462a7a1b4f213c1d6e8ea67fae5c25099c6fd3d8274b
remaster "$ISO_DIR/"ubuntu-24.04.3-live-server-amd64.iso "$ISO_DIR/clusterc-autoinstall-"ubuntu-24.04.3-live-server-amd64.iso
link "$ISO_DIR/clusterc-autoinstall-"ubuntu-24.04.3-live-server-amd64.iso
cidata k8s-node-1
link "$ISO_DIR/clusterc-"homelab-k8s-node-1-cidata.iso
