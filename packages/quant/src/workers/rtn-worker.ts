// Worker script of createQuantWorkerPool: quantizes output-channel slices of a weight held in
// shared memory with the very quantizeRtn / packMatMulNBits of the main entry, so the bytes are
// the single-thread ones. Built by tsup to dist/workers/rtn-worker.js.
import { parentPort } from 'node:worker_threads';
import { LeanformerError } from '@leanformer/core';
import { packMatMulNBits, quantizeRtn, quantizeRtnPacked } from '../blockwise.js';
import type { SliceReply, SliceRequest } from './protocol.js';

/** Column-slice staging, kept between slices up to this many floats (64 MB). */
const KEEP_SCRATCH = 1 << 24;
let scratch = new Float32Array(0);

function run(m: SliceRequest): { reply: SliceReply; transfer: ArrayBuffer[] } {
  const { K, N, n0, n1 } = m;
  const ns = n1 - n0;
  const src = new Float32Array(m.buffer, m.byteOffset, K * N);
  if (m.packed && !m.weight) {
    // Packed output only: quantize the slice's columns in place straight into the packed bytes.
    const p = quantizeRtnPacked(src, K, N, m.options, { n0, n1 });
    const reply: SliceReply = { type: 'done', id: m.id, kBlocks: p.bShape[1], codes: null, scales: null, zeroPoints: null, B: p.B, packedScales: p.scales, packedZeroPoints: p.zeroPoints };
    return { reply, transfer: [p.B.buffer, p.scales.buffer, ...(p.zeroPoints ? [p.zeroPoints.buffer] : [])] as ArrayBuffer[] };
  }
  let w: Float32Array;
  if (ns === N) w = src; // whole weight: read the shared memory in place
  else {
    const need = K * ns;
    const buf = scratch.length >= need ? scratch : new Float32Array(need);
    if (need <= KEEP_SCRATCH && buf !== scratch) scratch = buf;
    w = buf.subarray(0, need);
    for (let k = 0, r = n0, o = 0; k < K; k++, r += N, o += ns) w.set(src.subarray(r, r + ns), o);
  }
  const q = quantizeRtn(w, K, ns, m.options);
  const p = m.packed ? packMatMulNBits(q, { forceUint8ZeroPoints: m.forceUint8ZeroPoints }) : null;
  const reply: SliceReply = {
    type: 'done', id: m.id, kBlocks: q.kBlocks,
    codes: m.weight ? q.codes : null,
    scales: m.weight ? q.scales : null,
    zeroPoints: m.weight ? q.zeroPoints : null,
    B: p ? p.B : null,
    packedScales: p ? p.scales : null,
    packedZeroPoints: p ? p.zeroPoints : null,
  };
  const transfer = new Set<ArrayBuffer>();
  for (const a of [reply.codes, reply.scales, reply.zeroPoints, reply.B, reply.packedScales, reply.packedZeroPoints]) {
    if (a && a.buffer instanceof ArrayBuffer) transfer.add(a.buffer);
  }
  return { reply, transfer: [...transfer] };
}

/** Details as plain JSON data (structured clone refuses functions and class instances). */
function cloneable(d: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try { return JSON.parse(JSON.stringify(d)) as Record<string, unknown>; } catch { return {}; }
}

const port = parentPort;
if (!port) throw new LeanformerError('NOT_SUPPORTED', 'rtn-worker is a worker_threads script: start it through createQuantWorkerPool from @leanformer/quant/node');
port.on('message', (m: SliceRequest) => {
  let out: { reply: SliceReply; transfer: ArrayBuffer[] };
  try {
    out = run(m);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const lf = e instanceof LeanformerError ? e : null;
    out = {
      reply: { type: 'error', id: m.id, error: { name: err.name, message: err.message, stack: err.stack, ...(lf ? { code: lf.code, details: cloneable(lf.details) } : {}) } },
      transfer: [],
    };
  }
  port.postMessage(out.reply, out.transfer);
});
// Warm-up: compile quantizeRtn / packMatMulNBits before the first real slice (a slice of a
// 4096×4096 layer on 16 threads is short enough for cold code to show). About 20 ms per worker.
{
  const K = 512, N = 256;
  const w = new Float32Array(K * N);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 0.618) * 0.02;
  for (let i = 0; i < 4; i++) {
    packMatMulNBits(quantizeRtn(w, K, N, { bits: 4, blockSize: 32 }));
    packMatMulNBits(quantizeRtn(w, K, N, { bits: 8, blockSize: 32, symmetric: true }), { forceUint8ZeroPoints: true });
  }
}
port.postMessage({ type: 'ready' } satisfies SliceReply);
