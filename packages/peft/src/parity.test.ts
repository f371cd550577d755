// LoRA parity with PyTorch + PEFT: loss and adapter gradients of a tiny LLaMA on one batch,
// against the fixture written by packages/peft/fixtures/make_peft_fixture.py (float64 reference).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readSafetensors, Tensor, transformerDecoder, type Graph } from '@leanformer/core';
import { crossEntropyLoss, Trainer } from '@leanformer/runtime-tfjs';
import { fromPeftFiles, injectLora, loraParamNames, PEFT_PREFIX } from './index.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'peft-llama');
const HAVE = existsSync(join(DIR, 'expected.json'));
if (!HAVE) console.warn(`[peft parity] skipped: fixture ${DIR} is absent; on the GPU machine run: python packages/peft/fixtures/make_peft_fixture.py (then commit packages/peft/fixtures/peft-llama/)`);

function transpose(t: Tensor): Tensor {
  const [n, m] = t.shape as [number, number];
  const s = t.toFloat32();
  const o = new Float32Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) o[j * n + i] = s[i * m + j]!;
  return new Tensor('float32', [m, n], o);
}

/** Our transformerDecoder with HF Llama weights: linear weights transposed to [in, out], embeddings and norms as they are. */
function llamaFromHf(cfg: { vocabSize: number; hidden: number; ffn: number; layers: number; heads: number; kvHeads: number; eps: number; ropeTheta: number }, weights: Map<string, Tensor>): Graph {
  const g = transformerDecoder({ ...cfg, seed: 0 });
  for (const [name, t] of weights) {
    const v = g.initializers.get(name);
    if (!v) throw new Error(`HF weight '${name}' has no counterpart in the leanformer graph`);
    g.setInitializer(v, t.shape.length === 2 && name !== 'model.embed_tokens.weight' ? transpose(t) : t);
  }
  const missing = [...g.initializers.values()].filter((v) => /\.weight$/.test(v.name) && !weights.has(v.name));
  if (missing.length) throw new Error(`no HF weight for ${missing.map((v) => v.name).join(', ')}`);
  return g;
}

function relNormError(a: Float32Array, b: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) { d += (a[i]! - b[i]!) ** 2; n += b[i]! ** 2; }
  return Math.sqrt(d / n);
}

describe.skipIf(!HAVE)('LoRA parity with PyTorch + PEFT (tiny LLaMA, one batch)', () => {
  it('loss and adapter gradients match within 1e-4 relative', async () => {
    const exp = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8'));
    const base = llamaFromHf(exp.config, readSafetensors(readFileSync(join(DIR, 'base.safetensors'))).tensors);
    const adapter = fromPeftFiles(readFileSync(join(DIR, 'adapter_model.safetensors')), readFileSync(join(DIR, 'adapter_config.json'), 'utf8'), { name: 'default' });
    expect(adapter.modules.size).toBe(7 * exp.config.layers);
    const { graph, trainable } = injectLora(base, adapter);
    const trainer = await Trainer.create(graph, { loss: crossEntropyLoss('logits', 'labels'), optimizer: { type: 'sgd', lr: 0 }, trainable });
    try {
      const batch = {
        input_ids: Tensor.from('int64', [2, 8], exp.input_ids.flat().map(BigInt)),
        labels: Tensor.from('int64', [2, 8], exp.labels.flat().map(BigInt)),
      };
      const { loss, grads } = await trainer.lossAndGrads(batch);
      expect(Math.abs(loss - exp.loss) / Math.abs(exp.loss)).toBeLessThan(1e-4);
      const ref = readSafetensors(readFileSync(join(DIR, 'adapter_grads.safetensors'))).tensors;
      let worst = 0;
      for (const module of adapter.modules.keys()) {
        const names = loraParamNames(module, 'default');
        for (const [ours, key] of [[names.A, 'lora_A'], [names.B, 'lora_B']] as const) {
          const g = grads.get(ours)!;
          const mine = new Tensor('float32', g.shape, g.dataSync() as Float32Array);
          const theirs = transpose(ref.get(`${PEFT_PREFIX}${module}.${key}.weight`)!);
          expect(mine.shape).toEqual(theirs.shape);
          worst = Math.max(worst, relNormError(mine.toFloat32(), theirs.toFloat32()));
        }
      }
      for (const g of grads.values()) g.dispose();
      expect(worst).toBeLessThan(1e-4);
    } finally {
      trainer.dispose();
    }
  });
});
