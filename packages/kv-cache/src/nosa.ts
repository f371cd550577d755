import { LeanformerError } from '@leanformer/core';
import type { KVProvider, LayerKV, StepKV } from '@leanformer/attention';
import { kvBytesPerToken } from './quant.js';

/**
 * NOSA settings. Per layer, kv head and decode step the attended set is: `sinks` first tokens and the
 * `local` most recent (always on the device), `agnosticBlocks` blocks ranked by a query-agnostic
 * score that never changes once a token has it, and `awareBlocks` blocks ranked by the current
 * query against block landmarks. At most `maxFetchBlocks` blocks per step and kv head may enter the
 * device cache from host memory (the locality constraint); when more are wanted, the best-ranked
 * ones come in and the remaining places keep blocks already on the device.
 */
export interface NosaConfig {
  /** Tokens per block (the unit of selection and of host→device transfer). Default 8. */
  readonly blockSize?: number;
  /** Blocks chosen by the query-agnostic score. */
  readonly agnosticBlocks: number;
  /** Blocks chosen by the current query (top-k of `q · landmark`). */
  readonly awareBlocks: number;
  /** Locality bound: blocks moved host→device per step and kv head. Default `awareBlocks`; `Infinity` = unconstrained. */
  readonly maxFetchBlocks?: number;
  /** Most recent tokens kept on the device. Default 16. */
  readonly local?: number;
  /** First tokens kept on the device. Default 4. */
  readonly sinks?: number;
}

/** Host→device traffic of one layer in one step, per kv head. */
export interface NosaStepStats {
  /** Blocks copied from host memory (≤ `maxFetchBlocks`). */
  readonly fetchedBlocks: readonly number[];
  /** Tokens of those blocks that were not on the device before the step (≤ `maxFetchBlocks · blockSize`). */
  readonly fetchedTokens: readonly number[];
  /** Blocks the query-agnostic + query-aware ranking wanted that were not on the device. */
  readonly wantedBlocks: readonly number[];
  /** Selected block ids after the step. */
  readonly selected: readonly (readonly number[])[];
}

/**
 * Query-agnostic token scores from a prefill: attention each token received, summed over every
 * query and the query heads of its kv head (H2O's accumulated attention). `probs [numHeads, len, len]`;
 * returns `[kvHeads, len]`. A stand-in for NOSA's trained eviction head: fixed once computed.
 */
export function accumulatedAttention(probs: Float32Array, numHeads: number, kvHeads: number, len: number): Float32Array {
  if (probs.length !== numHeads * len * len) throw new LeanformerError('SHAPE_MISMATCH', `accumulatedAttention: probs holds ${probs.length} values, expected numHeads·len·len = ${numHeads * len * len}`);
  const group = numHeads / kvHeads;
  const acc = new Float64Array(kvHeads * len);
  for (let h = 0; h < numHeads; h++) {
    const g = Math.floor(h / group);
    for (let i = 0; i < len; i++) for (let j = 0; j <= i; j++) acc[g * len + j] += probs[(h * len + i) * len + j]!;
  }
  return Float32Array.from(acc);
}

/** Growable float32 rows. */
class Rows {
  data: Float32Array;
  constructor(readonly width: number, initial: number) { this.data = new Float32Array(Math.max(1, initial) * width); }
  ensure(rows: number): void {
    if (this.data.length >= rows * this.width) return;
    const g = new Float32Array(Math.max(2 * this.data.length, rows * this.width));
    g.set(this.data);
    this.data = g;
  }
  row(i: number): Float32Array { return this.data.subarray(i * this.width, (i + 1) * this.width); }
}

/**
 * One layer's NOSA state. Host: every token's K/V and query-agnostic score (per kv head). Device: the
 * sink tokens, a ring of the `local` most recent tokens, block landmarks (mean post-RoPE key), and a
 * pool of `agnosticBlocks + awareBlocks` block slots filled from host memory.
 */
export class NosaLayer {
  readonly G: number; readonly D: number; readonly H: number; readonly B: number;
  readonly local: number; readonly sinks: number; readonly slots: number; readonly maxFetch: number;
  len = 0;
  private readonly hostK: Rows[]; private readonly hostV: Rows[];
  private agn: Float32Array[];
  private readonly lmSum: Rows[];
  private readonly sinkK: Float32Array; private readonly sinkV: Float32Array;
  private readonly ringK: Float32Array; private readonly ringV: Float32Array; private readonly ringPos: Int32Array;
  private readonly slotK: Float32Array; private readonly slotV: Float32Array;
  /** Per kv head: block id in each slot (-1 empty) and tokens of it copied so far. */
  private readonly slotBlock: Int32Array[]; private readonly slotFilled: Int32Array[];
  /** Per decode step. */
  readonly history: NosaStepStats[] = [];

  constructor(kv: LayerKV, kvHeads: number, headDim: number, numHeads: number, agnostic: Float32Array, readonly cfg: NosaConfig) {
    const B = cfg.blockSize ?? 8, local = cfg.local ?? 16, sinks = cfg.sinks ?? 4;
    for (const [n, v] of [['blockSize', B], ['agnosticBlocks', cfg.agnosticBlocks], ['awareBlocks', cfg.awareBlocks], ['local', local], ['sinks', sinks]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new LeanformerError('INVALID_ARGUMENT', `NOSA: '${n}' must be a non-negative integer, got ${v}`);
    }
    if (B < 1 || local < 1) throw new LeanformerError('INVALID_ARGUMENT', `NOSA: 'blockSize' and 'local' must be ≥ 1 (got ${B}, ${local})`);
    const maxFetch = cfg.maxFetchBlocks ?? cfg.awareBlocks;
    if (!(maxFetch >= 0) || (maxFetch !== Infinity && !Number.isInteger(maxFetch))) throw new LeanformerError('INVALID_ARGUMENT', `NOSA: 'maxFetchBlocks' must be a non-negative integer or Infinity, got ${maxFetch}`);
    if (agnostic.length !== kvHeads * kv.len) throw new LeanformerError('SHAPE_MISMATCH', `NOSA: agnostic scores hold ${agnostic.length} values, expected kvHeads·len = ${kvHeads * kv.len}`);
    const G = kvHeads, D = headDim, N = kv.len;
    this.G = G; this.D = D; this.H = numHeads; this.B = B; this.local = local; this.sinks = sinks; this.maxFetch = maxFetch;
    this.slots = cfg.agnosticBlocks + cfg.awareBlocks;
    this.hostK = []; this.hostV = []; this.lmSum = []; this.agn = [];
    for (let g = 0; g < G; g++) {
      const k = new Rows(D, 2 * N), v = new Rows(D, 2 * N);
      k.data.set(kv.k.subarray(g * N * D, (g + 1) * N * D));
      v.data.set(kv.v.subarray(g * N * D, (g + 1) * N * D));
      this.hostK.push(k); this.hostV.push(v);
      this.lmSum.push(new Rows(D, Math.ceil((2 * N) / B)));
      const a = new Float32Array(2 * N);
      a.set(agnostic.subarray(g * N, (g + 1) * N));
      this.agn.push(a);
    }
    this.sinkK = new Float32Array(G * sinks * D); this.sinkV = new Float32Array(G * sinks * D);
    this.ringK = new Float32Array(G * local * D); this.ringV = new Float32Array(G * local * D); this.ringPos = new Int32Array(local).fill(-1);
    this.slotK = new Float32Array(G * this.slots * B * D); this.slotV = new Float32Array(G * this.slots * B * D);
    this.slotBlock = Array.from({ length: G }, () => new Int32Array(this.slots).fill(-1));
    this.slotFilled = Array.from({ length: G }, () => new Int32Array(this.slots));
    // The prefill ran on the device: sinks, the recent window and the first selection stay there, the rest is host-only.
    for (let t = 0; t < N; t++) this.onDevice(t);
    this.len = N;
    for (let g = 0; g < G; g++) {
      const want = this.rankAgnostic(g).slice(0, this.slots);
      want.forEach((b, s) => { this.slotBlock[g]![s] = b; this.slotFilled[g]![s] = 0; });
      this.topUp(g);
    }
  }

  /** Writes token `t` (already in the host store and landmarks) to the sink buffer or the ring. */
  private onDevice(t: number): void {
    const { G, D } = this;
    for (let g = 0; g < G; g++) {
      const k = this.hostK[g]!.row(t), v = this.hostV[g]!.row(t);
      const lm = this.lmSum[g]!;
      lm.ensure(Math.floor(t / this.B) + 1);
      const l = lm.row(Math.floor(t / this.B));
      for (let d = 0; d < D; d++) l[d] += k[d]!;
      if (t < this.sinks) { this.sinkK.set(k, (g * this.sinks + t) * D); this.sinkV.set(v, (g * this.sinks + t) * D); }
      const r = t % this.local;
      this.ringK.set(k, (g * this.local + r) * D); this.ringV.set(v, (g * this.local + r) * D);
    }
    this.ringPos[t % this.local] = t;
  }

  /** Whether token `t` is in the always-resident part (sinks or the last `local`) at length `len`. */
  private inWindow(t: number, len: number): boolean { return t < this.sinks || t >= len - this.local; }

  /** Candidate blocks at the current length: those with a token outside sinks and the recent window. */
  private candidates(): number[] {
    const lo = Math.floor(this.sinks / this.B), hi = Math.ceil((this.len - this.local) / this.B);
    const out: number[] = [];
    for (let b = lo; b < hi; b++) if ((b + 1) * this.B > this.sinks && b * this.B < this.len - this.local) out.push(b);
    return out;
  }

  private blockAgnostic(g: number, b: number): number {
    let m = -Infinity;
    for (let t = b * this.B; t < Math.min(this.len, (b + 1) * this.B); t++) m = Math.max(m, this.agn[g]![t]!);
    return m;
  }

  private rankAgnostic(g: number): number[] {
    const c = this.candidates();
    const s = new Map(c.map((b) => [b, this.blockAgnostic(g, b)]));
    return c.sort((a, b) => s.get(b)! - s.get(a)! || a - b);
  }

  /** Copies the block tokens that exist but are not yet in its slot, from the host store. */
  private topUp(g: number): void {
    const { D, B } = this;
    for (let s = 0; s < this.slots; s++) {
      const b = this.slotBlock[g]![s]!;
      if (b < 0) continue;
      const have = Math.min(B, this.len - b * B);
      for (let i = this.slotFilled[g]![s]!; i < have; i++) {
        const off = ((g * this.slots + s) * B + i) * D;
        this.slotK.set(this.hostK[g]!.row(b * B + i), off);
        this.slotV.set(this.hostV[g]!.row(b * B + i), off);
      }
      this.slotFilled[g]![s] = Math.max(this.slotFilled[g]![s]!, have);
    }
  }

  /** Appends the step's K/V (host write-through and device window), selects blocks, returns the device view. */
  step(s: StepKV): { k: Float32Array; v: Float32Array; kLen: number; keyPositions: Int32Array } {
    const { G, D, H, B } = this, n = s.n;
    if (s.position !== this.len) throw new LeanformerError('INVALID_ARGUMENT', `NOSA: tokens must arrive in order (expected position ${this.len}, got ${s.position})`);
    const lenPrev = this.len;
    for (let g = 0; g < G; g++) {
      this.hostK[g]!.ensure(lenPrev + n); this.hostV[g]!.ensure(lenPrev + n);
      if (this.agn[g]!.length < lenPrev + n) { const a = new Float32Array(2 * (lenPrev + n)); a.set(this.agn[g]!); this.agn[g] = a; }
      for (let t = 0; t < n; t++) {
        this.hostK[g]!.row(lenPrev + t).set(s.k.subarray((g * n + t) * D, (g * n + t + 1) * D));
        this.hostV[g]!.row(lenPrev + t).set(s.v.subarray((g * n + t) * D, (g * n + t + 1) * D));
        this.agn[g]![lenPrev + t] = 0; // no eviction-head score for generated tokens; they sit in the window first
      }
    }
    for (let t = 0; t < n; t++) this.onDevice(lenPrev + t);
    this.len = lenPrev + n;
    const group = H / G;
    const fetchedBlocks: number[] = [], fetchedTokens: number[] = [], wantedBlocks: number[] = [], selected: number[][] = [];
    for (let g = 0; g < G; g++) {
      const prev = new Map<number, number>();
      this.slotBlock[g]!.forEach((b, slot) => { if (b >= 0) prev.set(b, slot); });
      // Query-aware score: best q·landmark over the query heads of this kv head (last query of the chunk).
      const cands = this.candidates();
      const aware = new Map<number, number>();
      for (const b of cands) {
        const cnt = Math.min(this.len, (b + 1) * B) - b * B;
        const l = this.lmSum[g]!.row(b);
        let best = -Infinity;
        for (let h = g * group; h < (g + 1) * group; h++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += s.q[(h * n + n - 1) * D + d]! * l[d]!;
          best = Math.max(best, dot / cnt);
        }
        aware.set(b, best);
      }
      const agnostic = this.rankAgnostic(g).slice(0, this.cfg.agnosticBlocks);
      const aSet = new Set(agnostic);
      const awareTop = cands.filter((b) => !aSet.has(b)).sort((a, b) => aware.get(b)! - aware.get(a)! || a - b).slice(0, this.cfg.awareBlocks);
      // Tokens of block b needed from its slot that were on the device neither in the window nor in a slot.
      const cost = (b: number): number => {
        if (prev.has(b)) return 0;
        let c = 0;
        for (let t = b * B; t < Math.min(lenPrev, (b + 1) * B); t++) if (!this.inWindow(t, lenPrev)) c++;
        return c;
      };
      const next: number[] = [];
      let fetched = 0, fetchedTok = 0, wanted = 0;
      for (const b of [...agnostic, ...awareTop]) {
        const c = cost(b);
        if (c > 0) wanted++;
        if (c === 0) next.push(b);
        else if (fetched < this.maxFetch) { next.push(b); fetched++; fetchedTok += c; }
      }
      // Fill the remaining places without transfer: blocks already on the device, then blocks that just left the window.
      const chosen = new Set(next);
      const byAware = (xs: number[]) => xs.sort((a, b) => aware.get(b)! - aware.get(a)! || a - b);
      for (const b of [...byAware([...prev.keys()].filter((b) => !chosen.has(b) && aware.has(b))), ...byAware(cands.filter((b) => !chosen.has(b) && !prev.has(b) && cost(b) === 0))]) {
        if (next.length >= this.slots) break;
        next.push(b); chosen.add(b);
      }
      // Slots: free the dropped blocks, copy the new ones in (whole block from host; only `cost` tokens were off-device).
      const slotsOf = this.slotBlock[g]!;
      for (let slot = 0; slot < this.slots; slot++) if (slotsOf[slot]! >= 0 && !chosen.has(slotsOf[slot]!)) slotsOf[slot] = -1;
      for (const b of next) {
        if (prev.has(b) && slotsOf[prev.get(b)!] === b) continue;
        const slot = slotsOf.indexOf(-1);
        slotsOf[slot] = b; this.slotFilled[g]![slot] = 0;
      }
      this.topUp(g);
      fetchedBlocks.push(fetched); fetchedTokens.push(fetchedTok); wantedBlocks.push(wanted);
      selected.push([...next].sort((a, b) => a - b));
    }
    this.history.push({ fetchedBlocks, fetchedTokens, wantedBlocks, selected });
    return this.view();
  }

  /** The device view: sinks, ring, slots; duplicates, empty places and tokens not yet written masked with position -1. */
  private view(): { k: Float32Array; v: Float32Array; kLen: number; keyPositions: Int32Array } {
    const { G, D, B, sinks, local, slots, len } = this;
    const kLen = sinks + local + slots * B;
    const k = new Float32Array(G * kLen * D), v = new Float32Array(G * kLen * D), pos = new Int32Array(G * kLen).fill(-1);
    for (let g = 0; g < G; g++) {
      const base = g * kLen;
      for (let t = 0; t < sinks; t++) {
        if (t >= len) break;
        k.set(this.sinkK.subarray((g * sinks + t) * D, (g * sinks + t + 1) * D), (base + t) * D);
        v.set(this.sinkV.subarray((g * sinks + t) * D, (g * sinks + t + 1) * D), (base + t) * D);
        pos[base + t] = t;
      }
      for (let r = 0; r < local; r++) {
        const p = this.ringPos[r]!;
        if (p < 0 || p < sinks || p < len - local) continue;
        k.set(this.ringK.subarray((g * local + r) * D, (g * local + r + 1) * D), (base + sinks + r) * D);
        v.set(this.ringV.subarray((g * local + r) * D, (g * local + r + 1) * D), (base + sinks + r) * D);
        pos[base + sinks + r] = p;
      }
      for (let s = 0; s < slots; s++) {
        const b = this.slotBlock[g]![s]!;
        if (b < 0) continue;
        for (let i = 0; i < this.slotFilled[g]![s]!; i++) {
          const p = b * B + i;
          if (this.inWindow(p, len)) continue;
          const src = ((g * slots + s) * B + i) * D, dst = (base + sinks + local + s * B + i) * D;
          k.set(this.slotK.subarray(src, src + D), dst); v.set(this.slotV.subarray(src, src + D), dst);
          pos[base + sinks + local + s * B + i] = p;
        }
      }
    }
    return { k, v, kLen, keyPositions: pos };
  }

  /** fp16 bytes on the device (sinks, ring, slots, landmarks, agnostic scores) and of the full KV, at the current length. */
  deviceBytes(): { device: number; fullFp16: number } {
    const { G, D, B, sinks, local, slots, len } = this;
    const blocks = Math.ceil(len / B);
    const device = G * (sinks + local + slots * B) * kvBytesPerToken(D, 'float16') + 2 * G * blocks * D + 2 * G * len;
    return { device, fullFp16: G * len * kvBytesPerToken(D, 'float16') };
  }
}

/**
 * NOSA state for a prompt's layer: `kv` from the prefill, `agnostic [kvHeads, len]` query-agnostic
 * scores (e.g. {@link accumulatedAttention} of the prefill).
 *
 * @example
 * ```ts
 * const pre = prefill(model, prompt, { probs: true });
 * const layers = pre.kv.map((kv, l) => buildNosaLayer(kv, model.layers[l], accumulatedAttention(pre.probs[l], 2, 2, N), { agnosticBlocks: 2, awareBlocks: 4, maxFetchBlocks: 1 }));
 * const logits = decodeStep(model, token, N, nosaProvider(layers));
 * ```
 */
export function buildNosaLayer(kv: LayerKV, layer: { readonly kvHeads: number; readonly headDim: number; readonly numHeads: number }, agnostic: Float32Array, cfg: NosaConfig): NosaLayer {
  return new NosaLayer(kv, layer.kvHeads, layer.headDim, layer.numHeads, agnostic, cfg);
}

/** A decode provider over NOSA layers: attention reads only what is on the device. */
export function nosaProvider(layers: readonly NosaLayer[]): KVProvider {
  return (s) => {
    const L = layers[s.layer];
    if (!L) throw new LeanformerError('INVALID_ARGUMENT', `nosaProvider: no NOSA state for layer ${s.layer}`);
    return L.step(s);
  };
}
