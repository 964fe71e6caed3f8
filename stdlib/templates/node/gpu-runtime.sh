#!/usr/bin/env bash
set -euo pipefail
# gpu.runtime on {{ node.name }}: NVIDIA Container Toolkit and the CRI-O `nvidia` runtime
# handler. The handler is never the default runtime: GPU pods ask for it through the
# RuntimeClass `nvidia` (handler: nvidia).
#
# The drop-in is written here rather than by `nvidia-ctk runtime configure`, which reads
# /etc/crio/crio.conf (unused by the packaged CRI-O) and so leaves out monitor_path;
# CRI-O >= 1.33 then fails with '"conmon" not found in $PATH'. runc, crun and conmon live
# in /usr/libexec/crio, off $PATH, so nvidia-container-runtime gets their full paths too.
CC_STEP=gpu.runtime
# shellcheck source=SCRIPTDIR/../../../common/prelude.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../common/prelude.sh"

cc_apt_repo nvidia-container-toolkit https://nvidia.github.io/libnvidia-container/gpgkey \
	/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg \
	"deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://nvidia.github.io/libnvidia-container/stable/deb/\$(ARCH) /"
# (apt itself replaces $(ARCH) with the machine's architecture.)
cc_apt_install nvidia-container-toolkit

changed=0
cc_write_file /etc/crio/crio.conf.d/99-nvidia.conf 0644 <nodes/{{ node.name }}/gpu/99-nvidia.conf
[ "$CC_WROTE" = 0 ] || changed=1

# nvidia-container-runtime's config: the package's file with only the `runtimes` line of
# [nvidia-container-runtime] replaced; the shipped default when there is no file yet.
cfg=/etc/nvidia-container-runtime/config.toml
runtimes='runtimes = ["/usr/libexec/crio/runc", "/usr/libexec/crio/crun"]'
if [ -f "$cfg" ]; then
	cc_write_file "$cfg" 0644 < <(awk -v want="$runtimes" '
		/^[[:space:]]*\[/ {
			if (insec && !done) { print want; done = 1 }
			insec = ($0 ~ /^[[:space:]]*\[nvidia-container-runtime\][[:space:]]*$/)
			print; next
		}
		insec && /^[[:space:]]*#?[[:space:]]*runtimes[[:space:]]*=/ { if (!done) print want; done = 1; next }
		{ print }
		END { if (insec && !done) print want; else if (!done) { print ""; print "[nvidia-container-runtime]"; print want } }
	' "$cfg")
else
	cc_write_file "$cfg" 0644 <nodes/{{ node.name }}/gpu/nvidia-container-runtime.toml
fi
[ "$CC_WROTE" = 0 ] || changed=1

if [ "$changed" = 1 ] && systemctl is-active --quiet crio; then
	cc_service_restart crio
fi
