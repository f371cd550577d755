// Bit-exact conversions between float32 and the narrow float formats, and sub-byte packing.
// float16/bfloat16 use round-to-nearest-even; NaN stays NaN (quiet), infinities stay infinities.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE binary16 bits, round-to-nearest-even, with subnormals. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Inf / NaN (quiet)
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0 (even the round-up cannot reach the smallest subnormal)
    mant |= 0x800000; // implicit leading 1
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m; // m may carry into the exponent field: that is the correct smallest normal
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // carry may overflow into Inf: correct
  return h;
}

/** IEEE binary16 bits → float32 value (exact). */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 → bfloat16 bits, round-to-nearest-even; NaN becomes a quiet NaN with the same sign. */
export function float32ToBfloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) & 0x8000) | 0x7fc0;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** bfloat16 bits → float32 value (exact). */
export function bfloat16BitsToFloat32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}

interface MiniFloat { exp: number; man: number; bias: number; /** fnuz: no -0, NaN is 0x80, no Inf. fn: no Inf, NaN is all-ones. ieee: Inf and NaN as usual. */ kind: 'fn' | 'fnuz' | 'ieee' }
const FP8: Record<string, MiniFloat> = {
  float8e4m3: { exp: 4, man: 3, bias: 7, kind: 'fn' },
  float8e4m3fnuz: { exp: 4, man: 3, bias: 8, kind: 'fnuz' },
  float8e5m2: { exp: 5, man: 2, bias: 15, kind: 'ieee' },
  float8e5m2fnuz: { exp: 5, man: 2, bias: 16, kind: 'fnuz' },
  float4e2m1: { exp: 2, man: 1, bias: 1, kind: 'fn' },
};

function miniToFloat(bits: number, f: MiniFloat): number {
  const total = 1 + f.exp + f.man;
  const signBit = 1 << (total - 1);
  const expMask = (1 << f.exp) - 1;
  const manMask = (1 << f.man) - 1;
  if (f.kind === 'fnuz' && bits === signBit) return NaN;
  const sign = bits & signBit ? -1 : 1;
  const e = (bits >>> f.man) & expMask;
  const m = bits & manMask;
  if (f.kind === 'fn' && total === 8 && e === expMask && m === manMask) return NaN;
  if (f.kind === 'ieee' && e === expMask) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * 2 ** (1 - f.bias - f.man);
  return sign * (1 + m / (1 << f.man)) * 2 ** (e - f.bias);
}

/** Decodes one element of a bit-pattern float dtype (fp16, bf16, fp8 variants, fp4, e8m0) to a JS number. */
export function bitsToFloat(dtypeName: string, bits: number): number {
  switch (dtypeName) {
    case 'float16': return float16BitsToFloat32(bits);
    case 'bfloat16': return bfloat16BitsToFloat32(bits);
    case 'float8e8m0': return bits === 0xff ? NaN : 2 ** (bits - 127);
    default: {
      const f = FP8[dtypeName];
      if (!f) throw new Error(`not a bit-pattern float: ${dtypeName}`);
      return miniToFloat(bits, f);
    }
  }
}

/** Encodes a number to a bit-pattern float dtype: round-to-nearest-even, saturating for formats without Inf. */
export function floatToBits(dtypeName: string, value: number): number {
  switch (dtypeName) {
    case 'float16': return float32ToFloat16Bits(value);
    case 'bfloat16': return float32ToBfloat16Bits(value);
    case 'float8e8m0': {
      if (Number.isNaN(value) || value <= 0) return Number.isNaN(value) ? 0xff : 0;
      return Math.min(254, Math.max(0, Math.round(Math.log2(value)) + 127));
    }
    default: {
      const f = FP8[dtypeName];
      if (!f) throw new Error(`not a bit-pattern float: ${dtypeName}`);
      return floatToMini(value, f);
    }
  }
}

function floatToMini(value: number, f: MiniFloat): number {
  const total = 1 + f.exp + f.man;
  const signBit = 1 << (total - 1);
  if (Number.isNaN(value)) return f.kind === 'fnuz' ? signBit : f.kind === 'fn' ? (total === 8 ? 0x7f : 0x7) : 0x7f;
  const neg = value < 0 || Object.is(value, -0);
  const a = Math.abs(value);
  // Enumerate the finite non-negative codes; formats are tiny so a search is exact and simple.
  let best = 0;
  let bestErr = Infinity;
  const codes = 1 << (total - 1);
  for (let c = 0; c < codes; c++) {
    const v = miniToFloat(c, f);
    if (!Number.isFinite(v)) continue;
    const err = Math.abs(v - a);
    if (err < bestErr || (err === bestErr && (c & 1) === 0 && (best & 1) === 1)) { best = c; bestErr = err; }
  }
  if (a === Infinity && f.kind === 'ieee') best = ((1 << f.exp) - 1) << f.man;
  if (best === 0 && neg && f.kind === 'fnuz') return 0; // fnuz has no -0
  return (neg ? signBit : 0) | best;
}

/**
 * Packs sub-byte integers (4 or 2 bits each) into bytes, low bits first (ONNX order).
 * Values are taken modulo 2^bits, so signed values may be passed as is.
 */
export function packBits(values: ArrayLike<number>, bits: 2 | 4): Uint8Array {
  const per = 8 / bits;
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(Math.ceil(values.length / per));
  for (let i = 0; i < values.length; i++) out[(i / per) | 0]! |= (values[i]! & mask) << ((i % per) * bits);
  return out;
}

/** Unpacks `count` sub-byte integers; padding bits past `count` are ignored. */
export function unpackBits(bytes: Uint8Array, count: number, bits: 2 | 4, signed: boolean): Int8Array | Uint8Array {
  const per = 8 / bits;
  const mask = (1 << bits) - 1;
  const signBit = 1 << (bits - 1);
  const out = signed ? new Int8Array(count) : new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const v = (bytes[(i / per) | 0]! >>> ((i % per) * bits)) & mask;
    out[i] = signed && v & signBit ? v - (1 << bits) : v;
  }
  return out;
}

/** Packs int4/uint4 values two per byte, low nibble first. */
export const packInt4 = (values: ArrayLike<number>): Uint8Array => packBits(values, 4);
/** Unpacks `count` int4 (signed) or uint4 values. */
export const unpackInt4 = (bytes: Uint8Array, count: number, signed: boolean): Int8Array | Uint8Array => unpackBits(bytes, count, 4, signed);
