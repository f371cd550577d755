// SIGKILL in the middle of a streaming quantization: the child is killed at a seeded random point
// (after a random number of quantized layers plus a random delay), and each time there must be no
// file under the output names and the input files must hash as before. Runs the built packages
// (dist) in the child, like a user's process; the root `npm test` builds first.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '@leanformer/core';
import { encodeModel } from '@leanformer/onnx';
import { writeSyntheticDecoder } from '@leanformer/quant/node';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (p: string) => pathToFileURL(join(root, p)).href;
const built = existsSync(join(root, 'packages/quant/dist/index.js')) && existsSync(join(root, 'packages/onnx/dist/node.js'));
if (!built) console.warn('kill-midway: skipped, packages/quant/dist or packages/onnx/dist is missing; run `npx nx run-many -t build` first');

// ~115 MB of float32 weights in 15 linear layers (the largest 11 MB).
const CFG = { layers: 2, hidden: 1024, ffn: 2752, vocab: 2048, seed: 3 };
const LAYERS = CFG.layers * 7 + 1;

const CHILD = `
const [input, output, mode] = process.argv.slice(2);
const { quantizeModelStreaming, packModelStreaming } = await import(${JSON.stringify(dist('packages/quant/dist/node.js'))});
const { encodeModel, lowerToOnnx } = await import(${JSON.stringify(dist('packages/onnx/dist/index.js'))});
const { loadModel } = await import(${JSON.stringify(dist('packages/onnx/dist/node.js'))});
let finished = 0; // layers (or tensors) done: every event with an item reports one more
const progress = (e) => { if (e.item) process.stdout.write('layer ' + (++finished) + '\\n'); };
if (mode === 'pack') {
  const r = await packModelStreaming(input, output, { loadModel, encodeModel: (g) => encodeModel(g) }, { onProgress: progress });
  process.stdout.write('done ' + r.tensors + '\\n');
} else {
  const r = await quantizeModelStreaming(input, output, { method: 'rtn', bits: 4, blockSize: 32, onProgress: progress }, { loadModel, encodeModel, lowerToOnnx });
  process.stdout.write('done ' + r.layersQuantized + '\\n');
}
`;

const dir = mkdtempSync(join(tmpdir(), 'lf-kill-'));
const script = join(dir, 'child.mjs');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
let model = '';
let data = '';
let hashes: string[] = [];

beforeAll(async () => {
  if (!built) return;
  writeFileSync(script, CHILD);
  const f = await writeSyntheticDecoder(join(dir, 'in.onnx'), CFG, { encodeModel });
  model = f.model;
  data = f.data;
  hashes = [sha(model), sha(data)];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the child; kills it with SIGKILL once it reports `afterLayer` layers and `delayMs` more have passed. */
function runAndKill(out: string, afterLayer: number, delayMs: number, mode: 'quantize' | 'pack' = 'quantize'): Promise<{ killed: boolean; layersSeen: number; tempsAtKill: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, model, out, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = 0;
    let armed = false;
    let tempsAtKill = 0;
    let stderr = '';
    child.stderr.on('data', (b) => { stderr += String(b); });
    child.stdout.on('data', (b: Buffer) => {
      for (const m of String(b).matchAll(/layer (\d+)/g)) seen = Math.max(seen, Number(m[1]));
      if (!armed && seen >= afterLayer) {
        armed = true;
        setTimeout(() => {
          tempsAtKill = readdirSync(dir).filter((n) => n.includes('.tmp-')).length;
          child.kill('SIGKILL');
        }, delayMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killed: true, layersSeen: seen, tempsAtKill });
      else if (code === 0) resolve({ killed: false, layersSeen: seen, tempsAtKill });
      else reject(new Error(`child exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

describe.skipIf(!built)('SIGKILL midway through quantizeModelStreaming', () => {
  it('leaves no file at the output paths and the input unchanged, at several random points', async () => {
    const pick = rng(20261126);
    const outcomes: { killed: boolean; layersSeen: number; tempsAtKill: number }[] = [];
    for (let run = 0; run < 4; run++) {
      const out = join(dir, `q${run}.onnx`);
      const afterLayer = 1 + Math.floor(pick.uniform() * (LAYERS - 2)); // strictly inside the run
      const r = await runAndKill(out, afterLayer, Math.floor(pick.uniform() * 40));
      outcomes.push(r);
      if (!r.killed) continue; // finished before the kill landed: then both outputs must be complete
      expect(existsSync(out), `run ${run}: ${out} exists after SIGKILL`).toBe(false);
      expect(existsSync(`${out}.data`), `run ${run}: ${out}.data exists after SIGKILL`).toBe(false);
      expect([sha(model), sha(data)]).toEqual(hashes);
    }
    // The check is not vacuous: kills landed while the run was writing its temporaries.
    expect(outcomes.filter((o) => o.killed && o.tempsAtKill > 0).length).toBeGreaterThanOrEqual(3);
    // What a killed run leaves is only dot-prefixed temporaries, never a target name.
    for (const n of readdirSync(dir)) expect(['child.mjs', 'in.onnx', 'in.onnx.data'].includes(n) || /^\.q\d\.onnx(\.data)?\.tmp-\d+-[0-9a-f]+$/.test(n), n).toBe(true);
  }, 120_000);

  it('the streaming .lfpack pack, killed midway, leaves no .lfpack and the input unchanged', async () => {
    const pick = rng(7);
    let landed = 0;
    for (let run = 0; run < 2; run++) {
      const out = join(dir, `p${run}.lfpack`);
      const r = await runAndKill(out, 1 + Math.floor(pick.uniform() * 12), Math.floor(pick.uniform() * 40), 'pack'); // 16 coded tensors
      if (!r.killed) continue;
      if (r.tempsAtKill > 0) landed++;
      expect(existsSync(out), `run ${run}: ${out} exists after SIGKILL`).toBe(false);
      expect([sha(model), sha(data)]).toEqual(hashes);
    }
    expect(landed).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('an uninterrupted run beside the leftovers completes and writes both files, input unchanged', () => {
    const out = join(dir, 'q0.onnx');
    const r = spawnSync(process.execPath, [script, model, out], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    // Every linear layer plus the embedding gather (streamed quantization quantizes it too, as in memory).
    expect(r.stdout).toContain(`done ${LAYERS + 1}`);
    expect(existsSync(out) && existsSync(`${out}.data`)).toBe(true);
    expect([sha(model), sha(data)]).toEqual(hashes);
  }, 90_000);
});
