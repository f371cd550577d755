// `leanformer bench peft` without the CLI. Run: node packages/peft/bench/run.mjs [--quick]
import { runPeftBench } from '../src/bench.js';

const res = await runPeftBench({ quick: process.argv.includes('--quick') });
console.log(JSON.stringify(res, null, 2));
