import { LeanformerError } from '@leanformer/core';
import { applyRope, type KVProvider, type LayerKV } from '@leanformer/attention';

/**
 * Eigen-decomposition of a symmetric `n×n` matrix (row-major, float64) by cyclic Jacobi rotations.
 * Returns eigenvalues descending and the matching eigenvectors as columns of `vectors [n, n]`.
 */
export function symmetricEigen(a: Float64Array, n: number, o: { maxSweeps?: number; tol?: number } = {}): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== n * n) throw new LeanformerError('SHAPE_MISMATCH', `symmetricEigen: matrix holds ${a.length} values, expected ${n}×${n}`);
  const A = Float64Array.from(a);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  const tol = o.tol ?? 1e-12;
  for (let sweep = 0; sweep < (o.maxSweeps ?? 60); sweep++) {
    let off = 0, total = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { const x = A[i * n + j]! ** 2; total += x; if (i !== j) off += x; }
    if (off <= tol * tol * Math.max(total, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const app = A[p * n + p]!, aqq = A[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + p]!, akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p * n + k]!, aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + p]!, vkq = V[k * n + q]!;
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = [...Array(n).keys()].sort((x, y) => A[y * n + y]! - A[x * n + x]!);
  const values = new Float64Array(n), vectors = new Float64Array(n * n);
  order.forEach((src, dst) => { values[dst] = A[src * n + src]!; for (let k = 0; k < n; k++) vectors[k * n + dst] = V[k * n + src]!; });
  return { values, vectors };
}

/** ShadowKV settings. */
export interface ShadowKVConfig {
  /** Rank of the pre-RoPE key approximation (per layer, over all kv heads' channels); the maximum when `energy` is set. */
  readonly rank: number;
  /** Use the smallest rank ≤ `rank` whose singular values keep this fraction of ‖K‖² (e.g. 0.9999). */
  readonly energy?: number;
  /** Tokens per chunk; one landmark (mean post-RoPE key) per chunk. Default 8. */
  readonly chunkSize?: number;
  /** Chunks fetched per decode step and kv head. */
  readonly topChunks: number;
  /** Fraction of chunks kept exact on the device because their keys scatter around the landmark. Default 1/64. */
  readonly outlierFraction?: number;
  /** Most recent prompt tokens kept exact. Default 32. */
  readonly local?: number;
  /** Sink tokens at the start kept exact. Default 4. */
  readonly sinks?: number;
}

/** One layer's ShadowKV state. Device side: low-rank keys, landmarks, outlier/local/sink tokens; host side: all values. */
export interface ShadowLayer {
  readonly kvHeads: number;
  readonly headDim: number;
  readonly len: number;
  readonly rank: number;
  /** `[len, rank]` = K_pre · V_r */ readonly coeffs: Float32Array;
  /** `[kvHeads·headDim, rank]` */ readonly basis: Float32Array;
  /** `[kvHeads, chunks, headDim]` */ readonly landmarks: Float32Array;
  readonly chunkSize: number;
  /** Chunk ids kept exact (outliers) — excluded from selection. */ readonly exactChunks: Set<number>;
  /** Token positions always attended exactly (sinks, outlier chunks, local window). */ readonly exactTokens: number[];
  /** Host memory: full values and the exact post-RoPE keys of the exact tokens. */
  readonly hostV: Float32Array;
  readonly exactK: Float32Array;
  readonly ropeInvFreq?: Float64Array;
  /** Tokens generated after the prompt, exact: `[kvHeads][t·headDim]`. */
  readonly newK: number[][];
  readonly newV: number[][];
  readonly newPos: number[];
  readonly topChunks: number;
}

/**
 * Builds ShadowKV state from a prompt's K/V: SVD (via the eigenvectors of KᵀK) of the pre-RoPE keys
 * `[len, kvHeads·headDim]` to `rank`, chunk landmarks from the post-RoPE keys, outlier chunks (lowest
 * minimum cosine to their landmark) and sink/local tokens kept exact.
 */
export function buildShadowLayer(kv: LayerKV, kvHeads: number, headDim: number, cfg: ShadowKVConfig, ropeInvFreq?: Float64Array): ShadowLayer {
  const N = kv.len, G = kvHeads, D = headDim, C = G * D;
  let r = cfg.rank;
  if (!Number.isInteger(r) || r < 1 || r > C) throw new LeanformerError('INVALID_ARGUMENT', `ShadowKV: 'rank' must be an integer in [1, ${C}] (kvHeads·headDim), got ${r}`);
  const cs = cfg.chunkSize ?? 8;
  // Row-major pre-RoPE key matrix [N, C].
  const Kp = new Float64Array(N * C);
  for (let g = 0; g < G; g++) for (let t = 0; t < N; t++) for (let d = 0; d < D; d++) Kp[t * C + g * D + d] = kv.kPre[(g * N + t) * D + d]!;
  const gram = new Float64Array(C * C);
  for (let t = 0; t < N; t++) {
    const row = t * C;
    for (let i = 0; i < C; i++) {
      const a = Kp[row + i]!;
      if (a === 0) continue;
      for (let j = i; j < C; j++) gram[i * C + j] += a * Kp[row + j]!;
    }
  }
  for (let i = 0; i < C; i++) for (let j = 0; j < i; j++) gram[i * C + j] = gram[j * C + i]!;
  const { values, vectors } = symmetricEigen(gram, C);
  if (cfg.energy !== undefined) {
    const total = values.reduce((a, b) => a + Math.max(0, b), 0);
    let acc = 0, need = 0;
    while (need < r && acc < cfg.energy * total) acc += Math.max(0, values[need++]!);
    r = Math.max(1, need);
  }
  const basis = new Float32Array(C * r);
  for (let i = 0; i < C; i++) for (let j = 0; j < r; j++) basis[i * r + j] = vectors[i * C + j]!;
  const coeffs = new Float32Array(N * r);
  for (let t = 0; t < N; t++) for (let j = 0; j < r; j++) { let s = 0; for (let i = 0; i < C; i++) s += Kp[t * C + i]! * basis[i * r + j]!; coeffs[t * r + j] = s; }
  // Landmarks and outlier scores per chunk.
  const chunks = Math.ceil(N / cs);
  const landmarks = new Float32Array(G * chunks * D);
  const spread = new Float64Array(chunks).fill(1);
  for (let g = 0; g < G; g++) {
    for (let c = 0; c < chunks; c++) {
      const lo = c * cs, hi = Math.min(N, lo + cs);
      const lb = (g * chunks + c) * D;
      for (let t = lo; t < hi; t++) for (let d = 0; d < D; d++) landmarks[lb + d] += kv.k[(g * N + t) * D + d]! / (hi - lo);
      let ll = 0;
      for (let d = 0; d < D; d++) ll += landmarks[lb + d]! ** 2;
      for (let t = lo; t < hi; t++) {
        let dot = 0, kk = 0;
        for (let d = 0; d < D; d++) { const x = kv.k[(g * N + t) * D + d]!; dot += x * landmarks[lb + d]!; kk += x * x; }
        const cos = ll === 0 || kk === 0 ? 1 : dot / Math.sqrt(ll * kk);
        spread[c] = Math.min(spread[c]!, cos);
      }
    }
  }
  const nOut = Math.round(chunks * (cfg.outlierFraction ?? 1 / 64));
  const exactChunks = new Set([...Array(chunks).keys()].sort((a, b) => spread[a]! - spread[b]!).slice(0, nOut));
  const local = cfg.local ?? 32, sinks = cfg.sinks ?? 4;
  const exact = new Set<number>();
  for (let t = 0; t < Math.min(sinks, N); t++) exact.add(t);
  for (let t = Math.max(0, N - local); t < N; t++) exact.add(t);
  for (const c of exactChunks) for (let t = c * cs; t < Math.min(N, (c + 1) * cs); t++) exact.add(t);
  const exactTokens = [...exact].sort((a, b) => a - b);
  const exactK = new Float32Array(G * exactTokens.length * D);
  exactTokens.forEach((t, i) => { for (let g = 0; g < G; g++) exactK.set(kv.k.subarray((g * N + t) * D, (g * N + t + 1) * D), (g * exactTokens.length + i) * D); });
  return {
    kvHeads: G, headDim: D, len: N, rank: r, coeffs, basis, landmarks, chunkSize: cs, exactChunks, exactTokens,
    hostV: kv.v.slice(), exactK, ...(ropeInvFreq ? { ropeInvFreq } : {}),
    newK: Array.from({ length: G }, () => []), newV: Array.from({ length: G }, () => []), newPos: [], topChunks: cfg.topChunks,
  };
}

/** fp16 bytes ShadowKV keeps on the device for a layer (values and exact keys of selected chunks are fetched per step). */
export function shadowDeviceBytes(s: ShadowLayer): { device: number; host: number; fullFp16: number } {
  const { kvHeads: G, headDim: D, len: N, rank: r } = s;
  const chunks = Math.ceil(N / s.chunkSize);
  const exactTok = s.exactTokens.length;
  const device = 2 * (N * r + G * D * r + G * chunks * D + 2 * G * exactTok * D + 2 * G * s.topChunks * s.chunkSize * D);
  return { device, host: 2 * G * N * D, fullFp16: 2 * 2 * G * N * D };
}

/**
 * A decode provider over ShadowKV layers: per step and kv head, scores chunks by the largest
 * `q·landmark` over the query heads sharing the kv head, takes the top chunks (outside the exact set),
 * rebuilds their keys from the low-rank factors (then RoPE at their positions), fetches their values
 * from host memory, and attends over those + the exact tokens + the generated tokens.
 */
export function shadowProvider(layers: ShadowLayer[], numHeadsPerLayer: readonly number[]): KVProvider {
  return (s) => {
    const L = layers[s.layer];
    if (!L) throw new LeanformerError('INVALID_ARGUMENT', `shadowProvider: no ShadowKV state for layer ${s.layer}`);
    const { kvHeads: G, headDim: D, len: N, rank: r, chunkSize: cs } = L;
    const H = numHeadsPerLayer[s.layer]!;
    const group = H / G;
    const chunks = Math.ceil(N / cs);
    for (let g = 0; g < G; g++) for (let t = 0; t < s.n; t++) {
      L.newK[g]!.push(...s.k.subarray((g * s.n + t) * D, (g * s.n + t + 1) * D));
      L.newV[g]!.push(...s.v.subarray((g * s.n + t) * D, (g * s.n + t + 1) * D));
    }
    for (let t = 0; t < s.n; t++) L.newPos.push(s.position + t);
    const exactSet = new Set(L.exactTokens);
    const perHead: number[][] = [];
    for (let g = 0; g < G; g++) {
      const score: number[] = [];
      const cand: number[] = [];
      for (let c = 0; c < chunks; c++) {
        if (L.exactChunks.has(c)) continue;
        let best = -Infinity;
        for (let h = g * group; h < (g + 1) * group; h++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += s.q[(h * s.n + s.n - 1) * D + d]! * L.landmarks[(g * chunks + c) * D + d]!;
          best = Math.max(best, dot);
        }
        score[c] = best;
        cand.push(c);
      }
      cand.sort((a, b) => score[b]! - score[a]! || a - b);
      const toks: number[] = [];
      for (const c of cand.slice(0, L.topChunks)) for (let t = c * cs; t < Math.min(N, (c + 1) * cs); t++) if (!exactSet.has(t)) toks.push(t);
      perHead.push(toks);
    }
    // Every head must attend over the same number of keys; pad shorter lists with exact tokens' duplicates is wrong,
    // so equalize by truncating to the shortest selection (chunks near exact regions may lose a few tokens).
    const sel = Math.min(...perHead.map((p) => p.length));
    const nNew = L.newPos.length;
    const kLen = sel + L.exactTokens.length + nNew;
    const k = new Float32Array(G * kLen * D), v = new Float32Array(G * kLen * D), pos = new Int32Array(G * kLen);
    const rebuilt = new Float32Array(sel * D);
    for (let g = 0; g < G; g++) {
      const toks = perHead[g]!.slice(0, sel);
      rebuilt.fill(0);
      toks.forEach((t, i) => {
        for (let d = 0; d < D; d++) {
          let x = 0;
          const row = (g * D + d) * r;
          for (let j = 0; j < r; j++) x += L.coeffs[t * r + j]! * L.basis[row + j]!;
          rebuilt[i * D + d] = x;
        }
      });
      if (L.ropeInvFreq) applyRope(rebuilt, 1, sel, D, L.ropeInvFreq, toks);
      let o = 0;
      const put = (kk: ArrayLike<number>, kOff: number, vv: ArrayLike<number>, vOff: number, p: number): void => {
        const b = (g * kLen + o) * D;
        for (let d = 0; d < D; d++) { k[b + d] = kk[kOff + d]!; v[b + d] = vv[vOff + d]!; }
        pos[g * kLen + o] = p;
        o++;
      };
      toks.forEach((t, i) => put(rebuilt, i * D, L.hostV, (g * N + t) * D, t));
      L.exactTokens.forEach((t, i) => put(L.exactK, (g * L.exactTokens.length + i) * D, L.hostV, (g * N + t) * D, t));
      L.newPos.forEach((p, i) => put(L.newK[g]!, i * D, L.newV[g]!, i * D, p));
    }
    return { k, v, kLen, keyPositions: pos };
  };
}
