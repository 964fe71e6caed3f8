#!/usr/bin/env node
// helm-values.js REFERENCE_VALUES.yaml GENERATED_VALUES.yaml [--schema SCHEMA.json] [--allow KEY]...
// Checks that every key path in the generated Helm values exists in the chart's
// own values.yaml (the pinned reference copy), so a misspelt or obsolete key
// cannot be silently ignored by Helm. Where the reference holds a map, the
// generated map is walked key by key; an empty reference map ({}) or a null
// accepts any content (free-form: annotations, nodeSelector, ...). Where both
// hold scalars, the types must agree (a boolean stays a boolean, a number a
// number). --allow names top-level keys the chart's templates read although
// its values.yaml only mentions them in comments (Cilium: kubeProxyReplacement,
// devices). With --schema, the values are also validated against the chart's
// values.schema.json (ajv), as `helm install` does.
'use strict';
const fs = require('fs');
const YAML = require('yaml');
const Ajv = require('ajv');

const args = process.argv.slice(2);
const allow = new Set();
let schemaFile = null;
const pos = [];
for (let i = 0; i < args.length; i++) {
	if (args[i] === '--allow') allow.add(args[++i]);
	else if (args[i] === '--schema') schemaFile = args[++i];
	else pos.push(args[i]);
}
if (pos.length !== 2) {
	console.error('usage: helm-values.js REFERENCE.yaml GENERATED.yaml [--schema S.json] [--allow KEY]...');
	process.exit(2);
}
const ref = YAML.parse(fs.readFileSync(pos[0], 'utf8'));
const gen = YAML.parse(fs.readFileSync(pos[1], 'utf8'));
const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const problems = [];
let keys = 0;

function kind(v) {
	if (v === null || v === undefined) return 'null';
	if (Array.isArray(v)) return 'list';
	return typeof v;
}
function walk(r, g, where) {
	for (const [k, v] of Object.entries(g)) {
		keys++;
		const p = where ? `${where}.${k}` : k;
		if (!where && allow.has(k)) continue;
		if (!Object.prototype.hasOwnProperty.call(r, k)) {
			problems.push(`${p}: not a key of the chart's values.yaml`);
			continue;
		}
		const rv = r[k];
		if (isMap(rv) && Object.keys(rv).length > 0) {
			if (!isMap(v)) problems.push(`${p}: the chart expects a map here, not a ${kind(v)}`);
			else walk(rv, v, p);
		} else if (rv === null || isMap(rv)) {
			// free-form or unset by default: anything goes
		} else if (kind(rv) !== kind(v) && !(kind(rv) === 'string' && kind(v) === 'number') && !(kind(rv) === 'number' && kind(v) === 'string')) {
			problems.push(`${p}: the chart's default is a ${kind(rv)}, this is a ${kind(v)}`);
		}
	}
}
if (!isMap(gen)) problems.push('the generated values are not a map');
else walk(ref, gen, '');

if (schemaFile) {
	const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
	const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, 'utf8')));
	if (!validate(gen)) for (const e of validate.errors) problems.push(`values.schema.json: ${e.instancePath} ${e.message}`);
}
for (const p of problems) console.log(`${pos[1]}: ${p}`);
console.log(`helm-values: ${keys} keys checked, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
