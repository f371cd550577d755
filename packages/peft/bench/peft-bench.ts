// `leanformer bench peft` without the CLI. Run: node packages/peft/bench/run.mjs [--quick] [--only paca,hotswap,welore]
import { runPeftBench, type PeftBenchSection } from '../src/bench.js';

const at = process.argv.indexOf('--only');
const only = at >= 0 ? (process.argv[at + 1] ?? '').split(',') as PeftBenchSection[] : undefined;
const res = await runPeftBench({ quick: process.argv.includes('--quick'), only });
console.log(JSON.stringify(res, null, 2));
