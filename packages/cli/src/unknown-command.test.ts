// Its own file: a fresh module registry, with no extension command loaded on demand yet.
import { expect, it } from 'vitest';
import { main } from './index.js';

it('an unknown command lists every command, extensions included, and exits 2', async () => {
  let err = '';
  const code = await main(['frobnicate'], { out: () => {}, err: (t) => { err += t; }, stderrIsTTY: false });
  expect(code).toBe(2);
  expect(err.trim().split('\n')).toHaveLength(1);
  for (const c of ['inspect', 'run', 'conformance', 'bench', 'quantize', 'sparsify', 'pack', 'unpack', 'zoo', 'finetune', 'lora']) expect(err, c).toMatch(new RegExp(`[ ,]${c}[,( ]`));
});
