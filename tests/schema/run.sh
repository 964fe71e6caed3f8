#!/usr/bin/env bash
# tests/schema: the validators the add-on tests rely on, checked on known-good
# and known-bad documents (tests/schema/cases), then applied to every tree
# committed under out/ (kustomize + validate.js, Helm values + helm-values.js).
. "$(dirname "$0")/../lib.sh"

CASES=$TOP/tests/schema/cases
REF=$SHARED/reference
VALIDATE=("node" "$TOP/tests/schema/validate.js")
HELMV=("node" "$TOP/tests/schema/helm-values.js")

check "validate.js accepts the good cases" "${VALIDATE[@]}" "$CASES/good.yaml"
if "${VALIDATE[@]}" "$CASES/bad.yaml" >"$TMP/bad.out" 2>&1; then
	fail "validate.js refuses the bad cases" "$(cat "$TMP/bad.out")"
else
	pass "validate.js refuses the bad cases"
fi
# Each bad document is refused with the message its annotation names.
node -e '
	const YAML = require(process.argv[1]); const fs = require("fs");
	for (const d of YAML.parseAllDocuments(fs.readFileSync(process.argv[2], "utf8"))) {
		const o = d.toJS(); if (!o) continue;
		console.log(o.metadata.name + "\t" + o.metadata.annotations["clusterc.test/expect"]);
	}' "$TOP/tests/node_modules/yaml" "$CASES/bad.yaml" >"$TMP/expect.tsv"
while IFS=$'\t' read -r name msg; do
	if grep -F "/$name)" "$TMP/bad.out" | grep -qF -- "$msg"; then
		pass "validate.js: $name: $msg"
	else
		fail "validate.js: $name: $msg" "$(grep -F "$name" "$TMP/bad.out")"
	fi
done <"$TMP/expect.tsv"
check "validate.js reads standard input" bash -c "'${VALIDATE[0]}' '${VALIDATE[1]}' - <'$CASES/good.yaml'"

# The Helm values checker.
if "${HELMV[@]}" "$REF/cilium/cilium-1.18.1-values.yaml" "$CASES/seed-cilium-values.yaml" \
	--schema "$REF/cilium/cilium-1.18.1-values.schema.json" --allow kubeProxyReplacement >"$TMP/hv.out" 2>&1; then
	fail "helm-values.js refuses the reference project's Cilium values" "$(cat "$TMP/hv.out")"
else
	pass "helm-values.js refuses the reference project's Cilium values"
fi
for want in "replicas: not a key" "dns: not a key" "externalIPs: not a key" \
	"hubble.relay.enabled: the chart's default is a boolean, this is a string" "values.schema.json: /hubble/relay/enabled must be boolean"; do
	if grep -qF -- "$want" "$TMP/hv.out"; then pass "helm-values.js: $want"; else fail "helm-values.js: $want" "$(cat "$TMP/hv.out")"; fi
done
if grep -q 'kubeProxyReplacement' "$TMP/hv.out"; then
	fail "helm-values.js: --allow kubeProxyReplacement" "$(cat "$TMP/hv.out")"
else
	pass "helm-values.js: --allow kubeProxyReplacement"
fi

# The vendored upstream data in the stdlib still matches shared/reference.
for f in "$TOP"/stdlib/templates/gateway-api/crds/*.yaml; do
	b=$(basename "$f")
	orig=$(ls "$REF"/gateway-api/*/"$b" 2>/dev/null | head -n 1)
	check "vendored $b is the v1.3.0 file (after its provenance comment)" \
		cmp <(grep -v '^# ' "$f") <(grep -v '^# ' "$orig")
done
check "vendor/gateway-api/PROVENANCE.md states each CRD's upstream sha256" bash -c '
	for f in "$1"/*.yaml; do grep -q "$(sed 1,3d "$f" | sha256sum | cut -c1-64)" "$2" || exit 1; done' _ \
	"$TOP/stdlib/templates/gateway-api/crds" "$TOP/stdlib/templates/gateway-api/PROVENANCE.md"
check "vendored device plugin is the v0.14.5 manifest" \
	cmp <(sed 1,3d "$TOP/stdlib/templates/nvidia/nvidia-device-plugin.yml") "$REF/nvidia/k8s-device-plugin-v0.14.5-nvidia-device-plugin.yml"
check "vendored Gateway API CRDs validate as CRDs" "${VALIDATE[@]}" "$TOP"/stdlib/templates/gateway-api/crds/*.yaml

# Every tree committed under out/ (the examples' artifacts).
n=0
while IFS= read -r k; do
	dir=$(dirname "$k")
	n=$((n + 1))
	rel=${dir#"$TOP"/}
	if kubectl kustomize "$dir" >"$TMP/built.yaml" 2>"$TMP/kz.err"; then
		check "$rel: validates" "${VALIDATE[@]}" "$TMP/built.yaml"
	else
		fail "$rel: kustomize" "$(cat "$TMP/kz.err")"
	fi
done < <(find "$TOP/out" -name kustomization.yaml 2>/dev/null | sort)
for v in "$TOP"/out/*/cluster/network/cilium-values.yaml; do
	[ -f "$v" ] || continue
	check "${v#"$TOP"/}: chart keys" "${HELMV[@]}" "$REF/cilium/cilium-1.18.1-values.yaml" "$v" \
		--schema "$REF/cilium/cilium-1.18.1-values.schema.json" --allow kubeProxyReplacement --allow devices
done
for v in "$TOP"/out/*/cluster/storage/ceph-csi-values.yaml; do
	[ -f "$v" ] || continue
	check "${v#"$TOP"/}: chart keys" "${HELMV[@]}" "$REF/ceph-csi/ceph-csi-cephfs-v3.9.0-values.yaml" "$v"
done
[ "$n" -gt 0 ] || echo "note: no kustomization under out/ yet (nothing committed there)"

finish
