# shellcheck shell=bash
# ship.sh DIR RUNID: unpacks the bundle, a tar stream on stdin, into
# DIR/bundle.RUNID, points DIR/bundle at it by an atomic symlink rename, and
# removes older bundles (compiler/run/ship.c). Exits non-zero on failure.
#
# This header (the leading '#' lines and the blank line after them) is for
# readers and ShellCheck; run/remote.c sends the rest, as `bash -c`.

D=$1 n=bundle.$2
mkdir -p "$D" && rm -rf "${D:?}/$n" && mkdir "$D/$n" &&
tar -xf - -C "$D/$n" --no-same-owner || exit 1
[ ! -e "$D/bundle" ] || [ -L "$D/bundle" ] || rm -rf "$D/bundle"
ln -sfn "$n" "$D/bundle.lnk" && mv -Tf "$D/bundle.lnk" "$D/bundle" || exit 1
for o in "$D"/bundle.*; do
  case ${o##*/} in "$n"|bundle.lnk) ;; *) rm -rf "$o";; esac
done
