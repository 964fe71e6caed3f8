// tests/nodes/validate-autoinstall.js SCHEMA FILE...: checks each NoCloud user-data file:
// it starts with "#cloud-config", parses as YAML (strict: no duplicate keys), has an
// `autoinstall` mapping that validates against the subiquity autoinstall schema, and
// the cloud-init user-data inside it is a mapping. Prints one line per problem; exit 1
// when any file fails.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require(path.join(__dirname, '..', 'node_modules', 'ajv'));
const YAML = require(path.join(__dirname, '..', 'node_modules', 'yaml'));

const [schemaPath, ...files] = process.argv.slice(2);
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
require(path.join(__dirname, "..", "node_modules", "ajv-formats"))(ajv);
const validate = ajv.compile(schema);
let bad = 0;
for (const f of files) {
  const text = fs.readFileSync(f, 'utf8');
  const problems = [];
  if (!text.startsWith('#cloud-config\n')) problems.push('does not start with #cloud-config');
  let doc;
  try {
    doc = YAML.parse(text, { uniqueKeys: true, strict: true });
  } catch (e) {
    problems.push('YAML: ' + e.message.split('\n')[0]);
  }
  if (doc !== undefined) {
    const ai = doc && doc.autoinstall;
    if (!ai || typeof ai !== 'object') problems.push('no autoinstall mapping');
    else {
      if (!validate(ai)) for (const e of validate.errors) problems.push(`schema: ${e.instancePath || '/'} ${e.message}`);
      if (ai['user-data'] !== undefined && (typeof ai['user-data'] !== 'object' || Array.isArray(ai['user-data'])))
        problems.push('autoinstall.user-data is not a mapping');
      if (!ai.identity && !ai['user-data']) problems.push('neither identity nor user-data');
    }
  }
  for (const p of problems) console.log(`${f}: ${p}`);
  if (problems.length) bad++;
}
process.exit(bad ? 1 : 0);
