#!/usr/bin/env bash
# tests/consumers: the programs that read the generated artifacts, run on every
# committed out/<cluster>/ (issue 10, "Real consumers in the tests"): promtool,
# amtool, cloud-init schema, netplan generate, visudo, tomllib, Grafana datasource
# uids, and the Proxmox API requests of the proxmox.* steps against the official
# API schema (proxmox_api.sh); also on a cluster generated here.
# Debian's tools may be older than the pinned components: the skew is printed
# in the test names, never skipped.
. "$(dirname "$0")/../lib.sh"
OUT=$TOP/out
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
for tool in promtool amtool cloud-init visudo; do
	command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
	command -v "$tool" >/dev/null 2>&1 || fail "tool $tool" "$tool is not installed (make deps)"
done
pinned() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TOP/stdlib/versions.json" "$1"; }
. "$(dirname "$0")/proxmox_api.sh"
PROMTOOL_V=$(promtool --version 2>&1 | awk 'NR==1{print $3}')
AMTOOL_V=$(amtool --version 2>&1 | awk 'NR==1{print $3}')

# A generated cluster beside the examples, for what they do not combine: two
# Proxmox hosts (root@pam password with a raw GPU, API token with a PCI
# mapping), three control planes across both, a per-VM storage, a bare-metal
# worker among the VMs, monitoring without Matrix alerting, no Ceph.
GEN=$TMP/generated
mkdir -p "$GEN"
cat >"$GEN/gen.cluster" <<'CLUSTER'
cluster gen {
  kubernetes       = "1.34"
  crio             = "1.34"
  domain           = "gen.example.net"
  control_endpoint = 10.30.0.10
  ssh {
    user       = "deploy"
    key        = "~/.ssh/gen_ed25519"
    public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGenGenGenGenGenGenGenGenGenGenGenGenGenGenGenG deploy@gen"
  }
}
proxmox pve-pw {
  endpoint    = "https://pve1.gen.example.net:8006"
  user        = "root@pam"
  password    = secret("PVE1_PASSWORD")
  node        = "pve1"
  storage     = "local-zfs"
  iso_storage = "isos"
  bridge      = "vmbr1"
  fingerprint = "sha256:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0"
}
proxmox pve-tok {
  endpoint = "https://pve2.gen.example.net:8006"
  token_id = "ci@pve!apply"
  token    = secret("PVE2_TOKEN")
  node     = "pve2"
  storage  = "ceph-vm"
}
network {
  gateway     = 10.30.0.1
  nameservers = [10.30.0.2]
  lb_pool     = 10.30.0.200/29
}
node cp-1 {
  role = control
  ip   = 10.30.0.11/24
  vm { on = pve-pw  id = 301  cores = 2  memory = 4GiB  disk = 40GiB }
}
node cp-2 {
  role = control
  ip   = 10.30.0.12/24
  vm { on = pve-tok  id = 302  cores = 2  memory = 4GiB  disk = 40GiB }
}
node cp-3 {
  role = control
  ip   = 10.30.0.13/24
  vm { on = pve-pw  id = 303  cores = 2  memory = 4GiB  disk = 40GiB  storage = "fast-nvme" }
}
node gpu-raw {
  role = worker
  ip   = 10.30.0.21/24
  gpu { pci = "0000:02:00"  model = "RTX 3060" }
  vm { on = pve-pw  id = 321  cores = 6  memory = 24GiB  disk = 120GiB }
}
node gpu-map {
  role   = worker
  ip     = 10.30.0.22/24
  taints = ["nvidia.com/gpu=present:NoSchedule"]
  gpu { mapping = "a2000"  model = "RTX A2000" }
  vm { on = pve-tok  id = 322  cores = 6  memory = 24GiB  disk = 120GiB }
}
node metal-1 {
  role = worker
  ip   = 10.30.0.40/24
  ssh { port = 2222 }
}
monitoring {
  gpu_temperature_alert = 75
  prometheus { retention = 168h }
}
argocd {
  repo = "ssh://git@git.gen.example.net:2222/platform/gen.git"
}
CLUSTER
check "generated cluster: clusterc build" clusterc build "$GEN/gen.cluster" -o "$GEN/out"

pve_mock_start || fail "Proxmox simulator starts" "$(cat "$TMP/pve.err" 2>/dev/null)"
for root in "$OUT"/*/ "$GEN"/out/*/; do
	c=$(basename "$root") base=$(dirname "$root")
	[ -f "$root/plan.json" ] || continue
	# ---- Prometheus: promtool on a copy without kubernetes_sd_configs (Debian
	# builds promtool without Kubernetes discovery); the sd blocks' keys and roles
	# checked against v2.48.0's SDConfig (discovery/kubernetes/kubernetes.go).
	while IFS= read -r cfg; do
		d=$(dirname "$cfg") w=$TMP/$c/prom
		mkdir -p "$w"
		cp "$d"/*.yaml "$d"/*.yml "$w/" 2>/dev/null
		check "$c: kubernetes_sd_configs use only Prometheus $(pinned prometheus) keys and roles" "$PY" - "$cfg" <<'PY'
import sys, yaml
keys = {"api_server", "role", "kubeconfig_file", "namespaces", "selectors", "attach_metadata",
        "basic_auth", "authorization", "oauth2", "bearer_token", "bearer_token_file", "tls_config",
        "proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header",
        "follow_redirects", "enable_http2"}
roles = {"node", "pod", "service", "endpoints", "endpointslice", "ingress"}
bad = []
for job in yaml.safe_load(open(sys.argv[1])).get("scrape_configs", []):
    for sd in job.get("kubernetes_sd_configs", []):
        bad += ["%s: key %s" % (job["job_name"], k) for k in sd if k not in keys]
        if sd.get("role") not in roles: bad.append("%s: role %s" % (job["job_name"], sd.get("role")))
        bad += ["%s: namespaces.%s" % (job["job_name"], k) for k in sd.get("namespaces", {}) if k not in ("own_namespace", "names")]
if bad: sys.exit("\n".join(bad))
PY
		"$PY" - "$cfg" "$w/prometheus.yml" "$w" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
for job in c.get("scrape_configs", []):
    if job.pop("kubernetes_sd_configs", None) is not None: job.setdefault("static_configs", [{"targets": []}])
c["rule_files"] = [sys.argv[3] + "/" + r.rsplit("/", 1)[-1] for r in c.get("rule_files", [])]
# The pod's service-account mount, which promtool stats, stands in under the work dir.
sa = "/var/run/secrets/kubernetes.io/serviceaccount/"
open(sys.argv[2], "w").write(yaml.safe_dump(c).replace(sa, sys.argv[3] + "/sa/"))
PY
		mkdir -p "$w/sa" && : >"$w/sa/token" && : >"$w/sa/ca.crt"
		check "$c: promtool $PROMTOOL_V check config (pinned Prometheus $(pinned prometheus))" promtool check config "$w/prometheus.yml"
		# Every PromQL expression of the rules and the dashboards, parsed by promtool
		# as recording rules.
		"$PY" - "$w/exprs.yaml" "$d"/*rules*.yaml "$d"/../grafana/dashboards/*.json <<'PY'
import json, sys, yaml
exprs = []
for f in sys.argv[2:]:
    if f.endswith(".json"):
        for p in json.load(open(f)).get("panels", []):
            exprs += [t["expr"] for t in p.get("targets", []) if "expr" in t]
    else:
        for g in yaml.safe_load(open(f)).get("groups", []):
            exprs += [r["expr"] for r in g.get("rules", [])]
rules = [{"record": "clusterc:expr%d" % i, "expr": e} for i, e in enumerate(exprs)]
yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}, open(sys.argv[1], "w"))
PY
		check "$c: every PromQL expression in rules and dashboards parses (promtool $PROMTOOL_V)" promtool check rules "$w/exprs.yaml"
		for r in "$d"/*rules*.yaml; do
			check "$c: promtool check rules ${r#"$base"/}" promtool check rules "$r"
		done
	done < <(find "$root" -name prometheus.yml | sort)
	# ---- Alertmanager
	while IFS= read -r f; do
		check "$c: amtool $AMTOOL_V check-config ${f#"$base"/} (pinned Alertmanager $(pinned alertmanager))" amtool check-config "$f"
	done < <(find "$root" -name alertmanager.yml | sort)
	# ---- Grafana: panel datasource uids exist; dashboard uids unique.
	while IFS= read -r ds; do
		check "$c: Grafana panels name provisioned datasource uids; dashboard uids unique" "$PY" - "$ds" "$(dirname "$ds")"/dashboards/*.json <<'PY'
import json, sys, yaml
uids = {d.get("uid") for d in yaml.safe_load(open(sys.argv[1])).get("datasources", [])}
bad, seen = [], {}
for f in sys.argv[2:]:
    d = json.load(open(f))
    if d.get("uid") in seen: bad.append("dashboard uid %s twice" % d.get("uid"))
    seen[d.get("uid")] = f
    for p in d.get("panels", []):
        for x in [p] + p.get("targets", []):
            u = (x.get("datasource") or {}).get("uid")
            if u is not None and u not in uids: bad.append("%s: panel %s: datasource uid %s" % (f, p.get("title"), u))
if bad: sys.exit("\n".join(bad))
PY
	done < <(find "$root" -name datasources.yaml | sort)
	# ---- the autoinstall's user-data for the installed system, and the sudoers
	# file its late-command writes (run with the path moved under $TMP).
	while IFS= read -r ud; do
		n=$(basename "$(dirname "$ud")") w=$TMP/$c/ai-$n
		mkdir -p "$w"
		check "$c: cloud-init schema on the autoinstall of $n" cloud-init schema -c "$ud"
		"$PY" - "$ud" "$w" <<'PY'
import sys, yaml
ai = yaml.safe_load(open(sys.argv[1]))["autoinstall"]
with open(sys.argv[2] + "/user-data", "w") as f:
    f.write("#cloud-config\n" + yaml.safe_dump(ai.get("user-data", {})))
for i, cmd in enumerate(ai.get("late-commands", [])):
    if isinstance(cmd, list) and "sudoers" in " ".join(cmd):
        with open(sys.argv[2] + "/sudoers-cmd.%d" % i, "w") as f: f.write("\0".join(cmd[cmd.index("--") + 1:]))
PY
		check "$c: cloud-init schema on $n's installed-system user-data" cloud-init schema -c "$w/user-data"
		# The netplan the installer writes to the target, then with the file
		# os.network adds (60-clusterc.yaml, interface name filled in).
		mkdir -p "$w/root/etc/netplan"
		"$PY" -c 'import sys, yaml; ai = yaml.safe_load(open(sys.argv[1]))["autoinstall"]; open(sys.argv[2], "w").write(yaml.safe_dump({"network": ai["network"]}))' \
			"$ud" "$w/root/etc/netplan/50-cloud-init.yaml" && chmod 600 "$w/root/etc/netplan/50-cloud-init.yaml"
		check "$c: netplan generate on the netplan $n's autoinstall writes" netplan generate --root-dir "$w/root"
		if [ -f "$root/nodes/$n/os/netplan.yaml" ]; then
			sed 's/__CLUSTERC_INTERFACE__/ens18/' "$root/nodes/$n/os/netplan.yaml" >"$w/root/etc/netplan/60-clusterc.yaml"
			chmod 600 "$w/root/etc/netplan/60-clusterc.yaml"
			check "$c: netplan generate with $n's os.network file added" netplan generate --root-dir "$w/root"
		fi
		for s in "$w"/sudoers-cmd.*; do
			[ -f "$s" ] || continue
			mapfile -d '' argv <"$s"
			argv[2]=${argv[2]//\/etc\/sudoers.d\//$w\/}
			argv[2]=${argv[2]//visudo -cf/true}
			# Run it only when no path outside the work dir is left: this machine's
			# own /etc/sudoers.d must never be written.
			if [[ ${argv[2]} == */etc/* ]]; then
				fail "$c: $n's sudoers late-command writes only under the work dir" "${argv[2]}"
				continue
			fi
			"${argv[@]}" >/dev/null 2>&1
			check "$c: visudo -cf on the sudoers file $n's late-command writes" visudo -cf "$w/90-clusterc"
		done
	done < <(find "$root" -path '*/autoinstall/*/user-data' | sort)
	# ---- TOML: *.toml and the CRI-O drop-ins.
	while IFS= read -r f; do
		check "$c: ${f#"$base"/} parses (tomllib)" "$PY" -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$f"
	done < <(find "$root" \( -name '*.toml' -o -path '*/gpu/99-nvidia.conf' \) | sort)
	# ---- the Proxmox API requests its proxmox.* steps send
	[ -n "${PVE_MOCK:-}" ] && pve_requests_check "$c" "$root"
done
[ -f "$TMP/homelab/pve/requests.log" ] && pve_negative_cases "$TMP/homelab/pve/requests.log"
finish
