#!/usr/bin/env node
// Runs ONNX's backend-test cases through two paths on one backend and prints the counts:
//   direct: the model file as-is in ONNX Runtime;  IR: import → IR → lowerToOnnx → export → ONNX Runtime.
// Usage (after `npx nx run-many -t build`):
//   node tools/conformance/run.mjs [--root /usr/share/libonnx-testdata/data] [--backend ort-cpu] [--threads 1] [--write]
// --write records the table in README.md and tools/conformance/README.md between the conformance markers
// (each file written to a temp file, then renamed).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cliBackend, findCases, runConformanceCase } from '@leanformer/cli';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({ options: {
  root: { type: 'string', default: '/usr/share/libonnx-testdata/data' },
  backend: { type: 'string', default: 'ort-cpu' },
  threads: { type: 'string', default: '1' },
  write: { type: 'boolean', default: false },
} });
const DIRS = ['node', 'simple', 'pytorch-converted', 'pytorch-operator'];
if (!existsSync(values.root)) { console.error(`conformance: ${values.root} not found (apt install libonnx-testdata)`); process.exit(1); }

const backend = await cliBackend(values.backend).create({ threads: Number(values.threads) });
const rows = [];
const lost = [];
const t0 = performance.now();
for (const dir of DIRS) {
  const cases = findCases(`${values.root}/${dir}`);
  let direct = 0, ir = 0;
  for (const c of cases) {
    const d = await runConformanceCase(c, backend, { direct: true });
    const r = await runConformanceCase(c, backend, { direct: false });
    if (d.status === 'passed') direct++;
    if (r.status === 'passed') ir++;
    if (d.status === 'passed' && r.status !== 'passed') lost.push(`${dir}/${c.name}: ${r.reason}`);
  }
  rows.push({ dir, direct, ir, total: cases.length });
}
const seconds = (performance.now() - t0) / 1000;
const total = rows.reduce((a, r) => ({ direct: a.direct + r.direct, ir: a.ir + r.ir, total: a.total + r.total }), { direct: 0, ir: 0, total: 0 });
const date = new Date().toISOString().slice(0, 10);
const table = [
  `ONNX backend-test cases from Debian's \`libonnx-testdata\`, run on ${values.backend} (onnxruntime-node, intraOpNumThreads ${values.threads}) on ${date}.`,
  'A case passes when every output of every data set matches within ONNX\'s tolerances (rtol 1e-3, atol 1e-7; exact for ints, bools, strings).',
  '"direct" runs the file as-is; "IR" imports it into the leanformer IR, lowers it with `lowerToOnnx`, exports it and runs that.',
  '',
  '| folder | direct passed | IR passed | total |',
  '| --- | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.dir} | ${r.direct} | ${r.ir} | ${r.total} |`),
  `| **all** | **${total.direct}** | **${total.ir}** | **${total.total}** |`,
  '',
  `Cases that pass direct but not through the IR: ${lost.length}. Produced by \`node tools/conformance/run.mjs --write\` (${seconds.toFixed(0)} s on this machine); \`test/conformance.test.ts\` asserts that the IR loses no case.`,
].join('\n');
console.log(table);
for (const l of lost) console.log(`lost: ${l}`);

if (values.write) {
  for (const file of [`${repo}README.md`, `${repo}tools/conformance/README.md`]) {
    const text = readFileSync(file, 'utf8');
    const re = /<!-- conformance:start -->[\s\S]*<!-- conformance:end -->/;
    if (!re.test(text)) { console.error(`conformance: no markers in ${file}; not written`); continue; }
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, text.replace(re, `<!-- conformance:start -->\n${table}\n<!-- conformance:end -->`));
    renameSync(tmp, file);
  }
}
