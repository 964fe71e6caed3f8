#!/usr/bin/env bash
set -euo pipefail
# infra.installer on the operator machine: the media that install {{ cluster.name }}'s VMs.
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
# shellcheck source=SCRIPTDIR/../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../common/prelude.sh"

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
	cc_tmpdir work "$ISO_DIR/.remaster.XXXXXX"
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
	out=$ISO_DIR/clusterc-{{ cluster.name }}-$node-cidata.iso
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

{{#each nodes as n}}
{{#if n.vm}}
{{#each images as img}}
{{#if img.name == n.vm.image}}
fetch_iso {{ img.iso }} {{ img.iso_file }} {{ img.sha256 }}
remaster "$ISO_DIR/"{{ img.iso_file }} "$ISO_DIR/clusterc-autoinstall-"{{ img.iso_file }}
link "$ISO_DIR/clusterc-autoinstall-"{{ img.iso_file }}
{{/if}}
{{/each}}
cidata {{ n.name }}
link "$ISO_DIR/clusterc-"{{ cluster.name }}-{{ n.name }}-cidata.iso
{{/if}}
{{/each}}
