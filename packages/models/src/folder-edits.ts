// Test helpers (not exported by the package): edit a copied checkpoint folder in place to make the
// bad inputs the convert/encoder tests feed. Node only.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Rewrites `<dir>/config.json` with `edit` applied to its object. */
export function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
}

/** Rewrites `<dir>/model.safetensors` with its header object changed (data section kept). */
export function editHeader(dir: string, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>) => void): void {
  const p = join(dir, 'model.safetensors');
  const bytes = readFileSync(p);
  const n = Number(bytes.readBigUInt64LE(0));
  const h = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  edit(h);
  const json = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(p, Buffer.concat([len, json, bytes.subarray(8 + n)]));
}
