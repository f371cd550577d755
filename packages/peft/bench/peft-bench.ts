// `leanformer bench peft` without the CLI. Run: node packages/peft/bench/run.mjs [--quick] [--only paca,hotswap,welore] [--tfjs cpu|wasm|webgpu]
import { runPeftBench, type PeftBenchSection } from '../src/bench.js';

const at = process.argv.indexOf('--only');
const only = at >= 0 ? (process.argv[at + 1] ?? '').split(',') as PeftBenchSection[] : undefined;
const tb = process.argv.indexOf('--tfjs');
const tfjsBackend = tb >= 0 ? process.argv[tb + 1] as 'cpu' | 'wasm' | 'webgpu' : undefined;
const res = await runPeftBench({ quick: process.argv.includes('--quick'), only, ...(tfjsBackend ? { tfjsBackend } : {}) });
console.log(JSON.stringify(res, null, 2));
