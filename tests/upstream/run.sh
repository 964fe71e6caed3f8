#!/usr/bin/env bash
# tests/upstream: the committed out/ (kept fresh by tests/golden) against facts
# taken from the upstream sources of what consumes it: the kernel, Prometheus,
# container images, Helm charts. Each fact file under facts/ names its source;
# each check names the rule it states (issue 10, "Defects to fix").
. "$(dirname "$0")/../lib.sh"
FACTS=$TOP/tests/upstream/facts
OUT=$TOP/out
YAML=$TOP/tests/node_modules/yaml
command -v node >/dev/null 2>&1 || fail "tool node" "node is not installed (make deps)"
[ -d "$YAML" ] || fail "tests/node_modules" "run make deps (npm ci in tests/)"

# docs FILE...: every YAML document of the files, as one JSON array (null docs dropped).
docs() {
	node -e '
		const YAML = require(process.argv[1]); const fs = require("fs"); const all = [];
		for (const f of process.argv.slice(2))
			for (const d of YAML.parseAllDocuments(fs.readFileSync(f, "utf8"))) { const j = d.toJS(); if (j) all.push(Object.assign(j, {__file: f})); }
		console.log(JSON.stringify(all));' "$YAML" "$@"
}

# ---- 3. CephFS kernel mount options: only what fs/ceph/super.c accepts.
mapfile -t sc < <(find "$OUT" -path '*/cluster/storage/*' -name '*.yaml' | sort)
if [ ${#sc[@]} -eq 0 ]; then
	fail "ceph: storage files found under out/"
else
	check "ceph: every kernel-mounter mountOption is in fs/ceph/super.c's parameter table" node -e '
		const fs = require("fs");
		const table = fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(" "));
		const ok = (opt) => {
			const [k, v] = opt.includes("=") ? [opt.slice(0, opt.indexOf("=")), opt.slice(opt.indexOf("=") + 1)] : [opt, null];
			return table.some(([n, kind]) => {
				if (v === null) return kind === "flag_no" && (k === n || k === "no" + n);
				if (n !== k) return false;
				if (kind === "value") return v !== "";
				if (kind.startsWith("enum:")) return kind.slice(5).split(",").includes(v);
				return false;
			});
		};
		const docs = JSON.parse(process.argv[2]); const bad = []; let n = 0;
		const visit = (d, where) => {
			if (Array.isArray(d)) return d.forEach((x) => visit(x, where));
			if (!d || typeof d !== "object") return;
			for (const [k, v] of Object.entries(d)) {
				if (k === "mountOptions" && Array.isArray(v)) for (const o of v) { n++; if (!ok(String(o))) bad.push(where + ": " + o); }
				else visit(v, where);
			}
		};
		for (const d of docs) visit(d, d.__file.replace(/.*\/out\//, "out/"));
		if (bad.length || n === 0) { console.log(n ? "not accepted by the kernel client: " + bad.join(", ") : "no mountOptions found"); process.exit(1); }' \
		"$FACTS/linux-fs-ceph-mount-options.txt" "$(docs "${sc[@]}")"
fi

# ---- 5. Every __meta_* label a Prometheus config reads is one the pinned
# Prometheus sets for that job's kubernetes_sd_configs role.
mapfile -t proms < <(find "$OUT" -path '*/prometheus/prometheus.yml' | sort)
pinned=$(node -e 'console.log(require(process.argv[1]).prometheus)' "$TOP/stdlib/versions.json")
if [ ! -f "$FACTS/prometheus-$pinned-kubernetes-sd-meta-labels.txt" ]; then
	fail "prometheus: meta-label facts for the pinned $pinned" "add facts/prometheus-$pinned-kubernetes-sd-meta-labels.txt from that tag's discovery/kubernetes/"
elif [ ${#proms[@]} -eq 0 ]; then
	fail "prometheus: configs found under out/"
else
	check "prometheus: every __meta_ label in the configs is set by Prometheus $pinned for the job's role" node -e '
		const fs = require("fs");
		const facts = fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(" "));
		const known = (role, label) => facts.some(([r, n]) => r === role &&
			(n.endsWith("*") ? label.startsWith(n.slice(0, -1)) && label.length > n.length - 1 : label === n));
		const bad = []; let n = 0;
		for (const cfg of JSON.parse(process.argv[2]))
			for (const job of cfg.scrape_configs || []) {
				const roles = (job.kubernetes_sd_configs || []).map((k) => k.role);
				const text = JSON.stringify([job.relabel_configs || [], job.metric_relabel_configs || []]);
				for (const m of text.matchAll(/__meta_[A-Za-z0-9_]+/g)) {
					let label = m[0];
					// a labelmap regex such as __meta_kubernetes_node_label_(.+) reads the prefix
					if (/_$/.test(label)) label += "x";
					n++;
					if (!roles.length || !roles.every((r) => known(r, label))) bad.push(cfg.__file.replace(/.*\/out\//, "out/") + ": job " + job.job_name + " (" + roles.join(",") + "): " + m[0]);
				}
			}
		if (bad.length || !n) { console.log(bad.length ? bad.join("\n") : "no __meta_ labels found"); process.exit(1); }' \
		"$FACTS/prometheus-$pinned-kubernetes-sd-meta-labels.txt" "$(docs "${proms[@]}")"
fi

# ---- 6. L2 announcements only from nodes whose firewall opens 80 and 443
# (a node holding the lease for a Gateway/Ingress address gets its traffic,
# cilium/cilium#26366), and never from a control-plane node (kubeadm's label
# node-role.kubernetes.io/control-plane).
for l2 in "$OUT"/*/cluster/network/resources/l2-announcements.yaml; do
	[ -f "$l2" ] || continue
	c=$(basename "$(dirname "$(dirname "$(dirname "$(dirname "$l2")")")")")
	check "$c: L2 policies exclude control-plane nodes and select only nodes whose firewall opens 80/443" node -e '
		const fs = require("fs"); const dir = process.argv[2];
		const model = JSON.parse(fs.readFileSync(dir + "/model.json", "utf8"));
		const pols = JSON.parse(process.argv[1]).filter((d) => d.kind === "CiliumL2AnnouncementPolicy");
		const bad = [];
		for (const p of pols) {
			const sel = p.spec.nodeSelector || {};
			const ex = (sel.matchExpressions || []).some((e) => e.key === "node-role.kubernetes.io/control-plane" && e.operator === "DoesNotExist");
			if (!ex) bad.push(p.metadata.name + ": nodeSelector does not exclude node-role.kubernetes.io/control-plane");
			const host = (sel.matchLabels || {})["kubernetes.io/hostname"];
			const nodes = host ? model.nodes.filter((n) => n.name === host) : model.nodes.filter((n) => n.role !== "control");
			for (const n of nodes) {
				if (n.role === "control") bad.push(p.metadata.name + ": selects control node " + n.name);
				const fw = fs.readFileSync(dir + "/nodes/" + n.name + "/steps/os.firewall.sh", "utf8");
				for (const port of ["80/tcp", "443/tcp"]) if (!new RegExp("^\\s*" + port + "\\b", "m").test(fw)) bad.push(p.metadata.name + ": " + n.name + "'"'"'s firewall has no " + port);
			}
		}
		if (!pols.length && model.workers.length) bad.push("no policies");
		if (bad.length) { console.log(bad.join("\n")); process.exit(1); }' "$(docs "$l2")" "$OUT/$c"
done

# ---- 7. The cluster steps that schedule pods on workers (the Ceph CSI
# provisioner and node plugin, ArgoCD) wait for every kubernetes.join
# explicitly, not through Cilium's helm --wait happening to block.
for plan in "$OUT"/*/plan.json; do
	c=$(basename "$(dirname "$plan")")
	check "$c: storage.ceph and gitops.argocd run after every kubernetes.join" node -e '
		const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
		const joins = p.steps.filter((s) => s.name === "kubernetes.join").map((s) => s.id);
		const bad = [];
		for (const s of p.steps.filter((s) => s.name === "storage.ceph" || s.name === "gitops.argocd"))
			for (const j of joins) if (!s.after.includes(j)) bad.push(s.id + " does not wait for " + j);
		if (bad.length) { console.log(bad.join("\n")); process.exit(1); }' "$plan"
done

# ---- 2. A file an init container writes into a volume the main container
# reads: with umask 077 (render-config.sh: the config holds the access token)
# only the same uid can read it, so the writer runs as the reader's uid. The
# images' default users are in facts/image-users.txt with their Dockerfiles.
mapfile -t bridges < <(grep -rl 'matrix-alertmanager-receiver:' "$OUT" --include='*.yaml' | sort)
if [ ${#bridges[@]} -eq 0 ]; then
	fail "bridge: deployment found under out/"
else
	check "bridge: the init container writing config.yaml runs as the receiver's uid (65532)" node -e '
		const fs = require("fs");
		const users = fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(" "));
		const imageUid = (img) => { const i = img.lastIndexOf(":"); const u = users.find(([n, t]) => n === img.slice(0, i) && t === img.slice(i + 1)); return u ? Number(u[2]) : undefined; };
		const bad = []; let n = 0;
		for (const d of JSON.parse(process.argv[2])) {
			const spec = d.spec && d.spec.template && d.spec.template.spec; if (!spec) continue;
			const uid = (c) => ((c.securityContext || {}).runAsUser ?? (spec.securityContext || {}).runAsUser ?? imageUid(c.image));
			for (const c of spec.containers.filter((c) => /matrix-alertmanager-receiver:/.test(c.image))) {
				const reads = new Set((c.volumeMounts || []).map((m) => m.name));
				for (const i of spec.initContainers || []) {
					if (!(i.volumeMounts || []).some((m) => reads.has(m.name) && !m.readOnly)) continue;
					n++;
					if (uid(i) === undefined || uid(i) !== uid(c)) bad.push(d.__file.replace(/.*\/out\//, "out/") + ": init " + i.name + " runs as " + uid(i) + ", " + c.name + " as " + uid(c));
				}
			}
		}
		if (bad.length || !n) { console.log(bad.length ? bad.join("\n") : "no writer found"); process.exit(1); }' \
		"$FACTS/image-users.txt" "$(docs "${bridges[@]}")"
fi

# ---- 4. DCGM exporter as upstream's DaemonSet (NVIDIA/dcgm-exporter
# 3.3.5-3.4.1 dcgm-exporter.yaml, deployment/templates/daemonset.yaml): no
# nvidia.com/gpu request (the GPUs come from the nvidia runtime class and
# NVIDIA_VISIBLE_DEVICES), and NODE_NAME from spec.nodeName, which
# GetHostname (pkg/dcgmexporter/gpu_collector.go) uses as the Hostname label.
mapfile -t dcgm < <(find "$OUT" -path '*/dcgm-exporter/daemonset.yaml' | sort)
if [ ${#dcgm[@]} -eq 0 ]; then
	fail "dcgm-exporter: DaemonSet found under out/"
else
	check "dcgm-exporter: no nvidia.com/gpu request; runtimeClass nvidia; NODE_NAME from spec.nodeName" node -e '
		const bad = [];
		for (const d of JSON.parse(process.argv[1]).filter((d) => d.kind === "DaemonSet")) {
			const s = d.spec.template.spec, f = d.__file.replace(/.*\/out\//, "out/");
			for (const c of s.containers) {
				if (JSON.stringify(c.resources || {}).includes("nvidia.com/gpu")) bad.push(f + ": " + c.name + " requests nvidia.com/gpu");
				const env = c.env || [];
				if (!env.some((e) => e.name === "NODE_NAME" && e.valueFrom && e.valueFrom.fieldRef && e.valueFrom.fieldRef.fieldPath === "spec.nodeName")) bad.push(f + ": " + c.name + " has no NODE_NAME from spec.nodeName");
				const vis = env.find((e) => e.name === "NVIDIA_VISIBLE_DEVICES");
				if (vis && vis.value !== "all") bad.push(f + ": NVIDIA_VISIBLE_DEVICES=" + vis.value);
			}
			if (s.runtimeClassName !== "nvidia") bad.push(f + ": runtimeClassName " + s.runtimeClassName);
		}
		if (bad.length) { console.log(bad.join("\n")); process.exit(1); }' "$(docs "${dcgm[@]}")"
fi

# ---- 1 (and 11). Every pod script runs in an image that exists at its tag and
# has the tools the script calls, so nothing is installed at run time (no
# apk add) and no removed tag stalls the sync (bitnami/kubectl:1.34).
mapfile -t appyaml < <(find "$OUT" -path '*/apps/*' -name '*.yaml' | sort)
if [ ${#appyaml[@]} -gt 0 ]; then
	check "pod scripts: each runs in an image listed in facts/image-tools.txt that has every tool it calls" node -e '
		const fs = require("fs"), path = require("path");
		const facts = fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(" "));
		const bad = []; let n = 0;
		for (const d of JSON.parse(process.argv[2])) {
			const spec = d.spec && d.spec.template && d.spec.template.spec; if (!spec) continue;
			for (const c of [...(spec.initContainers || []), ...spec.containers]) {
				const cmd = c.command || [];
				const script = cmd.find((a) => /^\/(scripts|templates)\/.*\.(sh|py)$/.test(a)); if (!script) continue;
				// the script file sits beside the manifest (configMapGenerator files)
				const file = path.join(path.dirname(d.__file), path.basename(script));
				if (!fs.existsSync(file)) { bad.push(d.__file + ": " + script + " not found beside it"); continue; }
				n++;
				const text = fs.readFileSync(file, "utf8").split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
				const fact = facts.find(([img]) => img === c.image);
				const where = d.__file.replace(/.*\/out\//, "out/") + ": " + c.name + " (" + c.image + ")";
				if (!fact) { bad.push(where + ": image not in facts/image-tools.txt"); continue; }
				const tools = fact[1].split(",");
				const interp = cmd[0].split("/").pop();
				if (!tools.includes(interp)) bad.push(where + ": no " + interp);
				for (const t of ["kubectl", "curl", "jq", "openssl", "python3", "apk", "apt-get"])
					if (new RegExp("(^|[\\s|;&(`$])" + t + "(\\s|$)", "m").test(text) && !tools.includes(t)) bad.push(where + ": " + path.basename(script) + " calls " + t + ", which the image lacks");
			}
		}
		if (bad.length || !n) { console.log(bad.length ? bad.join("\n") : "no pod scripts found"); process.exit(1); }' \
		"$FACTS/image-tools.txt" "$(docs "${appyaml[@]}")"
fi

# ---- 11. Smaller defects.
# node-exporter reports the node, not its pod: hostNetwork and hostPID as the
# upstream chart (prometheus-community/helm-charts prometheus-node-exporter
# values.yaml), and every node's firewall lets Prometheus reach 9100.
for ne in "$OUT"/*/apps/monitoring/node-exporter/daemonset.yaml; do
	[ -f "$ne" ] || continue
	c=$(basename "$(dirname "$(dirname "$(dirname "$(dirname "$ne")")")")")
	check "$c: node-exporter hostNetwork + hostPID; every node's firewall opens 9100/tcp" node -e '
		const fs = require("fs"); const d = JSON.parse(process.argv[1])[0].spec.template.spec; const bad = [];
		if (d.hostNetwork !== true) bad.push("no hostNetwork"); if (d.hostPID !== true) bad.push("no hostPID");
		for (const n of JSON.parse(fs.readFileSync(process.argv[2] + "/model.json", "utf8")).nodes) {
			const fw = fs.readFileSync(process.argv[2] + "/nodes/" + n.name + "/steps/os.firewall.sh", "utf8");
			if (!/^\s*9100\/tcp\b/m.test(fw)) bad.push(n.name + ": firewall has no 9100/tcp");
		}
		if (bad.length) { console.log(bad.join("\n")); process.exit(1); }' "$(docs "$ne")" "$OUT/$c"
done
# Synapse: federation off on purpose (private server name, no TLS listener),
# so no 8448 is exposed and Synapse is told so.
for mx in "$OUT"/*/apps/monitoring/matrix; do
	[ -d "$mx" ] || continue
	check "matrix: federation is off consistently (federation_domain_whitelist [], no 8448 port)" bash -c '
		grep -q "^conf\[\"federation_domain_whitelist\"\] = \[\]$" "$1/configure.py" && ! grep -rEq "(containerPort|port|targetPort): *8448" "$1"/*.yaml' _ "$mx"
done
# DCGM metrics: every DCGM_FI_ field a dashboard or rule reads is collected by
# the pinned exporter's collectors file; panels on profiling fields say that
# consumer GPUs have none.
dcgm_ver=$(node -e 'console.log(require(process.argv[1]).dcgm_exporter.replace(/-ubuntu.*$/, ""))' "$TOP/stdlib/versions.json")
mapfile -t dash < <(find "$OUT" \( -path '*/grafana/dashboards/*.json' -o -name 'alert-rules.yaml' \) | sort)
if [ ${#dash[@]} -gt 0 ]; then
	check "dcgm: dashboards and rules read only fields dcgm-exporter $dcgm_ver collects; profiling panels say consumer GPUs lack them" node -e '
		const fs = require("fs");
		const have = new Set(fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l && !l.startsWith("#")));
		const bad = [];
		for (const f of process.argv.slice(2)) {
			const text = fs.readFileSync(f, "utf8");
			for (const m of text.matchAll(/DCGM_FI_[A-Z0-9_]+/g)) if (!have.has(m[0])) bad.push(f.replace(/.*\/out\//, "out/") + ": " + m[0] + " is not collected");
			if (f.endsWith(".json"))
				for (const p of JSON.parse(text).panels || [])
					if (JSON.stringify(p.targets || []).includes("DCGM_FI_PROF_") &&
						!(p.fieldConfig && p.fieldConfig.defaults && p.fieldConfig.defaults.noValue && /data-center/.test(p.description || "")))
						bad.push(f.replace(/.*\/out\//, "out/") + ": panel \"" + p.title + "\" reads profiling fields without saying consumer GPUs have none");
		}
		if (bad.length) { console.log([...new Set(bad)].join("\n")); process.exit(1); }' \
		"$FACTS/dcgm-exporter-$dcgm_ver-dcp-metrics-included.txt" "${dash[@]}"
fi
# kubeadm certSANs: each name once.
mapfile -t kinit < <(find "$OUT" -name 'kubeadm-init.yaml' | sort)
if [ ${#kinit[@]} -gt 0 ]; then
	check "kubeadm: certSANs list each name once" node -e '
		const bad = [];
		for (const d of JSON.parse(process.argv[1]).filter((d) => d.kind === "ClusterConfiguration")) {
			const sans = (d.apiServer || {}).certSANs || [];
			const dup = sans.filter((x, i) => sans.indexOf(x) !== i);
			if (dup.length) bad.push(d.__file.replace(/.*\/out\//, "out/") + ": " + dup.join(", ") + " twice");
		}
		if (bad.length) { console.log(bad.join("\n")); process.exit(1); }' "$(docs "${kinit[@]}")"
fi

finish
