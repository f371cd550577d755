// Seeded fuzzing of the PEFT adapter reader (fromPeftFiles, and readAdapterDir on a sample of
// folders), starting from a real adapter written by PEFT 0.21 (fixtures/peft-llama): 10,000 cases
// of corrupt adapter_config.json (bad JSON, wrong types, r ≤ 0, missing target_modules, …),
// corrupt adapter_model.safetensors, and well-formed files whose tensors disagree with each
// other or with the config. Every case either reads into an adapter whose shapes and scalings
// are consistent, or throws a LeanformerError, within a per-case time limit; the cases that
// are wrong by construction must all throw.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLeanformerError, readSafetensors, Tensor, writeSafetensors } from '@leanformer/core';
import { readAdapterDir } from './cli.js';
import type { LoraAdapter } from './lora.js';
import { fromPeftFiles } from './peft-format.js';

const CASES = 10_000;
const CASE_LIMIT_MS = 2_000;
const DIR_EVERY = 50; // every 50th case also goes through readAdapterDir (200 folders)

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'peft-llama');
const baseSt = new Uint8Array(readFileSync(join(FIXTURE, 'adapter_model.safetensors')));
const baseCfgText = readFileSync(join(FIXTURE, 'adapter_config.json'), 'utf8');
const baseCfg = JSON.parse(baseCfgText) as Record<string, unknown>;
const baseTensors = readSafetensors(baseSt).tensors;
const keys = [...baseTensors.keys()];

const work = mkdtempSync(join(tmpdir(), 'lf-peft-fuzz-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const int = (r: () => number, n: number): number => Math.floor(r() * n);
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[int(r, xs.length)]!;
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

interface Case { st: Uint8Array; cfg: string; /** Wrong by construction: must throw. */ mustFail: boolean }

const MUTATORS: readonly ((r: () => number) => Case)[] = [
  // adapter_config.json: a field set to a wrong type or value. Must fail for the fields we read.
  (r) => {
    const c: Record<string, unknown> = { ...baseCfg };
    const wrong: Record<string, readonly unknown[]> = {
      r: [0, -4, 1.5, '4', null, [], 3, 5, 2 ** 53], // 3 and 5 are valid ranks, but not this adapter's
      lora_alpha: ['8', [], {}, true],
      lora_dropout: [-0.1, 1, 2, '0.1', [], true],
      use_rslora: ['yes', 1, [], {}],
      target_modules: [null, [], '', [1], [''], {}, 7, true],
      alpha_pattern: [[], 'x', 5, { 'model.layers.0.self_attn.q_proj': '8' }, { q_proj: null }, { q_proj: [] }],
      rank_pattern: [[], 'x', 5, { q_proj: 0 }, { q_proj: 2.5 }, { q_proj: '4' }, { 'model.layers.0.self_attn.q_proj': 8 }],
      peft_type: ['IA3', 'lora', 3, []],
      use_dora: [true, 'yes', 1],
      fan_in_fan_out: [true, 'yes', 1],
    };
    const field = pick(r, Object.keys(wrong));
    const value = pick(r, wrong[field]!);
    c[field] = value;
    return { st: baseSt, cfg: JSON.stringify(c), mustFail: true };
  },
  // adapter_config.json: missing fields, not an object, bad JSON text.
  (r) => {
    switch (int(r, 3)) {
      case 0: { const c: Record<string, unknown> = { ...baseCfg }; delete c[pick(r, ['r', 'target_modules'])]; return { st: baseSt, cfg: JSON.stringify(c), mustFail: true }; }
      case 1: return { st: baseSt, cfg: pick(r, ['null', '[]', '7', '"x"', '', '{}']), mustFail: true };
      default: { const at = int(r, baseCfgText.length - 2); return { st: baseSt, cfg: baseCfgText.slice(0, at), mustFail: true }; }
    }
  },
  // adapter_config.json: byte damage (may hit only ignored fields or whitespace).
  (r) => {
    const b = new TextEncoder().encode(baseCfgText);
    for (let k = 1 + int(r, 3); k > 0; k--) b[int(r, b.length)] = int(r, 256);
    return { st: baseSt, cfg: new TextDecoder().decode(b), mustFail: false };
  },
  // adapter_model.safetensors: byte damage, truncation, extension.
  (r) => {
    const o = baseSt.slice();
    switch (int(r, 3)) {
      case 0: for (let k = 1 + int(r, 4); k > 0; k--) { const bit = int(r, o.length * 8); o[bit >> 3]! ^= 1 << (bit & 7); } return { st: o, cfg: baseCfgText, mustFail: false };
      case 1: return { st: baseSt.slice(0, int(r, baseSt.length)), cfg: baseCfgText, mustFail: true };
      default: { const x = new Uint8Array(baseSt.length + 1 + int(r, 32)); x.set(baseSt); return { st: x, cfg: baseCfgText, mustFail: true }; }
    }
  },
  // Well-formed safetensors whose tensors disagree with each other or with the config.
  (r) => {
    const t = new Map(baseTensors);
    const key = pick(r, keys);
    const w = t.get(key)!;
    const partner = key.includes('lora_A') ? key.replace('lora_A', 'lora_B') : key.replace('lora_B', 'lora_A');
    switch (int(r, 7)) {
      case 0: t.set(key, new Tensor('float32', [w.shape[1]!, w.shape[0]!], w.toFloat32())); break; // transposed
      case 1: { // both factors at rank r + 1: consistent with each other, not with the config's r
        const [a, b] = key.includes('lora_A') ? [key, partner] : [partner, key];
        t.set(a, Tensor.zeros('float32', [t.get(a)!.shape[0]! + 1, t.get(a)!.shape[1]!]));
        t.set(b, Tensor.zeros('float32', [t.get(b)!.shape[0]!, t.get(b)!.shape[1]! + 1]));
        break;
      }
      case 2: t.delete(partner); break; // A without B
      case 3: t.set(key, new Tensor('float32', [w.size], w.toFloat32())); break; // 1-D
      case 4: t.set(key, Tensor.zeros(pick(r, ['int8', 'int64', 'bool', 'uint8'] as const), w.shape)); break;
      case 5: t.set(key.replace(/^base_model\.model\./, ''), w); break; // the same module twice
      default: t.set(pick(r, ['lm_head.weight', 'x.lora_embedding_A', 'model.layers.0.mlp.lora_A']), w); break;
    }
    return { st: writeSafetensors(t), cfg: baseCfgText, mustFail: true };
  },
];

/** An accepted adapter must be usable: A [in, r], B [r, out], r matching, finite scaling. */
function consistent(a: LoraAdapter): boolean {
  for (const w of a.modules.values()) {
    if (w.A.shape.length !== 2 || w.B.shape.length !== 2 || w.A.shape[1] !== w.B.shape[0] || !Number.isFinite(w.scaling)) return false;
  }
  return a.modules.size > 0 && Number.isInteger(a.config.r) && a.config.r >= 1;
}

describe('PEFT adapter fuzz', () => {
  it('the real PEFT fixture reads', () => {
    const a = fromPeftFiles(baseSt, baseCfgText);
    expect(consistent(a)).toBe(true);
    expect(a.config.r).toBe(4);
  });

  it(`${CASES} corrupt adapters: each reads consistently or throws a LeanformerError, within ${CASE_LIMIT_MS} ms`, () => {
    const r = lcg(1612);
    const failures: string[] = [];
    const seen = { ok: 0, refused: 0 };
    for (let i = 0; i < CASES && failures.length < 10; i++) {
      const which = i % MUTATORS.length;
      const c = MUTATORS[which]!(r);
      const attempt = (read: () => LoraAdapter, how: string): void => {
        const t0 = performance.now();
        try {
          const a = read();
          seen.ok++;
          if (c.mustFail) failures.push(`case ${i} (mutator ${which}, ${how}): accepted a file that is wrong by construction`);
          else if (!consistent(a)) failures.push(`case ${i} (mutator ${which}, ${how}): accepted an inconsistent adapter`);
        } catch (e) {
          if (isLeanformerError(e)) seen.refused++;
          else failures.push(`case ${i} (mutator ${which}, ${how}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
        }
        const ms = performance.now() - t0;
        if (ms > CASE_LIMIT_MS) failures.push(`case ${i} (mutator ${which}, ${how}): ${ms.toFixed(0)} ms`);
      };
      attempt(() => fromPeftFiles(c.st, c.cfg), 'fromPeftFiles');
      if (i % DIR_EVERY === 0) {
        const d = join(work, `a${i}`);
        mkdirSync(d);
        writeFileSync(join(d, 'adapter_model.safetensors'), c.st);
        writeFileSync(join(d, 'adapter_config.json'), c.cfg);
        attempt(() => readAdapterDir(d), 'readAdapterDir');
        rmSync(d, { recursive: true });
      }
    }
    expect(failures).toEqual([]);
    expect(seen.refused).toBeGreaterThan(CASES * 0.6);
  }, 120_000);

  it('readAdapterDir refuses folders that are not adapters with a LeanformerError naming the path', () => {
    const d = join(work, 'odd');
    mkdirSync(join(d, 'adapter_model.safetensors'), { recursive: true }); // a folder where the file should be
    writeFileSync(join(d, 'adapter_config.json'), baseCfgText);
    expect(() => readAdapterDir(d)).toThrow(expect.objectContaining({ code: 'IO_ERROR', message: expect.stringContaining('adapter_model.safetensors') }));
    expect(() => readAdapterDir(join(work, 'nosuch'))).toThrow(expect.objectContaining({ code: 'IO_ERROR' }));
    rmSync(join(d, 'adapter_config.json'));
    expect(() => readAdapterDir(d)).toThrow(expect.objectContaining({ code: 'IO_ERROR', message: expect.stringContaining('adapter_config.json') }));
  });
});
