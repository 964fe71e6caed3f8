#!/usr/bin/env bash
# tests/tools/fake-ubuntu-iso.sh DIR: DIR/orig.iso, a small ISO laid out like an
# Ubuntu 24.04 live-server image (GRUB for BIOS and UEFI, appended EFI
# partition, md5sum.txt, the `ubuntu -> .` symlink), built with the flags
# Ubuntu's own images report (xorriso -report_el_torito as_mkisofs). It stands
# in for the 3 GB download wherever infra.installer runs in the tests.
set -euo pipefail
w=$1
src=$w/src
mkdir -p "$src/boot/grub/i386-pc" "$src/casper"
printf 'set timeout=30\nloadfont unicode\nmenuentry "Try or Install Ubuntu Server" {\n\tset gfxpayload=keep\n\tlinux\t/casper/vmlinuz  ---\n\tinitrd\t/casper/initrd\n}\n' \
	>"$src/boot/grub/grub.cfg"
cp "$src/boot/grub/grub.cfg" "$src/boot/grub/loopback.cfg"
head -c 4096 /dev/urandom >"$src/boot/grub/i386-pc/eltorito.img"
echo kernel >"$src/casper/vmlinuz"
echo initrd >"$src/casper/initrd"
# The real live-server ISO has this loop (ubuntu -> .).
ln -sfn . "$src/ubuntu"
(cd "$src" && find . -type f ! -name md5sum.txt -exec md5sum {} + >md5sum.txt)
head -c 512 /dev/zero >"$w/mbr.img"
head -c 1048576 /dev/zero >"$w/efi.img"
xorriso -as mkisofs -r -V 'Ubuntu-Server 24.04.3 LTS amd64' -o "$w/orig.iso" --grub2-mbr "$w/mbr.img" \
	-partition_offset 16 --mbr-force-bootable -append_partition 2 28732ac11ff8d211ba4b00a0c93ec93b "$w/efi.img" \
	-appended_part_as_gpt -iso_mbr_part_type a2a0d0ebe5b9334487c068b6b72699c7 -c /boot.catalog \
	-b /boot/grub/i386-pc/eltorito.img -no-emul-boot -boot-load-size 4 -boot-info-table --grub2-boot-info \
	-eltorito-alt-boot -e '--interval:appended_partition_2:::' -no-emul-boot "$src" >/dev/null 2>&1
