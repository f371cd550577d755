// Seeded fuzzing of the safetensors reader: 10,000 damaged or crafted files (bit flips,
// overwrites, truncation, extension, header-length edits, and JSON headers rewritten with bad
// JSON, unknown dtypes, shape/bytes mismatches, negative, out-of-range or overlapping offsets).
// Safetensors has no checksums, so damage inside tensor bytes may legitimately read as other
// values; what is required is that every file either reads into tensors consistent with its
// header or throws a LeanformerError, within a per-case time limit. Files are ~1 KB, in memory.
// Files written with `{ checksums: true }` and read with `{ requireChecksums: true }` (our
// checkpoints) get the stricter rule: damage never reads as other values, and the error names the
// header or the tensor.
import { describe, expect, it } from 'vitest';
import { isLeanformerError } from './errors.js';
import { readSafetensors, SAFETENSORS_CHECKSUM_KEY, writeSafetensors } from './safetensors.js';
import { Tensor } from './tensor.js';
import { DTypes } from './dtype.js';

const CASES = 10_000;
const CASE_LIMIT_MS = 2_000;

function seedFile(checksums = false): Uint8Array {
  return writeSafetensors({
    'model.w': Tensor.from('float32', [8, 12], Array.from({ length: 96 }, (_, i) => Math.sin(i))),
    'model.b': Tensor.from('float32', [12], Array.from({ length: 12 }, (_, i) => i / 7)),
    'emb': new Tensor(DTypes.bfloat16, [6, 10], Uint16Array.from({ length: 60 }, (_, i) => 0x3c00 + i)),
    'ids': new Tensor(DTypes.int64, [5], BigInt64Array.from([1n, 2n, 3n, -4n, 5n])),
    'mask': new Tensor(DTypes.uint8, [7], Uint8Array.from([1, 0, 1, 1, 0, 0, 1])),
  }, { format: 'pt', step: '10' }, { checksums });
}

/** A 32-bit LCG: the cases are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const base = seedFile();
const headerLen = Number(new DataView(base.buffer).getBigUint64(0, true));
const header = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + headerLen))) as Record<string, Record<string, unknown>>;
const data = base.subarray(8 + headerLen);

/** A file with this header text (the length field set to match) and the seed's data section. */
function withHeader(text: string, body: Uint8Array = data): Uint8Array {
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

type Mutator = (r: () => number) => Uint8Array;
const int = (r: () => number, n: number): number => Math.floor(r() * n);
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const names = Object.keys(header).filter((k) => k !== '__metadata__');

const MUTATORS: readonly Mutator[] = [
  (r) => { const o = base.slice(); for (let k = 1 + int(r, 4); k > 0; k--) { const bit = int(r, o.length * 8); o[bit >> 3]! ^= 1 << (bit & 7); } return o; },
  (r) => { const o = base.slice(); const at = int(r, o.length); for (let i = at; i < Math.min(o.length, at + 1 + int(r, 64)); i++) o[i] = int(r, 256); return o; },
  (r) => base.slice(0, int(r, base.length)),
  (r) => { const o = new Uint8Array(base.length + 1 + int(r, 64)); o.set(base); return o; },
  (r) => {
    const o = base.slice();
    const v = pick(r, [0n, 1n, 7n, BigInt(headerLen - 1), BigInt(headerLen + 1), BigInt(base.length), BigInt(base.length) * 4n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(int(r, 2 ** 31))]);
    new DataView(o.buffer).setBigUint64(0, v, true);
    return o;
  },
  (r) => {
    // Bad JSON text: cut, a stray byte, invalid UTF-8, or not JSON at all.
    const text = JSON.stringify(header);
    switch (int(r, 4)) {
      case 0: return withHeader(text.slice(0, int(r, text.length)));
      case 1: { const at = int(r, text.length); return withHeader(text.slice(0, at) + pick(r, ['"', '{', ']', ',', '\\', '\u0000', 'x']) + text.slice(at)); }
      case 2: { const j = new TextEncoder().encode(text); j[int(r, j.length)] = 0xff; return withHeader(new TextDecoder('latin1').decode(j)); }
      default: return withHeader(pick(r, ['', 'null', '[]', '7', '"x"', 'true', '[{}]']));
    }
  },
  (r) => {
    // A well-formed JSON header with one bad field.
    const h = JSON.parse(JSON.stringify(header)) as Record<string, Record<string, unknown>>;
    const e = h[pick(r, names)]!;
    const other = h[pick(r, names)]!;
    const bad: unknown[] = [-1, -8, 1.5, 2 ** 53, 1e308, '4', null, [], {}, true];
    switch (int(r, 12)) {
      case 0: e.dtype = pick(r, ['F128', 'f32', '', null, 3, 'INT4', 'STRING']); break;
      case 1: e.shape = pick(r, [[-1], [1.5], '8', null, [2 ** 40, 2 ** 40], [1e308], [0], [], [9, 12], [8, 13]]); break;
      case 2: e.data_offsets = pick(r, [[0], [0, 1, 2], null, 'x', [-4, 4], [8, 4], [0, 2 ** 53], [1.5, 9.5]]); break;
      case 3: (e.data_offsets as unknown[])[int(r, 2)] = pick(r, bad); break;
      case 4: e.data_offsets = [...(other.data_offsets as number[])]; break; // overlap
      case 5: e.data_offsets = (e.data_offsets as number[]).map((o) => o + pick(r, [-8, -1, 1, 8])); break;
      case 6: e.data_offsets = (e.data_offsets as number[]).map((o) => o + data.length); break; // past the end
      case 7: delete e[pick(r, ['dtype', 'shape', 'data_offsets'])]; break;
      case 8: h[pick(r, names)] = pick(r, [null, 1, 'x', [], [1, 2]]) as never; break;
      case 9: h.__metadata__ = pick(r, [null, 1, [], { step: 10 }, { a: null }, 'x']) as never; break;
      case 10: delete h[pick(r, names)]; break; // a hole in the data section
      default: h[`extra${int(r, 9)}`] = { dtype: 'F32', shape: [1], data_offsets: [data.length, data.length + 4] };
    }
    return withHeader(JSON.stringify(h));
  },
];

describe('safetensors fuzz', () => {
  it('the seed file reads back', () => {
    const f = readSafetensors(base);
    expect([...f.tensors.keys()].sort()).toEqual(['emb', 'ids', 'mask', 'model.b', 'model.w']);
    expect(f.metadata).toEqual({ format: 'pt', step: '10' });
  });

  it(`${CASES} damaged or crafted files: each reads consistently or throws a LeanformerError, within ${CASE_LIMIT_MS} ms`, () => {
    const r = lcg(20261206);
    const failures: string[] = [];
    let refused = 0;
    for (let i = 0; i < CASES && failures.length < 10; i++) {
      const which = i % MUTATORS.length;
      const bytes = MUTATORS[which]!(r);
      const t0 = performance.now();
      try {
        const f = readSafetensors(bytes);
        // Accepted: every tensor's bytes match its dtype and shape, and lie inside the file.
        for (const [name, t] of f.tensors) if (t.bytes().length !== t.byteLength || t.byteLength > bytes.length) failures.push(`case ${i} (mutator ${which}): tensor '${name}' inconsistent`);
      } catch (e) {
        if (isLeanformerError(e)) refused++;
        else failures.push(`case ${i} (mutator ${which}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
      const ms = performance.now() - t0;
      if (ms > CASE_LIMIT_MS) failures.push(`case ${i} (mutator ${which}): ${ms.toFixed(0)} ms`);
    }
    expect(failures).toEqual([]);
    expect(refused).toBeGreaterThan(CASES * 0.5); // the mutations reach the checks
  }, 60_000);

  it(`${CASES} damaged checksummed files: each reads the original values or throws a LeanformerError (never other values)`, () => {
    const sealed = seedFile(true);
    const want = readSafetensors(sealed, { requireChecksums: true });
    expect(want.metadata[SAFETENSORS_CHECKSUM_KEY]).toBeDefined();
    const r = lcg(99);
    const counts = { same: 0, different: 0, refused: 0, other: 0 };
    for (let i = 0; i < CASES; i++) {
      const o = sealed.slice();
      if (i % 3 === 0) { const bit = int(r, o.length * 8); o[bit >> 3]! ^= 1 << (bit & 7); }
      else if (i % 3 === 1) { const at = int(r, o.length); for (let k = at; k < Math.min(o.length, at + 1 + int(r, 16)); k++) o[k] = int(r, 256); }
      else { const at = 8 + int(r, o.length - 8); o[at] = o[at]! ^ (1 + int(r, 255)); }
      try {
        const got = readSafetensors(o, { requireChecksums: true });
        const same = got.tensors.size === want.tensors.size && [...want.tensors].every(([n, t]) => Buffer.from(got.tensors.get(n)?.bytes() ?? []).equals(Buffer.from(t.bytes())))
          && JSON.stringify(got.metadata) === JSON.stringify(want.metadata);
        counts[same ? 'same' : 'different']++;
      } catch (e) {
        counts[isLeanformerError(e) ? 'refused' : 'other']++;
      }
    }
    expect(counts.other).toBe(0);
    expect(counts.different).toBe(0);
    expect(counts.refused).toBeGreaterThan(CASES * 0.9);
  }, 60_000);

  it('a checksummed file names what is damaged', () => {
    const sealed = seedFile(true);
    const dataStart = 8 + Number(new DataView(sealed.buffer).getBigUint64(0, true));
    const hdr = JSON.parse(new TextDecoder().decode(sealed.subarray(8, dataStart))) as Record<string, { data_offsets: number[] }>;
    const o = sealed.slice();
    o[dataStart + hdr['model.b']!.data_offsets[0]! + 5]! ^= 0x20;
    expect(() => readSafetensors(o)).toThrow(expect.objectContaining({ code: 'CORRUPT_FILE', message: expect.stringContaining("tensor 'model.b' is corrupt") }));
    const h = sealed.slice();
    const at = new TextDecoder().decode(sealed).indexOf('"step":"10"') + 9; // the metadata value, covered by the header CRC
    h[at] = '1'.charCodeAt(0);
    expect(() => readSafetensors(h)).toThrow(expect.objectContaining({ code: 'CORRUPT_FILE', details: { section: 'header' } }));
  });
});
