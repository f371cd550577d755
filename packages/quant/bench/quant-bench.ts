// `leanformer bench quant` outside the CLI: prints { "suite": "quant", "metrics": { … } } as JSON.
// Run: node packages/quant/bench/run.mjs [--quick]
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { decodeModel, encodeModel } from '@leanformer/onnx';
import { runQuantBench } from '@leanformer/quant';

const quick = process.argv.includes('--quick');
const layersArg = process.argv.find((a) => a.startsWith('--layers='));
const res = await runQuantBench({
  quick,
  backend: createOrtBackend(),
  codec: { encode: (g) => encodeModel(g), decode: (b) => decodeModel(b) },
  ...(layersArg ? { layers: Number(layersArg.slice(9)) } : {}),
});
process.stdout.write(`${JSON.stringify(res)}\n`);
