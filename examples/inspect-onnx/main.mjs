// Import an ONNX file and inspect it: model facts, ops, parameters, inputs and outputs, the
// graph as text, then run it on ONNX Runtime CPU against the expected outputs shipped with it.
// Uses the ONNX test suite's LSTM model from libonnx-testdata when installed (CI installs it);
// otherwise a small encoder built here and saved as ONNX (no downloads either way).
//
//   npm run example:inspect-onnx       # or, after a build: node examples/inspect-onnx/main.mjs [model.onnx]
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { analyzeGraph, printGraph, transformerEncoder } from '@leanformer/core';
import { loadModel, readTensorFile, saveModel } from '@leanformer/onnx/node';
import { createOrtBackend } from '@leanformer/runtime-ort/node';

const TESTDATA = '/usr/share/libonnx-testdata/data/node/test_lstm_defaults/model.onnx';
const tmp = mkdtempSync(join(tmpdir(), 'lf-inspect-'));
try {
  let file = process.argv[2] ?? TESTDATA;
  if (process.argv[2] && !existsSync(file)) throw new Error(`no such file: ${file}`);
  if (!existsSync(file)) {
    file = join(tmp, 'encoder.onnx');
    await saveModel(transformerEncoder({ vocabSize: 500, hidden: 64, layers: 2, heads: 4, ffn: 128, maxSeq: 64, seed: 3 }), file);
    console.log(`(libonnx-testdata not installed: inspecting an encoder built here instead)`);
  }
  const graph = await loadModel(file);
  const m = graph.model;
  console.log(`${file}`);
  console.log(`  ir_version ${m?.irVersion}, producer '${m?.producerName ?? ''}', opsets ${[...graph.opsets].map(([d, v]) => `${d || 'ai.onnx'} ${v}`).join(', ')}`);
  const fmt = (v) => `${v.name}: ${v.dtype?.name ?? '?'}[${(v.shape ?? []).map((d) => d ?? '?').join(', ')}]`;
  const inputs = graph.inputs.filter((v) => !v.isInitializer);
  console.log(`  inputs  ${inputs.map(fmt).join('; ')}`);
  console.log(`  outputs ${graph.outputs.map(fmt).join('; ')}`);
  const ops = {};
  for (const n of graph.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  const cost = analyzeGraph(graph);
  console.log(`  ${graph.nodes.length} nodes (${Object.entries(ops).map(([k, v]) => `${k}×${v}`).join(', ')}), ${graph.initializers.size} initializers, ${cost.params} parameters`);
  console.log(printGraph(graph, { maxValues: 4 }).split('\n').slice(0, 12).map((l) => `  | ${l}`).join('\n'));

  // Run it: with the test data set beside the model when there is one, else with zeros of the input shapes.
  const backend = createOrtBackend({ eps: ['cpu'], intraOpNumThreads: 2 });
  const exe = await backend.compile(graph);
  const set = join(dirname(file), 'test_data_set_0');
  if (existsSync(set)) {
    const files = readdirSync(set).sort();
    const feeds = {};
    files.filter((f) => f.startsWith('input_')).forEach((f, i) => { const { name, tensor } = readTensorFile(join(set, f)); feeds[name || inputs[i].name] = tensor; });
    const out = await exe.run(feeds);
    let worst = 0;
    files.filter((f) => f.startsWith('output_')).forEach((f, i) => {
      const { name, tensor } = readTensorFile(join(set, f));
      const got = out[name || graph.outputs[i].name].toFloat32();
      const want = tensor.toFloat32();
      if (got.length !== want.length) throw new Error(`${name}: ${got.length} values, expected ${want.length}`);
      for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - want[j]));
    });
    if (!(worst < 1e-4)) throw new Error(`ORT output differs from the expected output by ${worst}`);
    console.log(`ran on ORT ${exe.info.device} with test_data_set_0: max |Δ| vs expected = ${worst.toExponential(2)}`);
  } else {
    const { Tensor } = await import('@leanformer/core');
    const feeds = Object.fromEntries(inputs.map((v) => [v.name, Tensor.zeros(v.dtype, (v.shape ?? []).map((d) => (typeof d === 'number' ? d : 4)))]));
    const out = await exe.run(feeds);
    console.log(`ran on ORT ${exe.info.device}: ${Object.entries(out).map(([k, t]) => `${k} ${t.dtype.name}[${t.shape.join(', ')}]`).join('; ')}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
