// `leanformer bench models-convert-7b`: a synthetic Llama-7B-shaped bf16 checkpoint (hidden 4096, 32
// layers, 32 heads, FFN 11008, vocab 32000: ~13.5 GB of sharded safetensors) converted to int4 RTN by
// `convert`'s streamed path, with the converter's peak RSS (bound: 2 GB), then a few tokens decoded
// from the converted folder on ORT CPU. Needs ~45 GB free in os.tmpdir() (checkpoint, the converter's
// fp32 staging file, output) and minutes; `--quick` (or --param layers=N) makes it small.
// 1. writes the checkpoint tensor by tensor in 4 MB chunks (16 chunks of seeded xorshift bf16 values,
//    |x| in 2^-8…2^-4, cycled);
// 2. runs convertCheckpoint in a child, reading its peak RSS from process.resourceUsage() (and
//    /usr/bin/time -v when present);
// 3. runs generate() on the converted folder in another child;
// 4. returns one JSON object and deletes everything (unless --param keep=1).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchInt, type BenchSuite } from '@leanformer/core';
import { runMeasuredChild } from '@leanformer/core/node';

/** Shape of the synthetic checkpoint. */
export interface SyntheticLlamaConfig {
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  readonly vocab: number;
  /** Bytes per safetensors shard at most (a tensor is never split). */
  readonly shardBytes: number;
}

/** Tensor names and `[rows, cols]` shapes of a Llama checkpoint, in Hugging Face's order. */
function llamaTensors(c: SyntheticLlamaConfig): { name: string; shape: number[] }[] {
  const D = c.hidden / c.heads;
  const t: { name: string; shape: number[] }[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocab, c.hidden] }];
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}`;
    t.push(
      { name: `${p}.input_layernorm.weight`, shape: [c.hidden] },
      { name: `${p}.self_attn.q_proj.weight`, shape: [c.heads * D, c.hidden] },
      { name: `${p}.self_attn.k_proj.weight`, shape: [c.kvHeads * D, c.hidden] },
      { name: `${p}.self_attn.v_proj.weight`, shape: [c.kvHeads * D, c.hidden] },
      { name: `${p}.self_attn.o_proj.weight`, shape: [c.hidden, c.heads * D] },
      { name: `${p}.post_attention_layernorm.weight`, shape: [c.hidden] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [c.ffn, c.hidden] },
      { name: `${p}.mlp.up_proj.weight`, shape: [c.ffn, c.hidden] },
      { name: `${p}.mlp.down_proj.weight`, shape: [c.hidden, c.ffn] },
    );
  }
  t.push({ name: 'model.norm.weight', shape: [c.hidden] }, { name: 'lm_head.weight', shape: [c.vocab, c.hidden] });
  return t;
}

/**
 * Writes a bf16 Llama checkpoint folder (config.json, generation_config.json, sharded safetensors with
 * model.safetensors.index.json) one 4 MB chunk at a time: norms are 1, matrices cycle through 16
 * chunks of xorshift values with a random sign, exponent 2^-8…2^-5 and mantissa (no NaN/Inf).
 * Returns the bytes and parameters written and the shard names.
 */
export function writeSyntheticLlama(dir: string, c: SyntheticLlamaConfig, seed = 1): { bytes: number; parameters: number; shards: string[] } {
  const tensors = llamaTensors(c);
  // Group tensors into shards of at most shardBytes.
  const groups: (typeof tensors)[] = [[]];
  let size = 0;
  for (const t of tensors) {
    const b = 2 * t.shape.reduce((a, d) => a * d, 1);
    if (size > 0 && size + b > c.shardBytes) { groups.push([]); size = 0; }
    groups[groups.length - 1]!.push(t);
    size += b;
  }
  const shards = groups.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  let x = (seed * 2654435761) >>> 0 || 1;
  // 16 random 4 MB chunks, cycled: the values only need to look like weights, and generating 6.7 B
  // of them would take longer than writing them.
  const pool = Array.from({ length: 16 }, () => {
    const c = new Uint16Array(2 << 20);
    for (let i = 0; i < c.length; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      // sign | exponent 119…122 (2^-8…2^-5) | 7 mantissa bits
      c[i] = ((x & 1) << 15) | ((119 + ((x >>> 1) & 3)) << 7) | ((x >>> 3) & 0x7f);
    }
    return c;
  });
  const ones = new Uint16Array(2 << 20).fill(0x3f80); // bf16 1.0
  let next = 0;
  let bytes = 0, parameters = 0;
  groups.forEach((group, gi) => {
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let off = 0;
    for (const t of group) {
      const n = 2 * t.shape.reduce((a, d) => a * d, 1);
      header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [off, off + n] };
      off += n;
      weightMap[t.name] = shards[gi]!;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // data section 8-byte aligned
    const fd = openSync(join(dir, shards[gi]!), 'w');
    try {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      writeSync(fd, len);
      writeSync(fd, json);
      for (const t of group) {
        let left = t.shape.reduce((a, d) => a * d, 1);
        parameters += left;
        const norm = t.shape.length === 1;
        while (left > 0) {
          const chunk = norm ? ones : pool[(next++ * 7) % pool.length]!;
          const n = Math.min(left, chunk.length);
          writeSync(fd, chunk, 0, 2 * n);
          left -= n;
        }
      }
    } finally { closeSync(fd); }
    bytes += 8 + json.length + off;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: bytes }, weight_map: weightMap }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: c.hidden, intermediate_size: c.ffn, num_hidden_layers: c.layers,
    num_attention_heads: c.heads, num_key_value_heads: c.kvHeads, vocab_size: c.vocab, max_position_embeddings: 4096, rms_norm_eps: 1e-5,
    rope_theta: 10000.0, hidden_act: 'silu', tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'bfloat16',
  }));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }));
  return { bytes, parameters, shards };
}

// The children import the packages by resolved URL, so they run wherever this module was installed.
const CONVERT_CHILD = (modelsNode: string): string => `
const { convertCheckpoint } = await import(${JSON.stringify(modelsNode)});
const [input, output] = process.argv.slice(1);
const report = await convertCheckpoint(input, output, { precision: 'int4', method: 'rtn' });
process.stdout.write(JSON.stringify({ ...report, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\\n');`;
const GENERATE_CHILD = (models: string, modelsNode: string): string => `
const { generate } = await import(${JSON.stringify(models)});
const { loadPretrained } = await import(${JSON.stringify(modelsNode)});
const [dir, n, vocab] = process.argv.slice(1);
const t0 = performance.now();
const model = await loadPretrained(dir);
const loadSeconds = (performance.now() - t0) / 1000;
const ids = [];
let prefillMs = 0, decodeMs = 0;
for await (const t of generate(model, undefined, { promptIds: [1, 450, 4996, 17354, 1701, 29916, 432, 17204].map((t) => t % Number(vocab)), maxNewTokens: Number(n), stopAtEos: false })) {
  if (ids.length === 0) prefillMs = t.ms; else decodeMs += t.ms;
  ids.push(t.id);
}
await model.dispose();
process.stdout.write(JSON.stringify({ newIds: ids, loadSeconds: +loadSeconds.toFixed(1), prefillMs: Math.round(prefillMs), decodeTokensPerSecond: ids.length > 1 ? +((ids.length - 1) / (decodeMs / 1000)).toFixed(2) : 0, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\\n');`;


const folderBytes = (d: string): number => readdirSync(d).reduce((n, f) => n + statSync(join(d, f)).size, 0);

/** The models-convert-7b suite. */
export const convert7bSuite: BenchSuite = {
  name: 'models-convert-7b',
  summary: 'synthetic Llama-7B-shaped bf16 checkpoint → convert --precision int4 (streamed RTN): peak RSS ≤ 2 GB, then decode tokens/s on ORT CPU',
  params: {
    layers: { description: 'decoder layers', default: '32' }, hidden: { description: 'hidden size', default: '4096' },
    heads: { description: 'attention heads (= kv heads)', default: '32' }, ffn: { description: 'MLP size', default: '11008' },
    vocab: { description: 'vocabulary', default: '32000' }, tokens: { description: 'tokens to decode on the converted model', default: '4' },
    keep: { description: '1 keeps the temp folder', default: '0' },
  },
  async run(o) {
    const cfg: SyntheticLlamaConfig = o.quick
      ? { layers: 2, hidden: 512, heads: 8, kvHeads: 8, ffn: 1376, vocab: 2048, shardBytes: 4 << 20 }
      : (() => { const heads = benchInt(o.params, 'heads', 32); return { layers: benchInt(o.params, 'layers', 32), hidden: benchInt(o.params, 'hidden', 4096), heads, kvHeads: heads, ffn: benchInt(o.params, 'ffn', 11008), vocab: benchInt(o.params, 'vocab', 32000), shardBytes: 5e9 }; })();
    const tokens = benchInt(o.params, 'tokens', 4);
    const keep = benchInt(o.params, 'keep', 0) === 1;
    const root = mkdtempSync(join(tmpdir(), 'lf-convert-7b-'));
    const ckpt = join(root, 'hf'), out = join(root, 'int4');
    try {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(ckpt);
      const t0 = performance.now();
      const w = writeSyntheticLlama(ckpt, cfg);
      const writeSeconds = (performance.now() - t0) / 1000;
      o.log(`wrote ${(w.bytes / 1e9).toFixed(2)} GB (${w.shards.length} shards, ${(w.parameters / 1e9).toFixed(2)} B parameters) in ${writeSeconds.toFixed(0)} s; converting\n`);
      const t1 = performance.now();
      const c = runMeasuredChild('bench models-convert-7b: the convert child', CONVERT_CHILD(import.meta.resolve('@leanformer/models/node')), [ckpt, out]);
      const convertWallSeconds = (performance.now() - t1) / 1000;
      const convertRssMB = Math.max(c['maxRssMB'] as number, (c['timeMaxRssMB'] as number | undefined) ?? 0);
      const outputBytes = folderBytes(out);
      rmSync(ckpt, { recursive: true, force: true }); // disk back before decoding
      o.log(`converted in ${convertWallSeconds.toFixed(0)} s, peak RSS ${convertRssMB} MB; decoding ${tokens} tokens\n`);
      const g = runMeasuredChild('bench models-convert-7b: the generate child', GENERATE_CHILD(import.meta.resolve('@leanformer/models'), import.meta.resolve('@leanformer/models/node')), [out, String(tokens), String(cfg.vocab)]);
      return {
        suite: 'models-convert-7b',
        metrics: {
          checkpoint_gb: +(w.bytes / 1e9).toFixed(2),
          convert_seconds: +convertWallSeconds.toFixed(1),
          convert_max_rss_mb: convertRssMB,
          convert_rss_within_2gb: convertRssMB <= 2048,
          output_gb: +(outputBytes / 1e9).toFixed(2),
          decode_tokens_per_second: g['decodeTokensPerSecond'] as number,
          prefill_ms: g['prefillMs'] as number,
        },
        node: process.version,
        cpus: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
        config: cfg,
        parameters: w.parameters,
        writeSeconds: +writeSeconds.toFixed(1),
        convert: { ...c, files: c['files'] },
        generate: g,
      };
    } finally {
      if (!keep) rmSync(root, { recursive: true, force: true });
      else o.log(`kept ${root}\n`);
    }
  },
};
