#!/usr/bin/env node
// validate.js: validates every Kubernetes document in the YAML files named on
// the command line ("-" reads standard input, e.g. `kubectl kustomize DIR |
// node validate.js -`).
//
// - Built-in kinds: npm kubernetes-models (its schemas check types, required
//   fields and enums; they let unknown fields through).
// - ArgoCD and Gateway API kinds: @kubernetes-models/argo-cd and
//   @kubernetes-models/gateway-api, and in addition, strictly, the
//   openAPIV3Schema of the CRDs in shared/reference/ (argocd/, gateway-api/).
// - Cilium kinds: the openAPIV3Schema of the Cilium CRDs in
//   shared/reference/cilium (ajv).
// "Strictly" means every object schema that lists its properties refuses
// others (as the API server's strict field validation does), unless the CRD
// marks it x-kubernetes-preserve-unknown-fields.
// A document whose kind has no schema here is an error, never a silent pass.
// Prints one line per invalid document and a summary; exit status 1 when any
// document is invalid.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const Ajv = require('ajv');

const SHARED = process.env.SHARED || path.join(__dirname, '..', '..', '..', 'shared');
const REF = path.join(SHARED, 'reference');

// CRD schemas from shared/reference, keyed "group/version/Kind", loaded per
// API group on first use (the CRD files are large; parsed schemas are cached
// as JSON in the test run's temp directory, keyed by file size and time, so
// nothing outlives the run).
const CRD_DIRS = {
	'cilium.io': ['cilium'],
	'argoproj.io': ['argocd'],
	'gateway.networking.k8s.io': ['gateway-api/v1.3.0-standard', 'gateway-api/v1.3.0-experimental'],
};
const crdSchemas = new Map();
const loadedGroups = new Set();
function loadCrdGroup(group) {
	if (loadedGroups.has(group)) return;
	loadedGroups.add(group);
	for (const d of CRD_DIRS[group] || []) {
		const dir = path.join(REF, d);
		for (const f of fs.readdirSync(dir).filter((x) => /\.ya?ml$/.test(x)).sort()) {
			const file = path.join(dir, f);
			const st = fs.statSync(file);
			const cache = path.join(process.env.CLUSTERC_TEST_TMP || require('os').tmpdir(), `clusterc-crd-${f}-${st.size}-${Math.floor(st.mtimeMs)}.json`);
			let entries;
			try {
				entries = JSON.parse(fs.readFileSync(cache, 'utf8'));
			} catch (e) {
				entries = [];
				for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
					const crd = doc.toJS();
					if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
					for (const v of crd.spec.versions)
						if (v.schema && v.schema.openAPIV3Schema)
							entries.push([`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, v.schema.openAPIV3Schema]);
				}
				try {
					fs.writeFileSync(cache + '.tmp' + process.pid, JSON.stringify(entries));
					fs.renameSync(cache + '.tmp' + process.pid, cache);
				} catch (e2) { /* no cache: still correct */ }
			}
			for (const [k, v] of entries) crdSchemas.set(k, v);
		}
	}
}

// OpenAPI v3 (Kubernetes dialect) to a JSON schema ajv takes, strict about fields.
function strictify(s) {
	if (Array.isArray(s)) return s.map(strictify);
	if (!s || typeof s !== 'object') return s;
	const o = {};
	for (const [k, v] of Object.entries(s)) {
		if (k === 'nullable' || k.startsWith('x-kubernetes-')) continue;
		if (k === 'properties' || k === 'patternProperties') {
			o[k] = Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, strictify(pv)]));
		} else if (k === 'format') {
			continue; // int32, int64, byte...: Kubernetes formats, not checked here
		} else {
			o[k] = strictify(v);
		}
	}
	if (s.nullable && o.type) o.type = [].concat(o.type, 'null');
	if (s['x-kubernetes-int-or-string']) {
		delete o.type;
		o.anyOf = [{ type: 'integer' }, { type: 'string' }];
	}
	if (s.properties && s.additionalProperties === undefined && !s['x-kubernetes-preserve-unknown-fields'])
		o.additionalProperties = false;
	return o;
}

const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
const crdValidators = new Map();
function crdValidate(key, obj) {
	loadCrdGroup(key.split('/')[0]);
	if (!crdSchemas.has(key)) return null;
	if (!crdValidators.has(key)) crdValidators.set(key, ajv.compile(strictify(crdSchemas.get(key))));
	const v = crdValidators.get(key);
	if (v(obj)) return [];
	return v.errors.map((e) => `${e.instancePath || '/'} ${e.message}${e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
}

const MODELS = path.join(__dirname, '..', 'node_modules');
async function modelClass(apiVersion, kind) {
	const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
	let file;
	if (group === '') file = path.join(MODELS, 'kubernetes-models', version, 'index.js');
	else if (group === 'argoproj.io') file = path.join(MODELS, '@kubernetes-models/argo-cd', group, version, 'index.mjs');
	else if (group === 'gateway.networking.k8s.io') file = path.join(MODELS, '@kubernetes-models/gateway-api', group, version, 'index.mjs');
	else if (group === 'cilium.io') return null;
	else file = path.join(MODELS, 'kubernetes-models', group, version, 'index.js');
	if (!fs.existsSync(file)) return undefined;
	const mod = await import(file);
	return mod[kind];
}

async function validateDoc(obj) {
	if (!obj || typeof obj !== 'object') return ['not a mapping'];
	if (!obj.apiVersion || !obj.kind) return ['no apiVersion/kind'];
	const errors = [];
	const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
	const crd = crdValidate(`${group}/${version}/${obj.kind}`, obj);
	const Cls = await modelClass(obj.apiVersion, obj.kind);
	if (Cls) {
		try {
			new Cls(obj).validate();
		} catch (e) {
			errors.push(e.message);
		}
	}
	if (crd) errors.push(...crd.map((e) => `CRD schema: ${e}`));
	if (!Cls && crd === null) errors.push(`no schema for ${obj.apiVersion} ${obj.kind}`);
	if (!obj.metadata || !obj.metadata.name) errors.push('metadata.name is missing');
	return errors;
}

(async () => {
	const files = process.argv.slice(2);
	if (files.length === 0) {
		console.error('usage: validate.js FILE.yaml... (- for stdin)');
		process.exit(2);
	}
	let total = 0, bad = 0;
	for (const f of files) {
		const text = fs.readFileSync(f === '-' ? 0 : f, 'utf8');
		const docs = YAML.parseAllDocuments(text);
		let i = 0;
		for (const d of docs) {
			i++;
			if (d.errors.length) {
				total++; bad++;
				console.log(`${f}: document ${i}: YAML: ${d.errors[0].message}`);
				continue;
			}
			const obj = d.toJS();
			if (obj === null || obj === undefined) continue; // empty document
			total++;
			const errs = await validateDoc(obj);
			if (errs.length) {
				bad++;
				const id = `${obj.kind || '?'}/${(obj.metadata && obj.metadata.name) || '?'}`;
				for (const e of errs.slice(0, 8)) console.log(`${f}: document ${i} (${id}): ${e}`);
			}
		}
	}
	console.log(`validate: ${total} documents, ${total - bad} valid, ${bad} invalid`);
	process.exit(bad ? 1 : 0);
})().catch((e) => {
	console.error(e);
	process.exit(2);
});
