#!/usr/bin/env bash
# tests/addons: the cluster add-ons of issue 4 (stdlib/components/{network,storage,
# gpu,gitops,apps,monitoring}.json and their templates), offline.
#
# Each add-on tree is rendered for the hand-written models in fixtures/ (homelab,
# ha, bare: the shapes stdlib/README.md gives) and for the models the front end
# makes of clusters/*.cluster, then checked: `kubectl kustomize` builds every
# tree; every document validates (tests/schema/validate.js: kubernetes-models,
# ArgoCD and Gateway API models, strict CRD schemas from shared/reference);
# Helm values use only keys the pinned charts define; every step script passes
# ShellCheck and bash -n and starts as the step protocol requires; the pod
# scripts pass ShellCheck as POSIX sh; the Grafana dashboards are valid JSON
# with the expected panels; each feature is present exactly when its block is;
# rendering is deterministic; the Ceph and ArgoCD steps, run against stub
# kubectl/helm, keep secret values off disk and argv and out of their output.
. "$(dirname "$0")/../lib.sh"

RENDER=$BUILD/tools/render
REF=$SHARED/reference
ADDONS=(lib network storage gpu gitops apps monitoring)
VALIDATE=("node" "$TOP/tests/schema/validate.js")
HELMV=("node" "$TOP/tests/schema/helm-values.js")

if [ ! -x "$RENDER" ]; then
	fail "render tool" "$RENDER is missing: run make first"
	finish
	exit 1
fi
for tool in kubectl shellcheck node python3; do
	command -v "$tool" >/dev/null 2>&1 || fail "tool $tool" "$tool is not installed (make deps)"
done

# plan NAME MODEL: renders the add-ons for MODEL into $TMP/NAME.
plan() {
	local out
	if out=$(node "$TOP/tests/addons/plan-lite.js" "$RENDER" "$TOP/stdlib" "$2" "$TMP/$1" "${ADDONS[@]}" 2>&1); then
		printf '%s\n' "$out" >"$TMP/$1.steps"
		pass "$1: add-ons render"
	else
		fail "$1: add-ons render" "$out"
		return 1
	fi
}

# has NAME FILE PATTERN / hasnt NAME FILE PATTERN: grep -E checks on one file.
has() {
	if [ -f "$2" ] && grep -Eq -- "$3" "$2"; then pass "$1"; else fail "$1" "no /$3/ in ${2#"$TMP"/}"; fi
}
hasnt() {
	if [ ! -f "$2" ] || ! grep -Eq -- "$3" "$2"; then pass "$1"; else fail "$1" "unexpected /$3/ in ${2#"$TMP"/}"; fi
}
exists() { if [ -e "$TMP/$2" ]; then pass "$1"; else fail "$1" "missing $2"; fi; }
absent() { if [ ! -e "$TMP/$2" ]; then pass "$1"; else fail "$1" "should not exist: $2"; fi; }

# generic NAME: the checks every rendered tree gets.
generic() {
	local name=$1 root=$TMP/$1 dir k out="" f n=0 bad=""
	# Every kustomization builds, and what it builds validates (one validator
	# run for the whole tree).
	local built=()
	while IFS= read -r k; do
		dir=$(dirname "$k")
		n=$((n + 1))
		if out=$(kubectl kustomize "$dir" 2>&1 >"$dir.built.yaml"); then
			built+=("$dir.built.yaml")
		else
			bad+="${dir#"$root"/}: kustomize: $out"$'\n'
		fi
	done < <(find "$root" -name kustomization.yaml | sort)
	if [ ${#built[@]} -gt 0 ] && ! out=$("${VALIDATE[@]}" "${built[@]}" 2>&1); then bad+="$out"$'\n'; fi
	if [ -z "$bad" ]; then pass "$name: $n kustomize trees build; their documents validate (${out##*validate: })"; else fail "$name: kustomize + schemas" "$bad"; fi
	if [ ${#built[@]} -gt 0 ]; then
		check "$name: ConfigMap and Secret references resolve" node "$TOP/tests/addons/refs.js" "${built[@]}"
	fi

	# Step scripts: header, bash -n, ShellCheck.
	bad=""
	n=0
	for f in "$root"/cluster/steps/{network,storage,gpu,gitops,apps}.*.sh; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if [ "$(head -n 2 "$f")" != $'#!/usr/bin/env bash\nset -euo pipefail' ] &&
			[ "$(sed -n '1p;/^set -euo pipefail$/{p;q}' "$f" | head -n 2)" != $'#!/usr/bin/env bash\nset -euo pipefail' ]; then
			bad+="${f#"$root"/}: does not start with the shebang and set -euo pipefail"$'\n'
		fi
		bash -n "$f" 2>/dev/null || bad+="${f#"$root"/}: bash -n failed"$'\n'
		out=$(shellcheck -x -s bash "$f" 2>&1) || bad+="$out"$'\n'
	done
	if [ -z "$bad" ]; then pass "$name: $n step scripts: header, bash -n, ShellCheck clean"; else fail "$name: step scripts" "$bad"; fi
	bad=""
	while IFS= read -r f; do
		out=$(shellcheck -s sh "$f" 2>&1) || bad+="$out"$'\n'
	done < <(find "$root/apps" -name '*.sh' 2>/dev/null)
	if [ -z "$bad" ]; then pass "$name: pod scripts ShellCheck clean (sh)"; else fail "$name: pod scripts" "$bad"; fi
	while IFS= read -r f; do
		check "$name: ${f#"$root"/} compiles" python3 -c 'import ast,sys; ast.parse(open(sys.argv[1]).read())' "$f"
	done < <(find "$root/apps" -name '*.py' 2>/dev/null)

	# Helm values: only keys of the pinned charts (+ the documented exceptions).
	if [ -f "$root/cluster/network/cilium-values.yaml" ]; then
		check "$name: Cilium values use only chart keys and pass values.schema.json" \
			"${HELMV[@]}" "$REF/cilium/cilium-1.18.1-values.yaml" "$root/cluster/network/cilium-values.yaml" \
			--schema "$REF/cilium/cilium-1.18.1-values.schema.json" --allow kubeProxyReplacement --allow devices
	else
		fail "$name: Cilium values" "missing: the network component always renders"
	fi
	if [ -f "$root/cluster/storage/ceph-csi-values.yaml" ]; then
		check "$name: Ceph CSI values use only chart keys" \
			"${HELMV[@]}" "$REF/ceph-csi/ceph-csi-cephfs-v3.9.0-values.yaml" "$root/cluster/storage/ceph-csi-values.yaml"
	fi
	# JSON files (dashboards, builtin args) parse.
	while IFS= read -r f; do
		check "$name: ${f#"$root"/} is valid JSON" node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$f"
	done < <(find "$root/cluster" "$root/apps" -name '*.json' 2>/dev/null | sort)
	# Every YAML file parses (values, configuration files inside the trees).
	local yamls=()
	mapfile -t yamls < <(find "$root/cluster" "$root/apps" \( -name '*.yaml' -o -name '*.yml' \) 2>/dev/null | sort)
	check "$name: every YAML file parses" node -e '
		const YAML = require(process.argv[1]); const fs = require("fs");
		for (const f of process.argv.slice(2))
			for (const d of YAML.parseAllDocuments(fs.readFileSync(f, "utf8")))
				if (d.errors.length) { console.log(f + ": " + d.errors[0].message); process.exit(1); }' \
		"$TOP/tests/node_modules/yaml" "${yamls[@]}"
}

# ---- render
for m in homelab ha bare; do
	plan "$m" "$TOP/tests/addons/fixtures/$m.model.json" && generic "$m"
done

# A private copy of the binary: other work may rebuild ./clusterc meanwhile.
cp "$CLUSTERC_BIN" "$TMP/clusterc-bin"
CLUSTERC_BIN=$TMP/clusterc-bin

# The examples, built by clusterc itself, with marker values in the
# environment for every secret() they name: no marker may reach out/.
for c in "$TOP"/clusters/*.cluster; do
	c=$(basename "$c" .cluster)
	mapfile -t names < <(grep -o 'secret("[A-Za-z_][A-Za-z0-9_]*")' "$TOP/clusters/$c.cluster" | sed 's/secret("\(.*\)")/\1/' | sort -u)
	envs=()
	for s in "${names[@]}"; do envs+=("$s=CLUSTERC_MARKER_${s}_b64QUJD+/=="); done
	if (cd "$TOP/clusters" && env "${envs[@]}" "$CLUSTERC_BIN" build "$c.cluster" -o "$TMP/built") >"$TMP/build-$c.log" 2>&1; then
		pass "example $c: clusterc build"
	else
		fail "example $c: clusterc build" "$(cat "$TMP/build-$c.log")"
		continue
	fi
	if grep -rl 'CLUSTERC_MARKER_' "$TMP/built" >"$TMP/markers" 2>/dev/null; then
		fail "example $c: no secret value under out/" "$(cat "$TMP/markers")"
	else
		pass "example $c: no secret value under out/ (${#names[@]} secrets set)"
	fi
done
for d in "$TMP"/built/*/; do
	c=$(basename "$d")
	mv "$d" "$TMP/example-$c"
	generic "example-$c"
done

# ---- determinism: the same model renders the same bytes.
if node "$TOP/tests/addons/plan-lite.js" "$RENDER" "$TOP/stdlib" "$TOP/tests/addons/fixtures/homelab.model.json" \
	"$TMP/homelab-again" "${ADDONS[@]}" >/dev/null 2>&1; then
	check "homelab: rendering is deterministic" diff -r -x '*.built.yaml' "$TMP/homelab" "$TMP/homelab-again"
fi

# The same cluster file builds the same bytes.
if (cd "$TOP/clusters" && "$CLUSTERC_BIN" build homelab.cluster -o "$TMP/again1" &&
	"$CLUSTERC_BIN" build homelab.cluster -o "$TMP/again2") >/dev/null 2>&1; then
	check "example homelab: building twice gives the same bytes" diff -r "$TMP/again1/homelab" "$TMP/again2/homelab"
fi

# The bridge's init container quotes Secret values as YAML strings, whatever
# they hold: the config must read back to exactly the values it was given.
BR=$TMP/homelab/apps/monitoring/alertmanager-matrix-bridge
mkdir -p "$TMP/bridge"
if (export CONFIG_DIR=$TMP/bridge TEMPLATES_DIR=$BR MATRIX_URL='http://matrix.monitoring.svc:8008' \
	MATRIX_USER_ID='@alertbot-1700000000:matrix.k8s.local' \
	MATRIX_ACCESS_TOKEN='syt_a"b\c: #d'"'"'e {f} [g] &h *i !j %k' \
	MATRIX_ROOM_ID='!AbCdEf:matrix.k8s.local'; sh "$BR/render-config.sh") >"$TMP/bridge.log" 2>&1; then
	check "bridge config: Secret values read back exactly; templating kept" node -e '
		const YAML = require(process.argv[1]); const fs = require("fs");
		const c = YAML.parse(fs.readFileSync(process.argv[2], "utf8"));
		const ok = c.matrix["user-id"] === "@alertbot-1700000000:matrix.k8s.local" &&
			c.matrix["access-token"] === process.argv[3] && c.matrix["room-mapping"].default === "!AbCdEf:matrix.k8s.local" &&
			c.http.port === 3000 && /\{\{ \.Alert\.Labels\.alertname \}\}/.test(c.templating["firing-template"]);
		process.exit(ok ? 0 : 1);' "$TOP/tests/node_modules/yaml" "$TMP/bridge/config.yaml" 'syt_a"b\c: #d'"'"'e {f} [g] &h *i !j %k'
else
	fail "bridge config: render-config.sh runs" "$(cat "$TMP/bridge.log")"
fi

# ---- homelab: gateway_api, wireguard, L2, Ceph, GPU, GitLab ArgoCD, monitoring + Matrix
H=$TMP/homelab
V=$H/cluster/network/cilium-values.yaml
has "homelab: kubeProxyReplacement" "$V" '^kubeProxyReplacement: true$'
has "homelab: k8sServiceHost is the control endpoint" "$V" '^k8sServiceHost: "?192\.168\.1\.180"?$'
has "homelab: WireGuard" "$V" '^  type: wireguard$'
has "homelab: L2 announcements" "$V" '^l2announcements:$'
has "homelab: k8sClientRateLimit" "$V" '^k8sClientRateLimit:$'
has "homelab: devices default" "$V" '^devices: \["en\+", "eth\+"\]$'
has "homelab: gatewayAPI" "$V" '^gatewayAPI:$'
hasnt "homelab: no ingressController" "$V" '^ingressController:'
has "homelab: hubble relay" "$H/cluster/network/cilium-values.yaml" '^  relay:$'
has "homelab: IP pool from lb_pool" "$H/cluster/network/resources/lb-ippool.yaml" 'cidr: "?192\.168\.1\.193/27"?$'
check "homelab: one L2 policy per worker, each selecting its node, none a control-plane node" node -e '
	const YAML = require(process.argv[1]); const fs = require("fs");
	const docs = YAML.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8")).map((d) => d.toJS()).filter(Boolean);
	const names = docs.map((d) => d.spec.nodeSelector.matchLabels["kubernetes.io/hostname"]);
	if (JSON.stringify(names) !== JSON.stringify(["k8s-node-1"])) { console.log(names); process.exit(1); }
	if (!docs.every((d) => d.spec.nodeSelector.matchExpressions.some((e) => e.key === "node-role.kubernetes.io/control-plane" && e.operator === "DoesNotExist"))) process.exit(1);
	if (!docs.every((d) => d.spec.interfaces.length && d.spec.loadBalancerIPs)) process.exit(1);' \
	"$TOP/tests/node_modules/yaml" "$H/cluster/network/resources/l2-announcements.yaml"
has "homelab: Hubble UI route at hubble.<domain>" "$H/cluster/network/resources/hubble-route.yaml" 'hubble\.k8s\.local'
n=$(find "$H/cluster/network/vendor/gateway-api" -name 'gateway.networking.k8s.io_*.yaml' | wc -l)
if [ "$n" = 6 ]; then pass "homelab: 6 Gateway API CRDs (5 standard + TLSRoute)"; else fail "homelab: Gateway API CRDs" "$n files"; fi
S=$H/cluster/steps/network.cilium.sh
if [ "$(grep -n 'cluster/network/vendor/gateway-api' "$S" | head -1 | cut -d: -f1)" -lt "$(grep -n 'cc_helm_release cilium' "$S" | cut -d: -f1)" ]; then
	pass "homelab: Gateway API CRDs are applied before the Cilium chart"
else
	fail "homelab: Gateway API CRDs first" "order wrong in $S"
fi
has "homelab: restart of pods Cilium does not manage" "$S" 'delete pod'
C=$H/cluster/storage/ceph-csi-values.yaml
has "homelab: csiConfig clusterID = fsid" "$C" 'clusterID: "?6c1b5a2e-1d4f-4f3e-9a55-0c3f2d7b9e11'
has "homelab: cephconf mon_host" "$C" 'mon_host = 192\.168\.1\.10:6789'
has "homelab: 1 provisioner with 1 worker" "$C" '^  replicaCount: 1$'
has "homelab: chart does not create the secret" "$C" '^  create: false$'
has "homelab: cephfs is the default class" "$C" 'is-default-class: "true"'
has "homelab: cephfs-retain is Retain" "$H/cluster/storage/resources/storageclass-retain.yaml" '^reclaimPolicy: Retain$'
has "homelab: the Ceph step reads the key from stdin" "$H/cluster/steps/storage.ceph.sh" 'cc_in CEPH_K8S_KEY'
has "homelab: the Ceph step declares its secret" "$TMP/homelab.steps" '"name":"storage.ceph".*"secrets":\["CEPH_K8S_KEY"\]'
kubectl kustomize "$H/cluster/gpu" >"$TMP/gpu.yaml" 2>&1
has "homelab: device plugin on compute=cuda" "$TMP/gpu.yaml" '^        compute: cuda$'
has "homelab: device plugin with runtimeClassName nvidia" "$TMP/gpu.yaml" 'runtimeClassName: nvidia'
has "homelab: RuntimeClass nvidia" "$TMP/gpu.yaml" '^handler: nvidia$'
has "homelab: device plugin image pinned" "$TMP/gpu.yaml" 'k8s-device-plugin:v0\.14\.5'
has "homelab: GPU labels" "$H/cluster/steps/gpu.nvidia.sh" '^gpu_label k8s-node-1 accelerator nvidia-gpu$'
has "homelab: GPU type label" "$H/cluster/steps/gpu.nvidia.sh" '^gpu_label k8s-node-1 gpu-type gtx-1060$'
A=$H/cluster/steps/gitops.argocd.sh
has "homelab: ArgoCD installed server-side" "$A" 'cc_apply -n "\$NS" -f https://raw\.githubusercontent\.com/argoproj/argo-cd/v3\.1\.7/manifests/install\.yaml'
has "homelab: key pair only when none exists" "$A" 'get configmap argocd-ssh-public-key'
has "homelab: public key handed on" "$A" 'cc_output argocd_public_key'
has "homelab: AppProject homelab" "$H/cluster/gitops/appproject.yaml" '^  name: homelab$'
has "homelab: TLSRoute at argocd.host" "$H/cluster/gitops/tlsroute.yaml" 'argocd\.k8s\.local'
absent "homelab: no ArgoCD Ingress under Gateway API" cluster/gitops/ingress.yaml
has "homelab: deploy key builtin step" "$TMP/homelab.steps" '"builtin":"gitlab.deploy_key".*"secrets":\["REPOSITORY_TOKEN"\],"inputs":\["argocd_public_key"\]'
has "homelab: deploy key args" "$H/cluster/gitops/deploy-key.json" '"token_secret": "REPOSITORY_TOKEN"'
kubectl kustomize "$H/cluster/apps" >"$TMP/apps.yaml" 2>&1
check "homelab: Applications (whoami automated, monitoring)" node -e '
	const YAML = require(process.argv[1]); const fs = require("fs");
	const apps = YAML.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8")).map((d) => d.toJS());
	const w = apps.find((a) => a.metadata.name === "whoami"), m = apps.find((a) => a.metadata.name === "monitoring");
	const ok = w && m && w.spec.syncPolicy.automated.prune === true && w.spec.syncPolicy.automated.selfHeal === true &&
		w.spec.syncPolicy.syncOptions.includes("CreateNamespace=true") && w.spec.destination.namespace === "whoami" &&
		w.spec.source.path === "apps/whoami" && m.spec.source.path === "out/homelab/apps/monitoring" && w.spec.project === "homelab";
	process.exit(ok ? 0 : 1);' "$TOP/tests/node_modules/yaml" "$TMP/apps.yaml"

M=$H/apps/monitoring
kubectl kustomize "$M" >"$TMP/mon.yaml" 2>&1
check "homelab: monitoring tree: components, waves, hooks" node -e '
	const YAML = require(process.argv[1]); const fs = require("fs");
	const docs = YAML.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8")).map((d) => d.toJS());
	const get = (k, n) => docs.find((d) => d.kind === k && d.metadata.name === n);
	const wave = (d) => Number((d.metadata.annotations || {})["argocd.argoproj.io/sync-wave"] || 0);
	const need = [["Deployment","prometheus"],["DaemonSet","node-exporter"],["DaemonSet","dcgm-exporter"],["Service","dcgm-exporter"],
		["Deployment","grafana"],["StatefulSet","alertmanager"],["StatefulSet","matrix"],["Job","matrix-bootstrap"],
		["Job","monitoring-init-secrets"],["Application","alertmanager-matrix-bridge"],["ConfigMap","grafana-dashboards"],
		["HTTPRoute","grafana"],["HTTPRoute","prometheus"],["HTTPRoute","matrix"]];
	const missing = need.filter(([k, n]) => !get(k, n));
	if (missing.length) { console.log("missing", missing); process.exit(1); }
	const b = get("Job","matrix-bootstrap").metadata.annotations;
	if (b["argocd.argoproj.io/hook"] !== "PostSync") { console.log("bootstrap not PostSync"); process.exit(1); }
	const order = [get("StatefulSet","matrix"), get("StatefulSet","alertmanager"), get("Job","matrix-bootstrap"), get("Application","alertmanager-matrix-bridge")].map(wave);
	if (JSON.stringify(order) !== "[1,2,3,4]") { console.log("waves", order); process.exit(1); }
	const d = get("DaemonSet","dcgm-exporter").spec.template.spec;
	const dr = d.containers[0].resources || {}, denv = d.containers[0].env;
	if (d.runtimeClassName !== "nvidia" || d.nodeSelector.compute !== "cuda" || JSON.stringify(dr).includes("nvidia.com/gpu") ||
		!denv.some((e) => e.name === "NODE_NAME" && e.valueFrom.fieldRef.fieldPath === "spec.nodeName")) { console.log("dcgm-exporter"); process.exit(1); }
	if (docs.some((x) => x.kind === "Pod" || (x.spec && x.spec.template && (x.spec.template.metadata || {}).annotations && x.spec.template.metadata.annotations["prometheus.io/scrape"]))) { console.log("pod scrape annotations"); process.exit(1); }
	const pvc = get("StatefulSet","matrix").spec.volumeClaimTemplates[0].spec.storageClassName;
	if (pvc !== "cephfs") { console.log("matrix storage", pvc); process.exit(1); }
	const init = get("Job","monitoring-init-secrets");
	if (init.metadata.annotations["argocd.argoproj.io/hook"] !== "Sync" || wave(init) !== -1 ||
		init.spec.template.spec.containers[0].env[0].value !== "grafana-admin matrix-db") { console.log("init secrets job"); process.exit(1); }
	const genv = get("Deployment","grafana").spec.template.spec.containers[0].env.find((e) => e.name === "GF_SECURITY_ADMIN_PASSWORD");
	if (!genv || genv.valueFrom.secretKeyRef.name !== "grafana-admin") { console.log("grafana admin password"); process.exit(1); }
	const pg = get("StatefulSet","matrix").spec.template.spec.initContainers[0];
	if (pg.image !== "postgres:15-alpine" || pg.restartPolicy !== "Always") { console.log("postgres sidecar"); process.exit(1); }' \
	"$TOP/tests/node_modules/yaml" "$TMP/mon.yaml"
has "homelab: ConfigMaps of dashboards without hash suffix" "$TMP/mon.yaml" '^  name: grafana-dashboards$'
R=$M/prometheus/alert-rules.yaml
has "homelab: GPUHighTemperature over gpu_temperature_alert" "$R" 'expr: max by \(gpu, Hostname\) \(DCGM_FI_DEV_GPU_TEMP\) > 60$'
has "homelab: the rule holds 5m, severity warning" "$R" '^        for: 5m$'
has "homelab: annotations name GPU, host, value, threshold" "$R" '\{\{ \$labels\.gpu \}\}.*\{\{ \$labels\.Hostname \}\}.*\{\{ \$value \}\}.*threshold 60'
has "homelab: Prometheus -> Alertmanager over API v2" "$M/prometheus/prometheus.yml" 'api_version: v2'
hasnt "homelab: no pod-annotation scrape job" "$M/prometheus/prometheus.yml" '__meta_kubernetes_pod_annotation_prometheus_io_scrape'
has "homelab: Alertmanager routes to the bridge" "$M/alertmanager/alertmanager.yml" 'alertmanager-matrix\.monitoring\.svc:3000/alerts/default'
has "homelab: Alertmanager v0.27.0" "$M/alertmanager/statefulset.yaml" 'prom/alertmanager:v0\.27\.0'
has "homelab: Grafana datasource uid prometheus" "$M/grafana/datasources.yaml" '^    uid: prometheus$'
has "homelab: Synapse really uses PostgreSQL (psycopg2)" "$M/matrix/configure.py" '"name": "psycopg2"'
has "homelab: Synapse v1.98.0" "$M/matrix/statefulset.yaml" 'matrixdotorg/synapse:v1\.98\.0'
has "homelab: registration settings kept on every start" "$M/matrix/configure.py" 'enable_registration'
has "homelab: bootstrap HMAC-SHA1 shared-secret registration" "$M/matrix/bootstrap.sh" 'openssl dgst -sha1 -hmac'
has "homelab: bootstrap skips a valid Secret" "$M/matrix/bootstrap.sh" 'account/whoami'
has "homelab: bridge 2025.11.5" "$M/alertmanager-matrix-bridge/deployment.yaml" 'matrix-alertmanager-receiver:2025\.11\.5'
check "homelab: GPU dashboard: 8 panels, max() by (gpu, Hostname), uid prometheus" node -e '
	const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	const ok = d.panels.length === 8 && d.panels.every((p) => p.datasource.uid === "prometheus" &&
		p.targets.every((t) => /^max\(DCGM_FI_[A-Z_]+\) by \(gpu, Hostname\)$/.test(t.expr)));
	const temp = d.panels.find((p) => /temperature/i.test(p.title));
	const thr = temp.fieldConfig.defaults.thresholds.steps.map((s) => s.value);
	process.exit(ok && thr.includes(60) ? 0 : 1);' "$M/grafana/dashboards/nvidia-gpu.json"
check "homelab: cluster overview dashboard" node -e '
	const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	process.exit(d.panels.length >= 8 && d.panels.every((p) => p.datasource.uid === "prometheus") ? 0 : 1);' \
	"$M/grafana/dashboards/cluster-overview.json"

# ---- ha: ingress controller, explicit interfaces, 2 GPU workers, no Matrix, GitHub repo
X=$TMP/ha
has "ha: ingressController (shared, default)" "$X/cluster/network/cilium-values.yaml" '^  loadbalancerMode: shared$'
hasnt "ha: no gatewayAPI" "$X/cluster/network/cilium-values.yaml" '^gatewayAPI:'
hasnt "ha: no WireGuard with encryption none" "$X/cluster/network/cilium-values.yaml" 'wireguard'
hasnt "ha: no devices with regular-expression interfaces" "$X/cluster/network/cilium-values.yaml" '^devices:'
has "ha: explicit L2 interfaces" "$X/cluster/network/resources/l2-announcements.yaml" '"\^ens18\$"|\^ens18\$'
n=$(grep -c '^kind: CiliumL2AnnouncementPolicy' "$X/cluster/network/resources/l2-announcements.yaml")
if [ "$n" = 4 ]; then pass "ha: 4 L2 policies for 4 workers (none for the 3 control nodes)"; else fail "ha: L2 policies" "$n"; fi
absent "ha: no Gateway API CRDs" cluster/network/vendor/gateway-api
has "ha: Hubble UI Ingress" "$X/cluster/network/resources/hubble-ingress.yaml" 'hubble\.k8s\.local'
has "ha: 2 provisioners with 4 workers" "$X/cluster/storage/ceph-csi-values.yaml" '^  replicaCount: 2$'
has "ha: admin key from its own secret" "$X/cluster/steps/storage.ceph.sh" 'cc_in CEPH_ADMIN_KEY'
has "ha: the Ceph step declares both secrets" "$TMP/ha.steps" '"secrets":\["CEPH_KEY","CEPH_ADMIN_KEY"\]'
has "ha: ArgoCD Ingress with TLS passthrough" "$X/cluster/gitops/ingress.yaml" 'ingress\.cilium\.io/tls-passthrough: enabled'
absent "ha: no TLSRoute without Gateway API" cluster/gitops/tlsroute.yaml
absent "ha: no deploy key step for a GitHub repository" cluster/gitops/deploy-key.json
hasnt "ha: no deploy key builtin" "$TMP/ha.steps" 'gitlab.deploy_key'
has "ha: manual sync app has no automated policy" "$X/cluster/apps/web.yaml" '# sync = manual'
hasnt "ha: manual sync app has no automated policy (2)" "$X/cluster/apps/web.yaml" 'automated:'
has "ha: rtx-3090 label" "$X/cluster/steps/gpu.nvidia.sh" '^gpu_label [^ ]+ gpu-type rtx-3090$'
absent "ha: no Matrix without monitoring.matrix" apps/monitoring/matrix
absent "ha: no bridge without monitoring.matrix" apps/monitoring/alertmanager-matrix-bridge
has "ha: Alertmanager without a receiver" "$X/apps/monitoring/alertmanager/alertmanager.yml" 'receiver: none'
has "ha: threshold 75" "$X/apps/monitoring/prometheus/alert-rules.yaml" '> 75$'
has "ha: Prometheus on a PVC when storage_gib is set" "$X/apps/monitoring/prometheus/pvc.yaml" 'storage: 50Gi'
has "ha: Grafana Ingress" "$X/apps/monitoring/grafana/ingress.yaml" 'host: grafana\.k8s\.local'

# ---- bare: no optional block: Cilium only, nothing else
B=$TMP/bare
exists "bare: Cilium values" bare/cluster/network/cilium-values.yaml
exists "bare: Cilium step" bare/cluster/steps/network.cilium.sh
for p in cluster/network/resources cluster/network/vendor/gateway-api cluster/storage cluster/gpu cluster/gitops cluster/apps apps; do
	absent "bare: no $p" "bare/$p"
done
hasnt "bare: no L2, no encryption, no ingress" "$B/cluster/network/cilium-values.yaml" '^(l2announcements|encryption|gatewayAPI|ingressController|devices|k8sClientRateLimit):'
n=$(wc -l <"$TMP/bare.steps")
if [ "$n" = 1 ]; then pass "bare: one step (network.cilium)"; else fail "bare: steps" "$(cat "$TMP/bare.steps")"; fi

# ---- apply-time behaviour against stub kubectl/helm (no cluster here).
STUB=$TMP/stub
mkdir -p "$STUB/bin"
cat >"$STUB/bin/kubectl" <<'STUBEOF'
#!/usr/bin/env bash
# Records each call; keeps what is applied from stdin; answers the reads the
# steps make from files under $STUB_STATE.
printf '%s\n' "$*" >>"$STUB_STATE/kubectl.log"
printf 'kubectl %s\n' "$*" >>"$STUB_STATE/calls.log"
case "$*" in
*"apply"*"-f -"*) cat >>"$STUB_STATE/applied.yaml"; echo "---" >>"$STUB_STATE/applied.yaml" ;;
*"create secret generic argocd-repo-ssh-key"*"--dry-run=client"*)
	printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: argocd-repo-ssh-key\n' ;;
*"create configmap argocd-ssh-public-key"*"--from-file=publicKey="*)
	all="$*"; f=${all##*--from-file=publicKey=}; f=${f%% *}; cp "$f" "$STUB_STATE/pubkey"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-ssh-public-key\n' ;;
*"create configmap argocd-ssh-known-hosts-cm"*"--from-file=ssh_known_hosts="*)
	all="$*"; f=${all##*--from-file=ssh_known_hosts=}; f=${f%% *}; cp "$f" "$STUB_STATE/known_hosts"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-ssh-known-hosts-cm\n' ;;
*"get configmap argocd-ssh-known-hosts-cm"*) cat "$STUB_STATE/known_hosts" 2>/dev/null || printf 'github.com ssh-ed25519 AAAAgithub\n' ;;
*"label --local"*) cat ;;
*"get ciliumendpoints.cilium.io"*) cat "$STUB_STATE/ceps" 2>/dev/null ;;
*"get pods --all-namespaces"*) cat "$STUB_STATE/pods" 2>/dev/null ;;
*"-n gateway get gateway cluster-gateway"*) cat "$STUB_STATE/gateway_address" 2>/dev/null ;;
*"get configmap argocd-ssh-public-key -o jsonpath={.data.publicKey}"*) cat "$STUB_STATE/pubkey" ;;
*"get configmap argocd-ssh-public-key"* | *"get secret argocd-repo-ssh-key"*)
	[ -f "$STUB_STATE/pubkey" ] || exit 1 ;;
*"get secret argocd-repo-ssh-key -o jsonpath={.data.url}"*) printf '%s' "$STUB_REPO_B64" ;;
*"get namespace"* | *"get configmap clusterc-releases"*) exit 1 ;;
esac
exit 0
STUBEOF
printf '#!/usr/bin/env bash\nprintf "%%s\\n" "$*" >>"$STUB_STATE/helm.log"\nprintf "helm %%s\\n" "$*" >>"$STUB_STATE/calls.log"\n' >"$STUB/bin/helm"
# ssh-keyscan never leaves this machine in a test.
printf '#!/usr/bin/env bash\nprintf "%%s\\n" "$*" >>"$STUB_STATE/keyscan.log"\nprintf "%%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIStubHostKey\\n" "${@: -1}"\n' >"$STUB/bin/ssh-keyscan"
chmod +x "$STUB/bin/kubectl" "$STUB/bin/helm" "$STUB/bin/ssh-keyscan"
export STUB_STATE=$STUB

run_step() { # TREE SCRIPT: runs a rendered step in its bundle with the stubs; stdin is the values
	(cd "$TMP/$1" && PATH="$STUB/bin:$PATH" bash "$2")
}
KEY_TEXT="AQBMARKERceph0user0key0000000000000000=="
ADMIN_TEXT="AQBMARKERceph0admin0key000000000000000=="
USER_KEY=$(printf '%s' "$KEY_TEXT" | base64 -w0)
ADMIN_KEY=$(printf '%s' "$ADMIN_TEXT" | base64 -w0)
: >"$STUB/kubectl.log" && : >"$STUB/applied.yaml"
if out=$(printf 'CEPH_KEY=%s\nCEPH_ADMIN_KEY=%s\n' "$(printf '%s' "$USER_KEY" | base64 -w0)" \
	"$(printf '%s' "$ADMIN_KEY" | base64 -w0)" | run_step ha cluster/steps/storage.ceph.sh 2>&1); then
	pass "ha: storage.ceph runs against stub kubectl/helm"
else
	fail "ha: storage.ceph runs" "$out"
fi
check "ha: csi-cephfs-secret data: IDs base64-encoded, keys passed through" node -e '
	const YAML = require(process.argv[1]); const fs = require("fs");
	const s = YAML.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8")).map((d) => d.toJS()).find((d) => d && d.kind === "Secret");
	const b = (x) => Buffer.from(x, "base64").toString();
	const ok = s && s.metadata.name === "csi-cephfs-secret" && s.metadata.namespace === "ceph-csi-cephfs" &&
		b(s.data.userID) === "k8s" && b(s.data.adminID) === "admin" && s.data.userKey === process.argv[3] && s.data.adminKey === process.argv[4];
	process.exit(ok ? 0 : 1);' "$TOP/tests/node_modules/yaml" "$STUB/applied.yaml" "$USER_KEY" "$ADMIN_KEY"
hasnt "ha: no Ceph key on any command line" "$STUB/kubectl.log" "$USER_KEY|$ADMIN_KEY|MARKER"
hasnt "ha: no Ceph key in the step's output" <(printf '%s' "$out") "$USER_KEY|$ADMIN_KEY|MARKER"
has "ha: Ceph CSI chart pinned" "$STUB/helm.log" 'upgrade --install ceph-csi-cephfs ceph-csi-cephfs --repo https://ceph.github.io/csi-charts --version 3\.9\.0'
if printf 'CEPH_KEY=%s\nCEPH_ADMIN_KEY=%s\n' "$(printf 'not base64!' | base64 -w0)" "$(printf '%s' "$ADMIN_KEY" | base64 -w0)" |
	run_step ha cluster/steps/storage.ceph.sh >/dev/null 2>&1; then
	fail "ha: storage.ceph refuses a key that is not base64" "it ran"
else
	pass "ha: storage.ceph refuses a key that is not base64"
fi

if printf 'CEPH_KEY=%s\nCEPH_ADMIN_KEY=%s\n' "$(printf '%s' "$KEY_TEXT" | base64 -w0)" "$(printf '%s' "$ADMIN_KEY" | base64 -w0)" |
	run_step ha cluster/steps/storage.ceph.sh >"$TMP/raw.out" 2>&1; then
	fail "ha: storage.ceph refuses a key given as ceph prints it (not base64-encoded again)" "it ran"
else
	has "ha: storage.ceph refuses a key given as ceph prints it (not base64-encoded again)" "$TMP/raw.out" 'decodes to binary'
fi

if command -v ssh-keygen >/dev/null 2>&1; then
	rm -f "$STUB/pubkey" "$STUB/known_hosts" && : >"$STUB/kubectl.log"
	export STUB_REPO_B64; STUB_REPO_B64=$(printf '%s' 'git@gitlab.example.com:me/homelab.git' | base64 -w0)
	if out=$(run_step homelab cluster/steps/gitops.argocd.sh </dev/null 2>&1); then
		pass "homelab: gitops.argocd runs against stub kubectl (first run)"
	else
		fail "homelab: gitops.argocd first run" "$out"
	fi
	line=$(printf '%s\n' "$out" | grep '^::clusterc::output argocd_public_key ' || true)
	if [ -n "$line" ] && [ "$(printf '%s' "${line##* }" | base64 -d)" = "$(cat "$STUB/pubkey" 2>/dev/null)" ] &&
		grep -q '^ssh-ed25519 ' "$STUB/pubkey"; then
		pass "homelab: the public key is handed on as argocd_public_key"
	else
		fail "homelab: argocd_public_key output" "$out"
	fi
	hasnt "homelab: no private key in the step's output" <(printf '%s' "$out") 'PRIVATE KEY'
	has "homelab: the private key goes into the repository Secret" "$STUB/kubectl.log" 'create secret generic argocd-repo-ssh-key .*--from-file=sshPrivateKey='
	has "homelab: the repository host's SSH key is added to ArgoCD's known hosts" "$STUB/known_hosts" '^gitlab\.example\.com ssh-ed25519 '
	has "homelab: ArgoCD's own known hosts are kept" "$STUB/known_hosts" '^github\.com '
	first=$(cat "$STUB/pubkey")
	: >"$STUB/kubectl.log" && : >"$STUB/keyscan.log"
	out=$(run_step homelab cluster/steps/gitops.argocd.sh </dev/null 2>&1) || true
	if [ "$(cat "$STUB/pubkey")" = "$first" ] && ! grep -q 'create secret generic argocd-repo-ssh-key' "$STUB/kubectl.log"; then
		pass "homelab: second run keeps the key pair"
	else
		fail "homelab: second run keeps the key pair" "$out"
	fi
	if [ ! -s "$STUB/keyscan.log" ]; then pass "homelab: second run does not scan the host again"; else fail "homelab: second run scans again" "$(cat "$STUB/keyscan.log")"; fi
fi

# network.cilium: Gateway API CRDs before the chart; then the restart of the
# running pods that Cilium does not manage yet, and of no other pod.
: >"$STUB/kubectl.log" && : >"$STUB/helm.log" && : >"$STUB/calls.log"
printf '%s\n' 'kube-system|coredns-a||Running' 'kube-system|coredns-b||Running' \
	'kube-system|kube-apiserver-cp|true|Running' 'default|done-job||Succeeded' 'web|pending||Pending' >"$STUB/pods"
printf '%s\n' 'kube-system/coredns-b' 'kube-system/hubble-relay-1' >"$STUB/ceps"
printf '192.168.1.193' >"$STUB/gateway_address" # what LB-IPAM gave the Gateway
if out=$(run_step homelab cluster/steps/network.cilium.sh </dev/null 2>&1); then
	pass "homelab: network.cilium runs against stub kubectl/helm"
	printf '%s\n' "$out" >"$TMP/cilium.out"
	has "homelab: network.cilium says the address the web UIs answer on" "$TMP/cilium.out" \
		'the web UIs answer on 192\.168\.1\.193 \(pool [0-9.]+/[0-9]+\)'
	check "homelab: Gateway API CRDs applied before the chart is installed" awk '
		/^kubectl apply .*-k cluster\/network\/vendor\/gateway-api/ && !crds { crds = NR }
		/^helm upgrade --install cilium / && !chart { chart = NR }
		END { exit !(crds > 0 && chart > crds) }' "$STUB/calls.log"
	has "homelab: Cilium chart pinned, values file passed" "$STUB/helm.log" \
		'upgrade --install cilium cilium --repo https://helm\.cilium\.io/ --version 1\.18\.1 --namespace kube-system --create-namespace --values cluster/network/cilium-values\.yaml'
	has "homelab: networking objects applied" "$STUB/kubectl.log" 'apply .*-k cluster/network/resources'
	n=$(grep -c 'delete pod' "$STUB/kubectl.log" || true)
	if [ "$n" = 1 ] && grep -q -- '-n kube-system delete pod coredns-a' "$STUB/kubectl.log"; then
		pass "homelab: only the running pod without a Cilium endpoint is restarted"
	else
		fail "homelab: restart of unmanaged pods" "$(grep 'delete pod' "$STUB/kubectl.log")"
	fi
	printf '%s\n' 'kube-system/coredns-a' >>"$STUB/ceps"
	: >"$STUB/kubectl.log"
	run_step homelab cluster/steps/network.cilium.sh </dev/null >/dev/null 2>&1 || true
	hasnt "homelab: a second run restarts nothing" "$STUB/kubectl.log" 'delete pod'
else
	fail "homelab: network.cilium runs" "$out"
fi

# The monitoring-init-secrets Job's script, against the loopback mock of the
# Kubernetes Secret API (started below): random values, sent from files, never
# argv; an existing Secret is left alone.
init_secrets_test() {
	local out
	curl -fsS -X POST -H 'Authorization: Bearer sa-token' -H 'Content-Type: application/json' \
		--data-binary '{"metadata": {"name": "grafana-admin"}, "stringData": {"admin-user": "keep", "admin-password": "keep-me"}}' \
		"http://127.0.0.1:$PORT/api/v1/namespaces/monitoring/secrets" >/dev/null
	if out=$(env SECRETS='grafana-admin matrix-db' KUBE_API="http://127.0.0.1:$PORT" SA_DIR="$SAD" \
		sh "$TMP/homelab/apps/monitoring/secrets/init-secrets.sh" 2>&1); then
		check "init-secrets: creates only the missing Secret, 64-hex random values, through the API (no kubectl)" node -e '
			const s = JSON.parse(process.argv[1]).secrets; const b = (x) => Buffer.from(x || "", "base64").toString();
			const g = s["grafana-admin"], m = s["matrix-db"] || {};
			const ok = b(g["admin-password"]) === "keep-me" && /^[0-9a-f]{64}$/.test(b(m["postgres-password"])) &&
				/^[0-9a-f]{64}$/.test(b(m["registration-shared-secret"])) && b(m["postgres-password"]) !== b(m["registration-shared-secret"]);
			process.exit(ok ? 0 : 1);' "$(mock_state)"
		hasnt "init-secrets: prints no value" <(printf '%s' "$out") '[0-9a-f]{64}'
		hasnt "init-secrets: no kubectl" "$TMP/homelab/apps/monitoring/secrets/init-secrets.sh" '^[^#]*kubectl '
		has "init-secrets: values sent from a file" "$TMP/homelab/apps/monitoring/secrets/init-secrets.sh" '--data-binary "@\$3"'
	else
		fail "init-secrets: runs" "$out"
	fi
}

# ---- the matrix-bootstrap Job's script against a loopback mock of Synapse's
# registration and client APIs and of the Kubernetes Secret API.
MB=$TMP/homelab/apps/monitoring/matrix/bootstrap.sh
SAD=$TMP/sa
mkdir -p "$SAD"
printf sa-token >"$SAD/token"
printf monitoring >"$SAD/namespace"
: >"$SAD/ca.crt"
python3 "$TOP/tests/addons/mock_matrix.py" "$TMP/mock.port" "$TMP/mock.log" shared-s3cret matrix.k8s.local &
mock_pid=$!
at_exit "kill $mock_pid"
for _ in $(seq 1 600); do [ -s "$TMP/mock.port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/mock.port" 2>/dev/null || true)
bootstrap() {
	env MATRIX_URL="http://127.0.0.1:$PORT" KUBE_API="http://127.0.0.1:$PORT" SA_DIR="$SAD" \
		MATRIX_SERVER_NAME=matrix.k8s.local MATRIX_ROOM=Alerts REGISTRATION_SHARED_SECRET=shared-s3cret \
		BRIDGE_WEBHOOK_URL=http://alertmanager-matrix.monitoring.svc:3000/alerts/default sh "$MB"
}
mock_state() { curl -fsS "http://127.0.0.1:$PORT/test/state"; }
[ -n "$PORT" ] && init_secrets_test
if [ -n "$PORT" ] && out=$(bootstrap 2>&1); then
	pass "matrix-bootstrap: first run"
	check "matrix-bootstrap: bot registered (HMAC accepted), room #alerts made, matrix-bot Secret written" node -e '
		const s = JSON.parse(process.argv[1]); const d = s.secrets["matrix-bot"] || {};
		const b = (k) => Buffer.from(d[k] || "", "base64").toString();
		const ok = s.users.length === 1 && s.aliases["#alerts:matrix.k8s.local"] === "!room1:matrix.k8s.local" &&
			b("user-id") === s.users[0] && b("access-token").startsWith("syt_") && b("room-id") === "!room1:matrix.k8s.local" &&
			b("webhook-url") === "http://alertmanager-matrix.monitoring.svc:3000/alerts/default";
		process.exit(ok ? 0 : 1);' "$(mock_state)"
	: >"$TMP/mock.log"
	if out=$(bootstrap 2>&1) && ! grep -q 'POST /_synapse/admin/v1/register' "$TMP/mock.log"; then
		pass "matrix-bootstrap: second run skips (the Secret's token is valid)"
	else
		fail "matrix-bootstrap: second run skips" "$out"$'\n'"$(cat "$TMP/mock.log")"
	fi
	first_bot=$(mock_state | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).users[0])')
	curl -fsS -X POST "http://127.0.0.1:$PORT/test/revoke-tokens" >/dev/null
	: >"$TMP/mock.log"
	if out=$(bootstrap 2>&1); then
		check "matrix-bootstrap: invalid token: new bot joins the existing room, Secret replaced, bridge restarted" node -e '
			const s = JSON.parse(process.argv[1]); const log = process.argv[2];
			const d = s.secrets["matrix-bot"]; const b = (k) => Buffer.from(d[k], "base64").toString();
			const ok = s.users.length === 2 && Object.keys(s.aliases).length === 1 && s.users.includes(b("user-id")) && b("user-id") !== process.argv[3] &&
				b("room-id") === "!room1:matrix.k8s.local" && /POST \/_matrix\/client\/v3\/join\//.test(log) &&
				/PUT \/api\/v1\/namespaces\/monitoring\/secrets\/matrix-bot/.test(log) && /DELETE \/api\/v1\/namespaces\/monitoring\/pods\?labelSelector=app%3Dalertmanager-matrix/.test(log);
			process.exit(ok ? 0 : 1);' "$(mock_state)" "$(cat "$TMP/mock.log")" "$first_bot"
	else
		fail "matrix-bootstrap: run after the token was revoked" "$out"
	fi
	hasnt "matrix-bootstrap: prints no access token" <(printf '%s' "$out") 'syt_'
else
	fail "matrix-bootstrap: first run" "port=$PORT $out $(cat "$TMP/mock.log" 2>/dev/null)"
fi

finish
