// plan-lite.js: renders the add-on components (stdlib/components/*.json named
// on the command line) for one model with build/tools/render, the way the
// planner does (component/file/step "when", file "each", "out" patterns), so
// the add-on templates can be tested against hand-written models without the
// whole compiler. Usage: node plan-lite.js RENDER STDLIB MODEL OUTDIR COMPONENT...
// Prints the steps as JSON lines (name, script, secrets, inputs, outputs).
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const { execFileSync } = require('child_process');

const [render, stdlib, model, outdir, ...components] = process.argv.slice(2);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-lite-'));
fs.cpSync(stdlib, tmp, { recursive: true });
let n = 0;

function run(text, sets, ext) {
	const name = `templates/_plan_lite_${n++}${ext || ''}`;
	fs.writeFileSync(path.join(tmp, name), text);
	const args = ['--stdlib', tmp, '--context', model, name];
	for (const [k, v] of Object.entries(sets)) args.push('--set', `${k}=${v}`);
	return execFileSync(render, args, { encoding: 'utf8' });
}
// "out" patterns render in the planner's path context; here, as raw text.
const outPath = (pat, sets) => run(pat.replace(/\{\{\s*([^#/>!{][^}]*?)\s*\}\}/g, '{{ $1 | raw }}'), sets);
const when = (expr, sets) => !expr || run(`{{#if ${expr}}}1{{else}}0{{/if}}`, sets) === '1';
function expand(each, sets) {
	if (!each) return [sets];
	const m = /^(\S+) as (\S+)$/.exec(each);
	const count = Number(run(`{{ ${m[1]} | len | raw }}`, sets));
	const out = [];
	for (let i = 0; i < count; i++) out.push({ ...sets, [m[2]]: `@${m[1]}.${i}` });
	return out;
}
try {
	for (const c of components) {
		const man = JSON.parse(fs.readFileSync(path.join(stdlib, 'components', c + '.json'), 'utf8'));
		if (!when(man.when, {})) continue;
		for (const f of man.files || []) {
			for (const sets of expand(f.each, {})) {
				if (!when(f.when, sets)) continue;
				const out = outPath(f.out, sets);
				const dest = path.join(outdir, out);
				fs.mkdirSync(path.dirname(dest), { recursive: true });
				fs.writeFileSync(dest, execFileSync(render, ['--stdlib', tmp, '--context', model, f.template,
					...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`])], { encoding: 'utf8' }));
			}
		}
		for (const s of man.steps || []) {
			for (const sets of expand(s.each, {})) {
				if (!when(s.when, sets)) continue;
				const step = { name: s.name, on: s.on };
				if (s.script) {
					step.script = outPath(s.out, sets);
					const dest = path.join(outdir, step.script);
					fs.mkdirSync(path.dirname(dest), { recursive: true });
					fs.writeFileSync(dest, execFileSync(render, ['--stdlib', tmp, '--context', model, s.script,
						...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`])], { encoding: 'utf8' }), { mode: 0o755 });
				} else {
					step.builtin = s.builtin;
					step.args = s.args;
				}
				for (const k of ['secrets', 'inputs', 'outputs'])
					step[k] = (s[k] || []).map((t) => run(t, sets)).filter((x) => x !== '');
				step.files = s.files || [];
				console.log(JSON.stringify(step));
			}
		}
	}
} finally {
	fs.rmSync(tmp, { recursive: true, force: true });
}
