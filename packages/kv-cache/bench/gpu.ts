// `leanformer bench gpu [--quick] --json` (kv-cache's `./gpu-bench` entry, the CLI's `gpu` prefix: it times
// the in-graph decode loop, and runtime-ort cannot depend on kv-cache):
// ONNX Runtime's CUDA EP on the figures of issue #14, inputs
// made and outputs reduced inside the graphs where host copies would dominate. Needs the CUDA EP
// (tools/device/README.md: the GPU machine's two-call recipe); a clear BACKEND_UNAVAILABLE otherwise.
// The PyTorch peer runs in the same command (tools/device/gpu-suite.sh, tools/device/gpu_peer.py).
//   int4_gemv_ratio        one K×N layer at batch 1, int4 MatMulNBits vs fp16 MatMul (fp16 activations),
//                          L layers chained in one graph so launch and copies amortize
//   swa_speedup_32k_cuda   GroupQueryAttention fp16 prefill, local_window_size 512 vs dense causal
//   prefill_tokens_per_s   a converted fp16 decoder (--param model-fp16=<dir>) on 2K tokens (logits stay on the device)
//   decode_tokens_per_s    converted fp16 / int4 decoders, greedy, in-graph Loop (KV on the device)
//                          and the host loop, at contexts 1K and 4K; kv_host_bytes_per_token for each
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  attr, benchInt, benchNumber, DTypes, Graph, LeanformerError, median, Tensor, tensorType,
  type BenchSuite, type Executor, type Value,
} from '@leanformer/core';
import { decodeStream, generateInGraph, greedyLoopGraph } from '@leanformer/kv-cache';
import { encodeModel } from '@leanformer/onnx';
import { loadModel, saveModel } from '@leanformer/onnx/node';
import { createOrtBackend, ortNode, toOrtTensor, type OrtBackend } from '@leanformer/runtime-ort/node';

/** Median ms of `reps` runs after `warm` untimed ones. */
async function timeRuns(run: () => Promise<unknown>, reps: number, warm = 2): Promise<number> {
  for (let i = 0; i < warm; i++) await run();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) { const s = performance.now(); await run(); t.push(performance.now() - s); }
  return median(t);
}

/** A cheap non-constant fill (speed does not depend on values; all-zero pages could be special-cased). */
function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < Math.min(n, 65536); i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; a[i] = x & 0xff; }
  for (let i = 65536; i < n; i += 65536) a.copyWithin(i, 0, Math.min(65536, n - i));
  return a;
}

/** fp16 bits of small values (|x| < 0.03), so chained layers neither overflow nor flush to zero quickly. */
function fp16Weights(n: number, seed: number): Tensor {
  const raw = pattern(2 * n, seed);
  const u16 = new Uint16Array(raw.buffer);
  for (let i = 0; i < n; i++) u16[i] = (u16[i]! & 0x83ff) | 0x2000; // sign, mantissa kept; exponent 2^-7
  return new Tensor('float16', [n], u16);
}

/**
 * `layers` chained batch-1 projections [1, K] → [1, N] (N > K: the first K outputs feed the next layer
 * through a Slice, which the fp16 and int4 graphs share), weights fp16 or int4 MatMulNBits (block 32,
 * fp16 scales, no zero points). Input x fp16 [1, K]; output y fp16 [1, N].
 */
function gemvChain(K: number, N: number, layers: number, int4: boolean): Graph {
  const g = new Graph(`gemv_${K}x${N}_${int4 ? 'int4' : 'fp16'}`);
  g.opsets.set('', 17); g.opsets.set('com.microsoft', 1);
  let x: Value = g.addInput('x', tensorType(DTypes.float16, [1, K]));
  const starts = g.addInitializer('starts', Tensor.from('int64', [1], [0n]));
  const ends = g.addInitializer('ends', Tensor.from('int64', [1], [BigInt(K)]));
  const axes = g.addInitializer('axes', Tensor.from('int64', [1], [1n]));
  for (let l = 0; l < layers; l++) {
    let y: Value;
    if (int4) {
      const B = g.addInitializer(`B${l}`, new Tensor('uint8', [N, K / 32, 16], pattern(N * K / 2, l + 1)));
      const S = g.addInitializer(`S${l}`, fp16Weights(N * K / 32, l + 7));
      y = g.addNode({ op: 'MatMulNBits', domain: 'com.microsoft', inputs: [x, B, S], attrs: { K: attr.int(K), N: attr.int(N), bits: attr.int(4), block_size: attr.int(32) } }).output();
    } else {
      const W = g.addInitializer(`W${l}`, fp16Weights(K * N, l + 1).reshape([K, N]));
      y = g.addNode({ op: 'MatMul', inputs: [x, W] }).output();
    }
    y.type = tensorType(DTypes.float16, [1, N]);
    if (l === layers - 1) { g.addOutput(g.addNode({ op: 'Identity', inputs: [y], outputs: ['y'] }).output()); break; }
    x = N === K ? y : g.addNode({ op: 'Slice', inputs: [y, starts, ends, axes] }).output();
  }
  return g;
}

/**
 * GroupQueryAttention fp16 prefill of S tokens, inputs expanded from a [1, 1, ·] seed inside the graph
 * and the output summed to a scalar, so host↔device copies are a few bytes and the attention kernel
 * is what is timed. window 0 = dense causal.
 */
function gqaPrefill(S: number, heads: number, kvHeads: number, D: number, window: number): Graph {
  const g = new Graph(`gqa_${S}_${window || 'dense'}`);
  g.opsets.set('', 17); g.opsets.set('com.microsoft', 1);
  const seed = g.addInput('seed', tensorType(DTypes.float16, [1, 1, heads * D]));
  const ex = (cols: number, name: string): Value => {
    const shape = g.addInitializer(`${name}_shape`, Tensor.from('int64', [3], [1n, BigInt(S), BigInt(cols)]));
    const src = cols === heads * D ? seed : g.addNode({ op: 'Slice', inputs: [seed, g.addInitializer(`${name}_s`, Tensor.from('int64', [1], [0n])), g.addInitializer(`${name}_e`, Tensor.from('int64', [1], [BigInt(cols)])), g.addInitializer(`${name}_a`, Tensor.from('int64', [1], [2n]))] }).output();
    return g.addNode({ op: 'Expand', inputs: [src, shape] }).output();
  };
  const q = ex(heads * D, 'q'), k = ex(kvHeads * D, 'k'), v = ex(kvHeads * D, 'v');
  const seqlens = g.addInitializer('seqlens_k', Tensor.from('int32', [1], [S - 1]));
  const total = g.addInitializer('total_len', Tensor.from('int32', [], [S]));
  const o = g.addNode({
    op: 'GroupQueryAttention', domain: 'com.microsoft', inputs: [q, k, v, null, null, seqlens, total], outputs: 3,
    attrs: { num_heads: attr.int(heads), kv_num_heads: attr.int(kvHeads), ...(window ? { local_window_size: attr.int(window) } : {}) },
  }).output();
  const s = g.addNode({ op: 'ReduceSum', inputs: [o], attrs: { keepdims: attr.int(0) }, outputs: ['sum'] }).output();
  s.type = tensorType(DTypes.float16, []);
  g.addOutput(s);
  return g;
}

interface ConvertedInfo { layers: number; kvHeads: number; headDim: number; vocab: number; compute?: string }

function readInfo(dir: string): ConvertedInfo {
  return JSON.parse(readFileSync(join(dir, 'leanformer.json'), 'utf8')) as ConvertedInfo;
}

/** Bytes of a converted model's files (≈ its weights: what one decode step reads at least once). */
function weightBytes(dir: string): number {
  const f = (n: string) => (existsSync(join(dir, n)) ? statSync(join(dir, n)).size : 0);
  return f('model.onnx') + f('model.onnx.data');
}

/**
 * ORT's profiler over `runs` runs of `model` on `ep`: per op, node count and summed node time, and the
 * summed `model_run` time. On the CUDA EP a node's time is its host side (launch, plus waits where the
 * kernel syncs), so wall time well above the GPU's work marks launch- or host-bound execution.
 */
async function profile(model: Uint8Array | string, feeds: Readonly<Record<string, Tensor>>, ep: string, runs: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'lf-gpu-prof-'));
  try {
    const s = await ortNode.InferenceSession.create(model, { executionProviders: [ep], enableProfiling: true, profileFilePrefix: join(dir, 'p') });
    const f = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrtTensor(ortNode, t, k)]));
    for (let i = 0; i < runs; i++) await s.run(f);
    s.endProfiling();
    await s.release();
    const file = readdirSync(dir).find((n) => n.endsWith('.json'))!;
    const ev = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat?: string; name?: string; dur?: number; args?: { op_name?: string; provider?: string } }[];
    const byOp: Record<string, { nodes: number; ms: number }> = {};
    let runMs = 0;
    for (const e of ev) {
      if (e.cat === 'Session' && e.name === 'model_run') runMs += (e.dur ?? 0) / 1e3;
      if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
      const k = `${e.args?.op_name ?? '?'}@${(e.args?.provider ?? '?').replace('ExecutionProvider', '')}`;
      const r = (byOp[k] ??= { nodes: 0, ms: 0 });
      r.nodes++; r.ms += (e.dur ?? 0) / 1e3;
    }
    const top = Object.fromEntries(Object.entries(byOp).sort((a, b) => b[1].ms - a[1].ms).slice(0, 8).map(([k, v]) => [k, { nodesPerRun: v.nodes / runs, msPerRun: v.ms / runs }]));
    return { runs, modelRunMsPerRun: runMs / runs, nodeMsPerRun: Object.values(byOp).reduce((a, v) => a + v.ms, 0) / runs, topOps: top };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

async function cudaBackend(ep: 'cuda' | 'cpu'): Promise<OrtBackend> {
  const backend = createOrtBackend({ eps: [ep] });
  const probe = new Graph('probe');
  probe.opsets.set('', 17);
  probe.addOutput(probe.addNode({ op: 'Relu', inputs: [probe.addInput('x', tensorType(DTypes.float32, [1]))], outputs: ['y'] }).output());
  try {
    await (await backend.compile(probe)).dispose();
  } catch (e) {
    throw new LeanformerError('BACKEND_UNAVAILABLE', `bench gpu needs ONNX Runtime's CUDA execution provider, which did not load: ${e instanceof Error ? e.message : String(e)}. On the GPU machine, stage it first (tools/device/README.md, "GPU suite")`, { cause: e });
  }
  return backend;
}

/** `leanformer bench gpu`: the CUDA figures of issue #14 (see the file comment; tools/device/gpu-suite.sh runs it with its peer). */
export const gpuSuite: BenchSuite = {
  name: 'gpu',
  summary: "ORT's CUDA EP: int4 GEMV vs fp16, window vs dense GQA at 32K, fp16 prefill, decode tokens/s (in-graph loop vs host loop)",
  params: {
    'model-fp16': { description: 'folder written by `convert --target ort-cuda` (fp16) for prefill/decode figures' },
    'model-int4': { description: 'folder written by `convert --precision int4 --target ort-cuda` for decode figures' },
    'hbm-gbps': { description: 'the GPU\'s HBM bandwidth in GB/s for the fraction-of-limit figures', default: '3350 (H100 SXM)' },
    layers: { description: 'chained layers in the GEMV graphs', default: '8' },
    gemv: { description: 'GEMV shapes KxN, comma-separated', default: '4096x4096,4096x14336' },
    'swa-seq': { description: 'prefill tokens of the window-vs-dense GQA figure', default: '32768 (quick 8192)' },
    contexts: { description: 'decode contexts, comma-separated', default: '1024,4096' },
    prefill: { description: 'prompt tokens of the prefill figure', default: '2048' },
    ep: { description: "'cuda', or 'cpu' to check the suite's graphs without a GPU (figures meaningless)", default: 'cuda' },
    profile: { description: "'yes': also run each figure's graph under ORT's profiler (time per op)", default: 'no' },
    'new-tokens': { description: 'decode tokens timed per context', default: '64 (quick 16)' },
  },
  async run(o) {
    const ep = o.params['ep'] ?? 'cuda';
    if (ep !== 'cuda' && ep !== 'cpu') throw new LeanformerError('INVALID_ARGUMENT', `bench gpu: --param ep must be cuda or cpu, got '${ep}'`, { details: { argument: 'ep' } });
    const list = (name: string, fallback: string): string[] => (o.params[name] ?? fallback).split(',').filter(Boolean);
    const shapes = list('gemv', '4096x4096,4096x14336').map((t) => {
      const m = /^(\d+)x(\d+)$/.exec(t);
      if (!m || Number(m[1]) % 32 || Number(m[2]) < Number(m[1])) throw new LeanformerError('INVALID_ARGUMENT', `bench gpu: --param gemv takes KxN pairs with K a multiple of 32 and N ≥ K, got '${t}'`, { details: { argument: 'gemv' } });
      return [Number(m[1]), Number(m[2])] as const;
    });
    const contexts = list('contexts', '1024,4096').map(Number);
    if (contexts.some((c) => !Number.isInteger(c) || c < 1)) throw new LeanformerError('INVALID_ARGUMENT', `bench gpu: --param contexts takes positive integers, got '${o.params['contexts']}'`, { details: { argument: 'contexts' } });
    const backend = await cudaBackend(ep);
    const profiles: Record<string, unknown> = {};
    const prof = o.params['profile'] === 'yes';
    const hbm = benchNumber(o.params, 'hbm-gbps', 3350) * 1e9;
    const L = benchInt(o.params, 'layers', 8);
    const reps = o.quick ? 5 : 20;
    const metrics: Record<string, number | null> = {};
    const details: Record<string, unknown> = { hbmBytesPerSecond: hbm };

    // int4 vs fp16 GEMV, batch 1.
    for (const [K, N] of shapes) {
      const x = { x: new Tensor('float16', [1, K], fp16Weights(K, 3).data as Uint16Array) };
      const ms: Record<string, number> = {};
      for (const int4 of [false, true]) {
        const exe = await backend.compile(gemvChain(K, N, L, int4));
        ms[int4 ? 'int4' : 'fp16'] = (await timeRuns(() => exe.run(x), reps)) / L;
        await exe.dispose();
        if (prof) profiles[`gemv_${K}x${N}_${int4 ? 'int4' : 'fp16'}`] = await profile(encodeModel(gemvChain(K, N, L, int4)), x, ep, 10);
      }
      const tag = `${K}x${N}`;
      metrics[`int4_gemv_ratio_${tag}`] = ms.int4! / ms.fp16!;
      details[`gemv_${tag}`] = {
        msPerLayerFp16: ms.fp16, msPerLayerInt4: ms.int4, layersChained: L,
        hbmFractionFp16: (K * N * 2) / (ms.fp16! / 1e3) / hbm, hbmFractionInt4: (K * N / 2 + K * N / 16) / (ms.int4! / 1e3) / hbm,
      };
      o.log(`gemv ${tag}: fp16 ${ms.fp16!.toFixed(4)} ms, int4 ${ms.int4!.toFixed(4)} ms per layer\n`);
    }

    // Sliding window 512 vs dense causal GQA prefill.
    const S = benchInt(o.params, 'swa-seq', o.quick ? 8192 : 32768);
    const seed = { seed: new Tensor('float16', [1, 1, 32 * 128], fp16Weights(32 * 128, 5).data as Uint16Array) };
    const gqa: Record<string, number> = {};
    for (const w of [0, 512]) {
      const exe = await backend.compile(gqaPrefill(S, 32, 8, 128, w));
      gqa[w ? 'window512' : 'dense'] = await timeRuns(() => exe.run(seed), o.quick ? 3 : 5, 1);
      await exe.dispose();
      if (prof) profiles[`gqa_${S}_${w ? 'window512' : 'dense'}`] = await profile(encodeModel(gqaPrefill(S, 32, 8, 128, w)), seed, ep, 3);
    }
    metrics[`swa_speedup_${S >= 1024 ? `${S / 1024}k` : S}_${ep}`] = gqa.dense! / gqa.window512!;
    details['gqa_prefill'] = { seq: S, heads: 32, kvHeads: 8, headDim: 128, denseMs: gqa.dense, window512Ms: gqa.window512 };
    o.log(`gqa ${S}: dense ${gqa.dense!.toFixed(2)} ms, window 512 ${gqa.window512!.toFixed(2)} ms\n`);

    // Converted decoders: prefill and decode.
    const newTokens = benchInt(o.params, 'new-tokens', o.quick ? 16 : 64);
    for (const [label, dir] of [['fp16', o.params['model-fp16']], ['int4', o.params['model-int4']]] as const) {
      if (!dir) { o.log(`no --param model-${label}: skipping its prefill/decode figures\n`); continue; }
      const info = readInfo(dir);
      const wBytes = weightBytes(dir);
      const kvDtype = info.compute === 'fp16' ? 'float16' : 'float32';
      const kvElt = kvDtype === 'float16' ? 2 : 4;
      const prompt = (n: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 13) % info.vocab);
      const row: Record<string, unknown> = { weightBytes: wBytes, kvDtype };
      // Prefill (fp16 only): full logits computed on the device, one small output fetched.
      // From the file: ORT reads the external data itself (a 1B fp16 model is over protobuf's 2 GiB).
      const stepExe: Executor = await backend.createExecutorFromBytes(join(dir, 'model.onnx'));
      if (label === 'fp16') {
        const P = benchInt(o.params, 'prefill', 2048);
        const feeds: Record<string, Tensor> = { tokens: new Tensor('int64', [1, P], BigInt64Array.from(prompt(P), BigInt)) };
        for (let l = 0; l < info.layers; l++) for (const k of ['key', 'value']) feeds[`past_${k}_${l}`] = Tensor.zeros(kvDtype, [1, info.kvHeads, 0, info.headDim]);
        const ms = await timeRuns(() => stepExe.run(feeds, { fetches: ['present_key_0'] }), o.quick ? 3 : 10);
        metrics[`prefill_tokens_per_s_fp16_${P}`] = P / (ms / 1e3);
        row['prefillMs'] = ms;
      }
      // Host loop (kv-cache's decodeStream: past in, present out, every token).
      const host: Record<string, unknown> = {};
      for (const ctx of contexts) {
        const steps: number[] = [];
        let i = 0;
        for await (const t of decodeStream(stepExe, prompt(ctx), { layers: info.layers, kvHeads: info.kvHeads, headDim: info.headDim, kvDtype }, { maxNewTokens: Math.min(newTokens, 16) + 1 })) if (i++ > 0) steps.push(t.ms);
        const ms = median(steps.slice(1));
        const kvBytes = 2 * info.layers * info.kvHeads * ctx * info.headDim * kvElt;
        host[ctx] = { msPerToken: ms, tokensPerS: 1e3 / ms, kvHostBytesPerToken: 2 * kvBytes };
        metrics[`decode_tokens_per_s_${label}_${ctx}_host_loop`] = 1e3 / ms;
        metrics[`kv_host_bytes_per_token_${label}_${ctx}_host_loop`] = 2 * kvBytes; // past in + present out
      }
      await stepExe.dispose();
      row['hostLoop'] = host;
      // In-graph loop: one run per generation; decode time = t(1 + n) − t(1) over n tokens.
      const tmp = mkdtempSync(join(tmpdir(), 'lf-gpu-loop-'));
      let loopExe: Executor;
      try {
        await saveModel(greedyLoopGraph(await loadModel(join(dir, 'model.onnx')), info), join(tmp, 'loop.onnx'), { externalData: true });
        loopExe = await backend.createExecutorFromBytes(join(tmp, 'loop.onnx'));
        if (prof) {
          const p = prompt(contexts[0]!);
          profiles[`loop_${label}_${contexts[0]}_${1 + newTokens}_tokens`] = await profile(join(tmp, 'loop.onnx'), {
            tokens: new Tensor('int64', [1, p.length], BigInt64Array.from(p, BigInt)), max_new_tokens: Tensor.from('int64', [], [BigInt(1 + newTokens)]),
          }, ep, 2);
        }
      } finally { rmSync(tmp, { recursive: true, force: true }); }
      const inGraph: Record<string, unknown> = {};
      for (const ctx of contexts) {
        const p = prompt(ctx);
        const t1 = await timeRuns(() => generateInGraph(loopExe, p, 1), 3, 1);
        const tn = await timeRuns(() => generateInGraph(loopExe, p, 1 + newTokens), 3, 1);
        const ms = (tn - t1) / newTokens;
        const kvRead = 2 * info.layers * info.kvHeads * ctx * info.headDim * kvElt;
        inGraph[ctx] = { msPerToken: ms, prefillMs: t1, hbmFraction: (wBytes + kvRead) / (ms / 1e3) / hbm };
        metrics[`decode_tokens_per_s_${label}_${ctx}`] = 1e3 / ms;
        metrics[`hbm_fraction_${label}_${ctx}`] = (wBytes + kvRead) / (ms / 1e3) / hbm;
        metrics[`kv_host_bytes_per_token_${label}_${ctx}`] = 0; // prompt ids in, new ids out; KV is Loop state
        o.log(`${label} ctx ${ctx}: in-graph ${(1e3 / ms).toFixed(1)} tok/s, host loop ${(host[ctx] as { tokensPerS: number }).tokensPerS.toFixed(1)} tok/s\n`);
      }
      await loopExe.dispose();
      row['inGraphLoop'] = inGraph;
      details[`decoder_${label}`] = row;
    }
    if (metrics['decode_tokens_per_s_int4_1024'] !== undefined && metrics['decode_tokens_per_s_fp16_1024'] !== undefined) {
      metrics['int4_over_fp16_decode_1024'] = metrics['decode_tokens_per_s_int4_1024']! / metrics['decode_tokens_per_s_fp16_1024']!;
    }
    return { suite: 'gpu', ep, metrics, ...details, ...(prof ? { profiles } : {}), quick: o.quick, node: process.version };
  },
};

/** The suites of this entry (`leanformer bench gpu`). */
export const benches: readonly BenchSuite[] = [gpuSuite];
