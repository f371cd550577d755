import { LeanformerError } from '@leanformer/core';
import type { KVProvider } from '@leanformer/attention';

/** Geometry of a model's KV cache. */
export interface KVCacheShape {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/**
 * A KV-cache manager holds many sequences' keys and values (float32). Writing is two-phase:
 * `reserve(seq, n)` makes room for `n` more tokens (shared for all layers) and returns the first new
 * position; then `write` fills each layer. `gather` returns one layer as `[kvHeads, len, headDim]`.
 */
export interface KVCacheManager {
  readonly shape: KVCacheShape;
  /** A new empty sequence; returns its id. */
  createSequence(): number;
  /** A new sequence starting with a copy (or a shared, copy-on-write view) of `seq`'s tokens. */
  fork(seq: number): number;
  /** Releases a sequence's memory. */
  free(seq: number): void;
  length(seq: number): number;
  reserve(seq: number, n: number): number;
  /** Writes `n` tokens at `pos…` of one layer; `k`/`v` are `[kvHeads, n, headDim]`. */
  write(seq: number, layer: number, pos: number, n: number, k: Float32Array, v: Float32Array): void;
  gather(seq: number, layer: number): { k: Float32Array; v: Float32Array; len: number };
  /** Bytes of KV storage currently allocated (float32 elements). */
  bytesInUse(): number;
}

function checkShape(s: KVCacheShape): void {
  for (const [n, v] of Object.entries(s)) if (!Number.isInteger(v) || (v as number) < 1) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: '${n}' must be a positive integer, got ${String(v)}`);
}

function checkWrite(s: KVCacheShape, layer: number, n: number, k: Float32Array, v: Float32Array): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= s.layers) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: layer ${layer} out of range [0, ${s.layers})`);
  const want = s.kvHeads * n * s.headDim;
  if (k.length !== want || v.length !== want) throw new LeanformerError('SHAPE_MISMATCH', `KV cache: k/v hold ${k.length}/${v.length} values, expected kvHeads·n·headDim = ${want}`);
}

/** ES2024 resizable ArrayBuffer (Node ≥ 20, current browsers); typed here because the project's lib is ES2023. */
interface ResizableBuffer extends ArrayBuffer { resize(byteLength: number): void }
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableBuffer;

interface ContiguousSeq { len: number; cap: number; k: Float32Array[]; v: Float32Array[]; buffers: ResizableBuffer[] }

/**
 * One contiguous buffer per sequence and layer, token-major `[capacity, kvHeads, headDim]`, grown in
 * place (vAttention-style: a resizable `ArrayBuffer` reserves `maxTokens` of address space and commits
 * on demand, so growth never copies). `fork` copies.
 *
 * @example
 * ```ts
 * const cache = new ContiguousKVCache({ layers: 2, kvHeads: 2, headDim: 64 }, { maxTokens: 8192 });
 * const s = cache.createSequence();
 * ```
 */
export class ContiguousKVCache implements KVCacheManager {
  private readonly seqs = new Map<number, ContiguousSeq>();
  private next = 0;
  private readonly maxTokens: number;
  private readonly initial: number;

  constructor(readonly shape: KVCacheShape, o: { maxTokens?: number; initialTokens?: number } = {}) {
    checkShape(shape);
    this.maxTokens = o.maxTokens ?? 1 << 16;
    this.initial = Math.min(o.initialTokens ?? 256, this.maxTokens);
  }

  createSequence(): number {
    const id = this.next++;
    const row = this.shape.kvHeads * this.shape.headDim * 4;
    const s: ContiguousSeq = { len: 0, cap: this.initial, k: [], v: [], buffers: [] };
    for (let l = 0; l < 2 * this.shape.layers; l++) {
      const buf = new ResizableArrayBuffer(this.initial * row, { maxByteLength: this.maxTokens * row });
      s.buffers.push(buf);
    }
    this.refresh(s);
    this.seqs.set(id, s);
    return id;
  }

  private refresh(s: ContiguousSeq): void {
    s.k = []; s.v = [];
    for (let l = 0; l < this.shape.layers; l++) { s.k.push(new Float32Array(s.buffers[2 * l]!)); s.v.push(new Float32Array(s.buffers[2 * l + 1]!)); }
  }

  private get(seq: number): ContiguousSeq {
    const s = this.seqs.get(seq);
    if (!s) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: unknown sequence ${seq}`);
    return s;
  }

  fork(seq: number): number {
    const src = this.get(seq);
    const id = this.createSequence();
    this.reserve(id, src.len);
    const dst = this.get(id);
    const n = src.len * this.shape.kvHeads * this.shape.headDim;
    for (let l = 0; l < this.shape.layers; l++) { dst.k[l]!.set(src.k[l]!.subarray(0, n)); dst.v[l]!.set(src.v[l]!.subarray(0, n)); }
    return id;
  }

  free(seq: number): void { this.get(seq); this.seqs.delete(seq); }
  length(seq: number): number { return this.get(seq).len; }

  reserve(seq: number, n: number): number {
    const s = this.get(seq);
    const start = s.len;
    if (start + n > this.maxTokens) throw new LeanformerError('SIZE_LIMIT', `KV cache: sequence ${seq} would hold ${start + n} tokens; maxTokens is ${this.maxTokens}`);
    if (start + n > s.cap) {
      let cap = s.cap;
      while (cap < start + n) cap *= 2;
      cap = Math.min(cap, this.maxTokens);
      const row = this.shape.kvHeads * this.shape.headDim * 4;
      for (const b of s.buffers) b.resize(cap * row);
      s.cap = cap;
      this.refresh(s);
    }
    s.len += n;
    return start;
  }

  write(seq: number, layer: number, pos: number, n: number, k: Float32Array, v: Float32Array): void {
    const s = this.get(seq);
    checkWrite(this.shape, layer, n, k, v);
    if (pos < 0 || pos + n > s.len) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: write of ${n} tokens at ${pos} is outside the reserved length ${s.len}`);
    const { kvHeads: G, headDim: D } = this.shape;
    for (let g = 0; g < G; g++) {
      for (let t = 0; t < n; t++) {
        const dst = ((pos + t) * G + g) * D;
        s.k[layer]!.set(k.subarray((g * n + t) * D, (g * n + t + 1) * D), dst);
        s.v[layer]!.set(v.subarray((g * n + t) * D, (g * n + t + 1) * D), dst);
      }
    }
  }

  gather(seq: number, layer: number): { k: Float32Array; v: Float32Array; len: number } {
    const s = this.get(seq);
    const { kvHeads: G, headDim: D } = this.shape;
    const k = new Float32Array(G * s.len * D), v = new Float32Array(G * s.len * D);
    for (let t = 0; t < s.len; t++) {
      for (let g = 0; g < G; g++) {
        const src = (t * G + g) * D;
        k.set(s.k[layer]!.subarray(src, src + D), (g * s.len + t) * D);
        v.set(s.v[layer]!.subarray(src, src + D), (g * s.len + t) * D);
      }
    }
    return { k, v, len: s.len };
  }

  bytesInUse(): number {
    let b = 0;
    for (const s of this.seqs.values()) for (const buf of s.buffers) b += buf.byteLength;
    return b;
  }
}

/**
 * PagedAttention-style manager: a pool of fixed-size blocks per layer (`[numBlocks, blockSize, kvHeads,
 * headDim]`), one block table per sequence (shared by all layers), a free list and per-block reference
 * counts. `fork` shares every block; a write into a shared, partly filled last block copies it first
 * (copy-on-write), so forks never see each other's tokens.
 *
 * @example
 * ```ts
 * const cache = new PagedKVCache({ layers: 2, kvHeads: 2, headDim: 64 }, { blockSize: 16, numBlocks: 1024 });
 * const a = cache.createSequence();
 * const b = cache.fork(a); // shares a's blocks
 * ```
 */
export class PagedKVCache implements KVCacheManager {
  readonly blockSize: number;
  readonly numBlocks: number;
  private readonly kPool: Float32Array[] = [];
  private readonly vPool: Float32Array[] = [];
  private readonly refs: Int32Array;
  private readonly freeList: number[] = [];
  private readonly tables = new Map<number, { blocks: number[]; len: number }>();
  private next = 0;
  /** Blocks copied by copy-on-write so far. */
  copies = 0;

  constructor(readonly shape: KVCacheShape, o: { blockSize?: number; numBlocks?: number } = {}) {
    checkShape(shape);
    this.blockSize = o.blockSize ?? 16;
    this.numBlocks = o.numBlocks ?? 256;
    if (!Number.isInteger(this.blockSize) || this.blockSize < 1) throw new LeanformerError('INVALID_ARGUMENT', `PagedKVCache: 'blockSize' must be a positive integer, got ${this.blockSize}`);
    const per = this.numBlocks * this.blockSize * shape.kvHeads * shape.headDim;
    for (let l = 0; l < shape.layers; l++) { this.kPool.push(new Float32Array(per)); this.vPool.push(new Float32Array(per)); }
    this.refs = new Int32Array(this.numBlocks);
    for (let b = this.numBlocks - 1; b >= 0; b--) this.freeList.push(b);
  }

  private table(seq: number): { blocks: number[]; len: number } {
    const t = this.tables.get(seq);
    if (!t) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: unknown sequence ${seq}`);
    return t;
  }

  private alloc(): number {
    const b = this.freeList.pop();
    if (b === undefined) throw new LeanformerError('SIZE_LIMIT', `PagedKVCache: all ${this.numBlocks} blocks are in use; free sequences or create the cache with more blocks`);
    this.refs[b] = 1;
    return b;
  }

  private release(b: number): void {
    if (--this.refs[b]! === 0) this.freeList.push(b);
  }

  /** The physical block ids of a sequence (a copy). */
  blockTable(seq: number): number[] { return [...this.table(seq).blocks]; }
  /** Blocks on the free list. */
  get freeBlocks(): number { return this.freeList.length; }

  createSequence(): number {
    const id = this.next++;
    this.tables.set(id, { blocks: [], len: 0 });
    return id;
  }

  fork(seq: number): number {
    const t = this.table(seq);
    const id = this.next++;
    for (const b of t.blocks) this.refs[b]!++;
    this.tables.set(id, { blocks: [...t.blocks], len: t.len });
    return id;
  }

  free(seq: number): void {
    const t = this.table(seq);
    for (const b of t.blocks) this.release(b);
    this.tables.delete(seq);
  }

  length(seq: number): number { return this.table(seq).len; }

  reserve(seq: number, n: number): number {
    const t = this.table(seq);
    const start = t.len;
    const bs = this.blockSize;
    // Copy-on-write: the partly filled last block is about to receive tokens.
    if (n > 0 && start % bs !== 0) {
      const last = t.blocks.length - 1;
      const old = t.blocks[last]!;
      if (this.refs[old]! > 1) {
        const fresh = this.alloc();
        const span = bs * this.shape.kvHeads * this.shape.headDim;
        for (let l = 0; l < this.shape.layers; l++) {
          this.kPool[l]!.copyWithin(fresh * span, old * span, (old + 1) * span);
          this.vPool[l]!.copyWithin(fresh * span, old * span, (old + 1) * span);
        }
        this.release(old);
        t.blocks[last] = fresh;
        this.copies++;
      }
    }
    const need = Math.ceil((start + n) / bs);
    while (t.blocks.length < need) t.blocks.push(this.alloc());
    t.len += n;
    return start;
  }

  write(seq: number, layer: number, pos: number, n: number, k: Float32Array, v: Float32Array): void {
    const t = this.table(seq);
    checkWrite(this.shape, layer, n, k, v);
    if (pos < 0 || pos + n > t.len) throw new LeanformerError('INVALID_ARGUMENT', `KV cache: write of ${n} tokens at ${pos} is outside the reserved length ${t.len}`);
    const { kvHeads: G, headDim: D } = this.shape;
    const bs = this.blockSize;
    for (let i = 0; i < n; i++) {
      const p = pos + i;
      const b = t.blocks[Math.floor(p / bs)]!;
      if (this.refs[b]! > 1) throw new LeanformerError('INVALID_ARGUMENT', `PagedKVCache: position ${p} of sequence ${seq} lies in a shared block; tokens before a fork are read-only`);
      const base = (b * bs + (p % bs)) * G * D;
      for (let g = 0; g < G; g++) {
        this.kPool[layer]!.set(k.subarray((g * n + i) * D, (g * n + i + 1) * D), base + g * D);
        this.vPool[layer]!.set(v.subarray((g * n + i) * D, (g * n + i + 1) * D), base + g * D);
      }
    }
  }

  gather(seq: number, layer: number): { k: Float32Array; v: Float32Array; len: number } {
    const t = this.table(seq);
    const { kvHeads: G, headDim: D } = this.shape;
    const bs = this.blockSize;
    const len = t.len;
    const k = new Float32Array(G * len * D), v = new Float32Array(G * len * D);
    for (let p = 0; p < len; p++) {
      const base = (t.blocks[Math.floor(p / bs)]! * bs + (p % bs)) * G * D;
      for (let g = 0; g < G; g++) {
        k.set(this.kPool[layer]!.subarray(base + g * D, base + (g + 1) * D), (g * len + p) * D);
        v.set(this.vPool[layer]!.subarray(base + g * D, base + (g + 1) * D), (g * len + p) * D);
      }
    }
    return { k, v, len };
  }

  bytesInUse(): number {
    return (this.numBlocks - this.freeList.length) * this.blockSize * this.shape.kvHeads * this.shape.headDim * 4 * 2 * this.shape.layers;
  }
}

/**
 * A {@link KVProvider} for `forwardChunk`/`decodeStep` that stores each chunk in `cache` under `seq`
 * (reserving on layer 0) and attends over the whole stored sequence.
 *
 * @example
 * ```ts
 * const logits = forwardChunk(model, tokens, cache.length(seq), cacheProvider(cache, seq));
 * ```
 */
export function cacheProvider(cache: KVCacheManager, seq: number): KVProvider {
  return (s) => {
    if (s.layer === 0) {
      const start = cache.reserve(seq, s.n);
      if (start !== s.position) throw new LeanformerError('INVALID_ARGUMENT', `cacheProvider: chunk at position ${s.position} but sequence ${seq} holds ${start} tokens`);
    }
    cache.write(seq, s.layer, s.position, s.n, s.k, s.v);
    const { k, v, len } = cache.gather(seq, s.layer);
    return { k, v, kLen: len };
  };
}
