import { describe, expect, it } from 'vitest';
import { maxAbsDiff, readSafetensors, rng, Tensor, transformerDecoder, transformerEncoder, type Backend, type Graph } from '@leanformer/core';
import { createOrtBackend } from '@leanformer/runtime-ort/node';
import { combineAdapters, createLoraAdapter, fromPeftFiles, injectLora, LoraHotSwap, mergeLora, toPeftFiles, unmergeLora, type LoraAdapter } from './index.js';

const cfg = { vocabSize: 32, hidden: 16, layers: 2, heads: 2, ffn: 32, seed: 3 };
const ids = Tensor.from('int64', [2, 5], [1n, 5n, 9n, 2n, 30n, 4n, 4n, 7n, 0n, 11n]);

/** An adapter with B random too (PEFT starts B at zero, which would make every check trivial). */
function randomAdapter(graph: Graph, name: string, seed: number, targets: string[], r = 4, useRslora = false): LoraAdapter {
  const a = createLoraAdapter(graph, { r, alpha: 8, targetModules: targets, seed, useRslora }, name);
  const g = rng(seed + 100);
  const modules = new Map([...a.modules].map(([m, w]) => [m, { ...w, B: g.normalTensor(w.B.shape, 0.2) }]));
  return { ...a, modules };
}

function maxTensorDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return maxAbsDiff(a.toFloat32(), b.toFloat32());
}

async function logits(backend: Backend, g: Graph): Promise<Tensor> {
  const exe = await backend.compile(g);
  try { return (await exe.run({ input_ids: ids })).logits!; } finally { await exe.dispose(); }
}

describe('LoRA merge / unmerge', () => {
  it('merged and injected (unmerged) graphs agree within 1e-5 on ORT; unmerge restores W within 1e-6', async () => {
    const base = transformerDecoder(cfg);
    const ad = randomAdapter(base, 'a', 1, ['q_proj', 'v_proj', 'down_proj'], 4, true);
    expect(ad.modules.size).toBe(6);
    const backend = createOrtBackend();
    const injected = await logits(backend, injectLora(base, ad).graph);
    const merged = mergeLora(base, ad);
    const viaMerge = await logits(backend, merged);
    const plain = await logits(backend, base);
    expect(maxTensorDiff(injected, viaMerge)).toBeLessThan(1e-5);
    expect(maxTensorDiff(injected, plain)).toBeGreaterThan(1e-3); // the adapter does change the output
    const restored = unmergeLora(merged, ad);
    for (const m of ad.modules.keys()) {
      const w0 = base.initializers.get(`${m}.weight`)!.const!;
      expect(maxTensorDiff(restored.initializers.get(`${m}.weight`)!.const!, w0)).toBeLessThan(1e-6);
      expect(maxTensorDiff(merged.initializers.get(`${m}.weight`)!.const!, w0)).toBeGreaterThan(1e-4);
    }
  });

  it('combineAdapters is the weighted sum of deltas', async () => {
    const base = transformerDecoder(cfg);
    const a = randomAdapter(base, 'a', 1, ['q_proj', 'v_proj']);
    const b = randomAdapter(base, 'b', 2, ['v_proj', 'o_proj'], 2);
    const mix = combineAdapters([a, b], [0.25, -1.5], 'mix');
    const viaMix = mergeLora(base, mix);
    const viaTwo = mergeLora(mergeLora(base, a, { weight: 0.25 }), b, { weight: -1.5 });
    for (const m of mix.modules.keys()) {
      expect(maxTensorDiff(viaMix.initializers.get(`${m}.weight`)!.const!, viaTwo.initializers.get(`${m}.weight`)!.const!)).toBeLessThan(1e-6);
    }
  });
});

describe('LoRA hot-swap on onnxruntime-node', () => {
  it('switching among 3 adapters per request matches each merged model within 1e-5 with one session', async () => {
    const base = transformerDecoder(cfg);
    const targets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
    const adapters = [
      randomAdapter(base, 'one', 1, ['q_proj', 'v_proj']),
      randomAdapter(base, 'two', 2, ['gate_proj', 'down_proj'], 8),
      randomAdapter(base, 'three', 3, targets, 2, true),
    ];
    const ort = createOrtBackend();
    let compiles = 0;
    const counting: Backend = { name: 'counting', compile: (g, o) => { compiles++; return ort.compile(g, o); } };
    const swap = await LoraHotSwap.create(base, counting, { targetModules: targets });
    for (const a of adapters) swap.add(a);
    const expected = new Map<string, Tensor>();
    for (const a of adapters) expected.set(a.name, await logits(ort, mergeLora(base, a)));
    const plain = await logits(ort, base);
    for (const name of ['two', 'one', 'three', 'one', 'two']) {
      const out = (await swap.run({ input_ids: ids }, name)).logits!;
      expect(maxTensorDiff(out, expected.get(name)!)).toBeLessThan(1e-5);
    }
    expect(maxTensorDiff((await swap.run({ input_ids: ids }, null)).logits!, plain)).toBeLessThan(1e-5);
    await expect(swap.run({ input_ids: ids }, 'four')).rejects.toThrow(/no adapter 'four'/);
    expect(compiles).toBe(1);
    await swap.dispose();
  });
});

describe('PEFT adapter files', () => {
  it('round-trips LLaMA-style adapters with PEFT key names and transposed layout', () => {
    const base = transformerDecoder(cfg);
    const a = randomAdapter(base, 'a', 1, ['q_proj', 'v_proj'], 4, true);
    const files = toPeftFiles(a);
    const conf = JSON.parse(files.config);
    expect(conf).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, use_rslora: true, target_modules: ['q_proj', 'v_proj'] });
    const back = fromPeftFiles(files.safetensors, files.config, { name: 'a' });
    expect([...back.modules.keys()].sort()).toEqual([...a.modules.keys()].sort());
    for (const [m, w] of a.modules) {
      const v = back.modules.get(m)!;
      expect(v.scaling).toBeCloseTo(8 / 2, 12);
      expect(maxTensorDiff(v.A, w.A)).toBe(0);
      expect(maxTensorDiff(v.B, w.B)).toBe(0);
    }
  });

  it('maps BERT-style module names to BertModel names and back', () => {
    const enc = transformerEncoder({ vocabSize: 30, hidden: 16, layers: 1, heads: 2, ffn: 32, seed: 0 });
    const a = createLoraAdapter(enc, { r: 2, alpha: 4, targetModules: ['query', 'value', 'dense'], naming: 'bert' }, 'b');
    expect([...a.modules.keys()].sort()).toEqual(['encoder.layer.0.mlp.fc1', 'encoder.layer.0.mlp.fc2', 'encoder.layer.0.self_attn.o_proj', 'encoder.layer.0.self_attn.q_proj', 'encoder.layer.0.self_attn.v_proj']);
    const files = toPeftFiles(a);
    const tensors = new Set(readSafetensors(files.safetensors).tensors.keys());
    expect(tensors.has('base_model.model.encoder.layer.0.attention.self.query.lora_A.weight')).toBe(true);
    expect(tensors.has('base_model.model.encoder.layer.0.intermediate.dense.lora_B.weight')).toBe(true);
    const back = fromPeftFiles(files.safetensors, files.config, { naming: 'bert' });
    expect([...back.modules.keys()].sort()).toEqual([...a.modules.keys()].sort());
    expect(back.modules.get('encoder.layer.0.self_attn.q_proj')!.A.shape).toEqual([16, 2]);
  });

  it('rejects what it cannot represent', () => {
    expect(() => fromPeftFiles(new Uint8Array(16), '{"peft_type":"IA3","r":1}')).toThrow(/IA3/);
    expect(() => fromPeftFiles(new Uint8Array(16), 'nope')).toThrow(/not valid JSON/);
  });
});

describe('LoRA on weights an exporter kept in Constant / Identity nodes (issue 16 item 6)', () => {
  it('createLoraAdapter, injectLora and mergeLora find them through core\'s linear-layer finder', async () => {
    const { attr, DTypes, Graph: G, tensorType } = await import('@leanformer/core');
    const g = new G('paddle-like');
    g.opsets.set('', 17);
    const x = g.addInput('x', tensorType(DTypes.float32, [2, 8]));
    const r0 = rng(3);
    const c = g.addNode({ op: 'Constant', outputs: ['linear_0.w_0'], attrs: { value: attr.tensor(r0.normalTensor([8, 8], 0.5)) } }).output();
    const w2 = g.addNode({ op: 'Identity', inputs: [g.addInitializer('linear_1.w_0', r0.normalTensor([8, 4], 0.5))], outputs: ['w_id'] }).output();
    g.addOutput(g.addNode({ op: 'MatMul', inputs: [g.addNode({ op: 'MatMul', inputs: [x, c] }).output(), w2] }).output());
    const adapter = createLoraAdapter(g, { r: 2, alpha: 4, targetModules: 'all-linear' });
    expect([...adapter.modules.keys()].sort()).toEqual(['linear_0.w_0', 'linear_1.w_0']);
    // B starts at zero: the injected graph computes the base model; a non-zero B changes it, and merging gives the same result.
    for (const m of adapter.modules.values()) (m.B.data as Float32Array).set(r0.normalTensor(m.B.shape, 0.1).data as Float32Array);
    const { graph: injected } = injectLora(g, adapter);
    const merged = mergeLora(g, adapter);
    const feed = { x: r0.normalTensor([2, 8], 1) };
    const run = async (m: Graph) => { const exe = await createOrtBackend().compile(m); const y = Object.values(await exe.run(feed))[0]!.toFloat32(); await exe.dispose(); return y; };
    const [base, inj, mer] = [await run(g), await run(injected), await run(merged)];
    expect(Math.max(...inj.map((v, i) => Math.abs(v - base[i]!)))).toBeGreaterThan(1e-3);
    expect(Math.max(...inj.map((v, i) => Math.abs(v - mer[i]!)))).toBeLessThan(1e-4);
  });
});
