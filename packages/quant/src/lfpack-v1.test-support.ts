// Test support (not exported by the package): writes a version-1 .lfpack (12-byte header, no
// checksums), as leanformer wrote before version 2, from a version-2 file with the same content.
// Used to test that old files are still read (unverified) and to show what checksums catch.
import { readLfpackManifest } from './lfpack.js';

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** The same content as a version-1 file, laid out as version-1 writers did. */
export function toVersion1(bytes: Uint8Array): Uint8Array {
  const m = readLfpackManifest(bytes);
  const sections = [m.model, ...m.tensors].map((s) => bytes.slice(s.offset, s.offset + s.length));
  let len = 0;
  for (;;) {
    let at = align8(12 + len);
    const model = { offset: at, length: m.model.length };
    at += model.length;
    const tensors = m.tensors.map((t) => { const e = { name: t.name, dtype: t.dtype, shape: t.shape, offset: align8(at), length: t.length }; at = e.offset + e.length; return e; });
    const json = new TextEncoder().encode(JSON.stringify({ codec: m.codec, model, tensors }));
    if (json.length === len) {
      const out = new Uint8Array(at);
      out.set([0x4c, 0x46, 0x50, 0x4b]); // "LFPK"
      const dv = new DataView(out.buffer);
      dv.setUint32(4, 1, true);
      dv.setUint32(8, json.length, true);
      out.set(json, 12);
      [model, ...tensors].forEach((s, i) => out.set(sections[i]!, s.offset));
      return out;
    }
    len = json.length;
  }
}
