// Reading a Hugging Face checkpoint folder without touching the file system: the caller supplies a
// byte reader per file (Node: positional reads; browser: File slices or fetched bytes), so tensors are
// read one at a time, when the builder asks for them.
import { LeanformerError, readSafetensorsHeader, Tensor, type SafetensorsHeader } from '@leanformer/core';
import type { WeightSource } from './build.js';

/** Random access to one file: its size and a byte range `[start, end)`. */
export interface ByteReader {
  readonly size: number;
  read(start: number, end: number): Uint8Array;
}

/**
 * Parses a JSON file of a checkpoint, naming the file when it does not parse.
 *
 * @example
 * ```ts
 * const config = parseJsonFile(text, 'config.json');
 * ```
 */
export function parseJsonFile(text: string, file: string): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) {
    throw new LeanformerError('DECODE_ERROR', `${file}: not valid JSON (${(e as Error).message})`, { details: { file } });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LeanformerError('DECODE_ERROR', `${file}: must hold a JSON object`, { details: { file } });
  return v as Record<string, unknown>;
}

/**
 * The safetensors files of a checkpoint: `model.safetensors.index.json`'s shards (its `weight_map`
 * values, in order) when present, else `model.safetensors`.
 *
 * @example
 * ```ts
 * shardNames(indexJson); // ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']
 * ```
 */
export function shardNames(index: Record<string, unknown> | undefined): { files: string[]; map?: ReadonlyMap<string, string> } {
  if (!index) return { files: ['model.safetensors'] };
  const wm = index['weight_map'];
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) throw new LeanformerError('DECODE_ERROR', "model.safetensors.index.json: field 'weight_map' must be an object of tensor name → shard file", { details: { file: 'model.safetensors.index.json', field: 'weight_map' } });
  const map = new Map<string, string>();
  for (const [k, v] of Object.entries(wm)) {
    if (typeof v !== 'string' || !/^[\w.-]+\.safetensors$/.test(v) || v.startsWith('.')) throw new LeanformerError('DECODE_ERROR', `model.safetensors.index.json: weight_map['${k}'] must name a .safetensors file in the folder, got ${JSON.stringify(v)}`, { details: { file: 'model.safetensors.index.json', field: `weight_map.${k}` } });
    map.set(k, v);
  }
  return { files: [...new Set(map.values())], map };
}

/** A header-validated safetensors file whose tensors are read on demand. */
interface Shard { readonly file: string; readonly header: SafetensorsHeader; readonly reader: ByteReader }

/**
 * A {@link WeightSource} over safetensors files: every header is validated up front (core's reader:
 * header length within the file, known dtypes, byte ranges tiling the data section — truncated
 * files, overlapping or out-of-range offsets fail with DECODE_ERROR naming the file), then each
 * tensor's bytes are read when asked for and converted to float32.
 *
 * @example
 * ```ts
 * const weights = safetensorsWeights([{ file: 'model.safetensors', reader: { size: bytes.length, read: (s, e) => bytes.subarray(s, e) } }]);
 * ```
 */
export function safetensorsWeights(files: readonly { readonly file: string; readonly reader: ByteReader }[], map?: ReadonlyMap<string, string>): WeightSource {
  const where = new Map<string, { shard: Shard; i: number }>();
  for (const { file, reader } of files) {
    let header: SafetensorsHeader;
    try {
      const n = reader.size >= 8 ? Number(new DataView(reader.read(0, 8).slice().buffer).getBigUint64(0, true)) : 0;
      const prefix = reader.read(0, Math.min(reader.size, 8 + Math.min(n, reader.size)));
      header = readSafetensorsHeader(prefix, { fileBytes: reader.size });
    } catch (e) {
      if (e instanceof LeanformerError) throw new LeanformerError(e.code, `${file}: ${e.message}`, { details: { ...e.details, file } });
      throw e;
    }
    const shard: Shard = { file, header, reader };
    header.entries.forEach((e, i) => {
      const prev = where.get(e.name);
      if (prev) throw new LeanformerError('DECODE_ERROR', `${file}: tensor '${e.name}' is also in ${prev.shard.file}`, { details: { file, field: e.name } });
      if (map && map.get(e.name) !== undefined && map.get(e.name) !== file) throw new LeanformerError('DECODE_ERROR', `model.safetensors.index.json: weight_map puts '${e.name}' in ${map.get(e.name)} but it is in ${file}`, { details: { file: 'model.safetensors.index.json', field: `weight_map.${e.name}` } });
      where.set(e.name, { shard, i });
    });
  }
  if (map) for (const [name, file] of map) if (!where.has(name)) throw new LeanformerError('DECODE_ERROR', `model.safetensors.index.json: weight_map puts '${name}' in ${file}, which does not hold it`, { details: { file, field: name } });
  return {
    info(name) { const w = where.get(name); if (!w) return undefined; const e = w.shard.header.entries[w.i]!; return { dtype: e.dtype.name, shape: e.shape }; },
    fileOf(name) { return where.get(name)?.shard.file ?? files.map((f) => f.file).join(', '); },
    names() { return [...where.keys()]; },
    read(name) {
      const w = where.get(name);
      if (!w) throw new LeanformerError('INVALID_ARGUMENT', `checkpoint: no tensor '${name}'`, { details: { field: name } });
      const e = w.shard.header.entries[w.i]!;
      const base = w.shard.header.dataStart;
      const bytes = w.shard.reader.read(base + e.dataOffsets[0], base + e.dataOffsets[1]);
      const t = Tensor.fromBytes(e.dtype, e.shape, bytes);
      return t.dtype.name === 'float32' ? t : new Tensor('float32', e.shape, t.toFloat32());
    },
  };
}
