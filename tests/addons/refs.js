// refs.js BUILT.yaml...: within each kustomize build, every ConfigMap a pod
// mounts or reads exists in that build (kustomize renamed it consistently),
// and every Secret a pod reads is one the stack creates at run time.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require(path.join(__dirname, '..', 'node_modules', 'yaml'));
const RUNTIME_SECRETS = new Set(['matrix-db', 'matrix-bot', 'grafana-admin']);
let bad = 0;
for (const f of process.argv.slice(2)) {
	const docs = YAML.parseAllDocuments(fs.readFileSync(f, 'utf8')).map((d) => d.toJS()).filter(Boolean);
	const cms = new Set(docs.filter((d) => d.kind === 'ConfigMap').map((d) => d.metadata.name));
	for (const d of docs) {
		const spec = d.spec && d.spec.template && d.spec.template.spec;
		if (!spec) continue;
		const id = `${d.kind}/${d.metadata.name}`;
		for (const v of spec.volumes || []) {
			if (v.configMap && !cms.has(v.configMap.name)) { bad++; console.log(`${f}: ${id} mounts ConfigMap ${v.configMap.name}, which the build lacks`); }
			if (v.secret && !RUNTIME_SECRETS.has(v.secret.secretName)) { bad++; console.log(`${f}: ${id} mounts Secret ${v.secret.secretName}`); }
		}
		for (const c of [...(spec.initContainers || []), ...(spec.containers || [])])
			for (const e of c.env || []) {
				const r = e.valueFrom || {};
				if (r.configMapKeyRef && !cms.has(r.configMapKeyRef.name)) { bad++; console.log(`${f}: ${id} reads ConfigMap ${r.configMapKeyRef.name}`); }
				if (r.secretKeyRef && !RUNTIME_SECRETS.has(r.secretKeyRef.name)) { bad++; console.log(`${f}: ${id} reads Secret ${r.secretKeyRef.name}`); }
			}
	}
}
process.exit(bad ? 1 : 0);
