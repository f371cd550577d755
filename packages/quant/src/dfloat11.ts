// Lossless entropy coding of float weights (DFloat11-style). A float's exponent field of
// trained weights carries ~2.6 bits of entropy; sign and mantissa are close to random. So the
// exponent is Huffman-coded (canonical code, lengths ≤ 12 bits so a 4096-entry table decodes
// one symbol per lookup) and the other bits are stored raw. bf16: 8 raw bits + ~2.7 coded
// bits ≈ 0.67× of 16. Decoding is bit-exact by construction (every bit of the input is
// either coded losslessly or stored).
//
// Stream layout ("huffman-exponent-v1"), all little-endian:
//   u8  kind (1 = bfloat16, 2 = float16, 3 = float32)
//   u8  maxLen (≤ 12)
//   u16 reserved (0)
//   u32 count (elements)
//   u32 chunk (elements per chunk; each chunk's code starts byte-aligned)
//   u32 codeBytes (total bytes of the coded exponent stream, incl. 4 bytes of tail padding)
//   u8[2^expBits] code lengths per exponent value (0 = absent)
//   u32[ceil(count/chunk)] byte offset of each chunk in the code stream (random access and
//                          parallel decode, DFloat11's "find each thread's start" step made explicit)
//   code stream: codes MSB-first, each chunk padded to a byte boundary
//   raw stream:  bf16 → 1 byte/elem (sign<<7 | mantissa7); float32 → 3 bytes/elem
//                (sign<<23 | mantissa23, little-endian); float16 → 11 bits/elem packed LSB-first
import { LeanformerError } from '@leanformer/core';

/** Float formats the codec handles. */
export type PackableFloat = 'bfloat16' | 'float16' | 'float32';

interface Layout { kind: number; bits: number; expShift: number; expBits: number; rawBits: number }
const LAYOUTS: Record<PackableFloat, Layout> = {
  bfloat16: { kind: 1, bits: 16, expShift: 7, expBits: 8, rawBits: 8 },
  float16: { kind: 2, bits: 16, expShift: 10, expBits: 5, rawBits: 11 },
  float32: { kind: 3, bits: 32, expShift: 23, expBits: 8, rawBits: 24 },
};
const KIND_NAMES: Record<number, PackableFloat> = { 1: 'bfloat16', 2: 'float16', 3: 'float32' };

const MAX_LEN = 12;
const CHUNK = 1 << 16;
const HEADER = 16;

/** Huffman code lengths for `freq` limited to `maxLen` (frequencies are halved until it fits). */
export function huffmanLengths(freq: ArrayLike<number>, maxLen = MAX_LEN): Uint8Array {
  const n = freq.length;
  const f = Array.from(freq, Number);
  for (;;) {
    const lens = unlimitedLengths(f);
    let mx = 0;
    for (const l of lens) if (l > mx) mx = l;
    if (mx <= maxLen) return lens;
    for (let i = 0; i < n; i++) if (f[i]! > 0) f[i] = Math.max(1, Math.floor(f[i]! / 2));
  }
}

function unlimitedLengths(f: readonly number[]): Uint8Array {
  const n = f.length;
  const lens = new Uint8Array(n);
  const live = f.map((v, i) => [v, i] as const).filter(([v]) => v > 0);
  if (live.length === 0) return lens;
  if (live.length === 1) { lens[live[0]![1]] = 1; return lens; }
  // Classic two-queue construction over sorted leaves; parent links give depths.
  type N = { w: number; leaf: number; l?: N; r?: N };
  const leaves: N[] = live.map(([w, i]) => ({ w, leaf: i })).sort((a, b) => a.w - b.w || a.leaf - b.leaf);
  const merged: N[] = [];
  let li = 0, mi = 0;
  const pop = (): N => {
    if (li < leaves.length && (mi >= merged.length || leaves[li]!.w <= merged[mi]!.w)) return leaves[li++]!;
    return merged[mi++]!;
  };
  for (let k = 0; k < live.length - 1; k++) {
    const a = pop();
    const b = pop();
    merged.push({ w: a.w + b.w, leaf: -1, l: a, r: b });
  }
  const stack: [N, number][] = [[merged[merged.length - 1]!, 0]];
  while (stack.length) {
    const [node, d] = stack.pop()!;
    if (node.leaf >= 0) lens[node.leaf] = d;
    else { stack.push([node.l!, d + 1]); stack.push([node.r!, d + 1]); }
  }
  return lens;
}

/** Canonical codes from lengths (shorter first, then by symbol). */
function canonicalCodes(lens: Uint8Array): Uint32Array {
  const codes = new Uint32Array(lens.length);
  const order = Array.from(lens.keys()).filter((s) => lens[s]! > 0).sort((a, b) => lens[a]! - lens[b]! || a - b);
  let code = 0;
  let prev = 0;
  for (const s of order) {
    code <<= lens[s]! - prev;
    prev = lens[s]!;
    codes[s] = code++;
  }
  return codes;
}

function layoutOf(dtype: string): Layout {
  const l = LAYOUTS[dtype as PackableFloat];
  if (!l) throw new LeanformerError('INVALID_DTYPE', `lossless packing handles bfloat16, float16 and float32 tensors, got ${dtype}`);
  return l;
}

/**
 * Entropy-codes float bits. `bits` holds raw bit patterns: Uint16Array for bfloat16/float16,
 * Uint32Array (or the bytes of a Float32Array) for float32.
 *
 * @example
 * ```ts
 * const enc = encodeFloats('bfloat16', bf16Bits);
 * const back = decodeFloats(enc); // { dtype: 'bfloat16', bits: Uint16Array } — identical bits
 * ```
 */
export function encodeFloats(dtype: PackableFloat, bits: Uint16Array | Uint32Array): Uint8Array {
  const L = layoutOf(dtype);
  if ((L.bits === 16) !== (bits instanceof Uint16Array)) throw new LeanformerError('INVALID_ARGUMENT', `${dtype} bits must be a ${L.bits === 16 ? 'Uint16Array' : 'Uint32Array'}`);
  const n = bits.length;
  const expMask = (1 << L.expBits) - 1;
  const freq = new Float64Array(1 << L.expBits);
  for (let i = 0; i < n; i++) freq[(bits[i]! >>> L.expShift) & expMask]!++;
  const lens = huffmanLengths(freq);
  const codes = canonicalCodes(lens);
  const chunks = Math.ceil(n / CHUNK);
  // Code stream: worst case maxLen bits per element plus per-chunk padding.
  let maxLen = 0;
  for (const l of lens) if (l > maxLen) maxLen = l;
  let bitTotal = 0;
  for (let s = 0; s < lens.length; s++) bitTotal += freq[s]! * lens[s]!;
  const codeCap = Math.ceil(bitTotal / 8) + chunks + 8;
  const code = new Uint8Array(codeCap);
  const offsets = new Uint32Array(chunks);
  let pos = 0; // byte position
  let acc = 0; // pending bits (≤ 7 + 12 < 32)
  let nacc = 0;
  for (let c = 0; c < chunks; c++) {
    if (nacc > 0) { code[pos++] = (acc << (8 - nacc)) & 0xff; acc = 0; nacc = 0; }
    offsets[c] = pos;
    const end = Math.min(n, (c + 1) * CHUNK);
    for (let i = c * CHUNK; i < end; i++) {
      const s = (bits[i]! >>> L.expShift) & expMask;
      acc = (acc << lens[s]!) | codes[s]!;
      nacc += lens[s]!;
      while (nacc >= 8) { nacc -= 8; code[pos++] = (acc >>> nacc) & 0xff; }
      acc &= (1 << nacc) - 1;
    }
  }
  if (nacc > 0) code[pos++] = (acc << (8 - nacc)) & 0xff;
  const codeBytes = pos + 4; // tail padding lets the decoder read 3 bytes past any position
  const rawBytes = L.rawBits === 8 ? n : L.rawBits === 24 ? 3 * n : Math.ceil((11 * n) / 8);
  const lensBytes = 1 << L.expBits;
  const total = HEADER + lensBytes + 4 * chunks + codeBytes + rawBytes;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out[0] = L.kind;
  out[1] = maxLen;
  dv.setUint32(4, n, true);
  dv.setUint32(8, CHUNK, true);
  dv.setUint32(12, codeBytes, true);
  out.set(lens, HEADER);
  let o = HEADER + lensBytes;
  for (let c = 0; c < chunks; c++, o += 4) dv.setUint32(o, offsets[c]!, true);
  out.set(code.subarray(0, pos), o);
  o += codeBytes;
  const signShift = L.bits - 1;
  const mantMask = (1 << L.expShift) - 1;
  if (L.rawBits === 8) {
    for (let i = 0; i < n; i++) { const b = bits[i]!; out[o + i] = ((b >>> signShift) << 7) | (b & mantMask); }
  } else if (L.rawBits === 24) {
    for (let i = 0; i < n; i++) {
      const b = bits[i]!;
      const r = ((b >>> signShift) << 23) | (b & mantMask);
      out[o + 3 * i] = r & 0xff; out[o + 3 * i + 1] = (r >>> 8) & 0xff; out[o + 3 * i + 2] = r >>> 16;
    }
  } else {
    let bitPos = 0;
    for (let i = 0; i < n; i++, bitPos += 11) {
      const b = bits[i]!;
      const r = ((b >>> signShift) << 10) | (b & mantMask);
      const byte = o + (bitPos >>> 3);
      const sh = bitPos & 7;
      const v = r << sh; // ≤ 18 bits
      out[byte]! |= v & 0xff; out[byte + 1]! |= (v >>> 8) & 0xff;
      if (sh > 5) out[byte + 2]! |= v >>> 16;
    }
  }
  return out;
}

/** What `decodeFloats` returns: the dtype and its raw bit patterns. */
export interface DecodedFloats { readonly dtype: PackableFloat; readonly bits: Uint16Array | Uint32Array }

/** Decodes a stream written by `encodeFloats` to the identical bit patterns. */
export function decodeFloats(enc: Uint8Array, into?: Uint16Array | Uint32Array): DecodedFloats {
  if (enc.length < HEADER) throw new LeanformerError('DECODE_ERROR', `packed tensor stream too short (${enc.length} bytes)`);
  const dtype = KIND_NAMES[enc[0]!];
  if (!dtype) throw new LeanformerError('DECODE_ERROR', `packed tensor stream has unknown float kind ${enc[0]}`);
  const L = LAYOUTS[dtype];
  const dv = new DataView(enc.buffer, enc.byteOffset, enc.byteLength);
  const maxLen = enc[1]!;
  const n = dv.getUint32(4, true);
  const chunk = dv.getUint32(8, true);
  const codeBytes = dv.getUint32(12, true);
  const lensBytes = 1 << L.expBits;
  const chunks = chunk === 0 ? 0 : Math.ceil(n / chunk);
  const codeStart = HEADER + lensBytes + 4 * chunks;
  const rawStart = codeStart + codeBytes;
  const rawBytes = L.rawBits === 8 ? n : L.rawBits === 24 ? 3 * n : Math.ceil((11 * n) / 8);
  if (maxLen > MAX_LEN || (n > 0 && chunk === 0) || rawStart + rawBytes > enc.length) throw new LeanformerError('DECODE_ERROR', `packed tensor stream is truncated or corrupt (needs ${rawStart + rawBytes} bytes, has ${enc.length})`);
  const lens = enc.subarray(HEADER, HEADER + lensBytes);
  // Decode table: every maxLen-bit window whose prefix is a code maps to (symbol | len << 8).
  const lut = new Uint16Array(1 << MAX_LEN);
  const codes = canonicalCodes(lens);
  let kraft = 0;
  for (let s = 0; s < lensBytes; s++) {
    const l = lens[s]!;
    if (!l) continue;
    if (l > MAX_LEN) throw new LeanformerError('DECODE_ERROR', `code length ${l} exceeds ${MAX_LEN}`);
    kraft += 2 ** -l;
    const first = codes[s]! << (MAX_LEN - l);
    const span = 1 << (MAX_LEN - l);
    for (let j = 0; j < span; j++) lut[first + j] = s | (l << 8);
  }
  if (kraft > 1 + 1e-12) throw new LeanformerError('DECODE_ERROR', 'packed tensor stream has an invalid code (lengths violate the Kraft inequality)');
  // Two-symbol table: exponents average ~2.7 bits, so a 12-bit window usually holds two whole
  // codes. Entry = sym1 | sym2 << 8 | (len1 + len2) << 16 | len1 << 21, with len2 = 0 when the
  // second code does not fit (then only sym1 is taken).
  const lut2 = new Uint32Array(1 << MAX_LEN);
  for (let w = 0; w < lut2.length; w++) {
    const e1 = lut[w]!;
    const l1 = e1 >>> 8;
    if (l1 === 0) continue;
    const e2 = lut[(w << l1) & 0xfff]!;
    const l2 = e2 >>> 8;
    const two = l2 > 0 && l1 + l2 <= MAX_LEN;
    lut2[w] = (e1 & 0xff) | ((two ? e2 & 0xff : 0) << 8) | ((two ? l1 + l2 : 0) << 16) | (l1 << 21);
  }
  const out = into ?? (L.bits === 16 ? new Uint16Array(n) : new Uint32Array(n));
  if (out.length !== n) throw new LeanformerError('SHAPE_MISMATCH', `decode target holds ${out.length} elements, stream has ${n}`);
  const code = enc.subarray(codeStart, rawStart);
  const raw = enc.subarray(rawStart, rawStart + rawBytes);
  const offsets = new Uint32Array(chunks);
  for (let c = 0; c < chunks; c++) offsets[c] = dv.getUint32(HEADER + lensBytes + 4 * c, true);
  const shift = L.expShift;
  const signShift = L.bits - 1;
  const mantMask = (1 << shift) - 1;
  const limit = codeBytes - 3;
  if (n > 0 && kraft === 0) throw new LeanformerError('DECODE_ERROR', 'packed tensor stream has no code for its elements');
  for (let c = 0; c < chunks; c++) {
    let bitPos = offsets[c]! * 8;
    const end = Math.min(n, (c + 1) * chunk);
    if (L.rawBits === 8 && L.bits === 16) {
      // bfloat16 hot loop: a 16-bit refill keeps ≥ 12 bits buffered; one table lookup yields
      // one or two elements. Bits above the buffered count are garbage and masked away.
      const o16 = out as Uint16Array;
      let p = offsets[c]!;
      let buf = 0;
      let cnt = 0;
      let i = c * chunk;
      const last = end - 1;
      while (i < end) {
        if (cnt < 12) { buf = (buf << 16) | (code[p]! << 8) | code[p + 1]!; p += 2; cnt += 16; }
        const e = lut2[(buf >>> (cnt - 12)) & 0xfff]!;
        const r = raw[i]!;
        o16[i] = ((r & 0x80) << 8) | ((e & 0xff) << 7) | (r & 0x7f);
        const both = (e >>> 16) & 31;
        if (both !== 0 && i < last) {
          const r2 = raw[i + 1]!;
          o16[i + 1] = ((r2 & 0x80) << 8) | (((e >>> 8) & 0xff) << 7) | (r2 & 0x7f);
          cnt -= both;
          i += 2;
        } else {
          cnt -= e >>> 21;
          i += 1;
        }
      }
      if (p > limit + 3) throw new LeanformerError('DECODE_ERROR', 'packed tensor code stream ended early');
    } else {
      for (let i = c * chunk; i < end; i++) {
        const p = bitPos >>> 3;
        if (p > limit) throw new LeanformerError('DECODE_ERROR', 'packed tensor code stream ended early');
        const win = (code[p]! << 16) | (code[p + 1]! << 8) | code[p + 2]!;
        const e = lut[(win >>> (12 - (bitPos & 7))) & 0xfff]!;
        bitPos += e >>> 8;
        const exp = e & 0xff;
        let r: number;
        if (L.rawBits === 24) r = raw[3 * i]! | (raw[3 * i + 1]! << 8) | (raw[3 * i + 2]! << 16);
        else {
          const bp = 11 * i;
          const b = bp >>> 3;
          r = ((raw[b]! | (raw[b + 1]! << 8) | ((raw[b + 2] ?? 0) << 16)) >>> (bp & 7)) & 0x7ff;
        }
        const rawMant = L.rawBits - 1;
        out[i] = (((r >>> rawMant) << signShift) | (exp << shift) | (r & mantMask)) >>> 0;
      }
    }
  }
  return { dtype, bits: out };
}

