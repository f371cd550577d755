import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, type Io } from './index.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const io: Io = { out: (t) => { out += t; }, err: (t) => { err += t; }, stderrIsTTY: false };
  return { code: await main(argv, io), out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'lf-attention-show-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('leanformer attention show', () => {
  it('writes a PNG and an SVG of a pattern spec, one panel per MoA head', async () => {
    const png = join(dir, 'moa.png'), svg = join(dir, 'moa.svg');
    const r = await cli('attention', 'show', 'moa:4+0/8+0.125/2+0.25/0+0.5', '--png', png, '--svg', svg, '--len', '32');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/4 heads × 32 tokens, [\d.]+% of causal scores/);
    expect([...readFileSync(png).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(readFileSync(svg, 'utf8').match(/>head \d/g)).toHaveLength(4);
  });

  it('bad usage exits 2 naming the problem, and writes nothing', async () => {
    const out = join(dir, 'bad.png');
    const cases: [string[], RegExp][] = [
      [['attention', 'show', 'dilated:2', '--png', out], /unknown kind 'dilated'/],
      [['attention', 'show', 'window:8'], /give --png <file> and\/or --svg <file>/],
      [['attention', 'draw', 'window:8', '--png', out], /the only subcommand is 'show', got 'draw'/],
      [['attention', 'show', 'window:8', '--png', out, '--len', '0'], /--len must be an integer ≥ 1 and ≤ 1024/],
      [['attention', 'show', 'moa:1+0/0+1', '--png', out, '--heads', '3'], /--heads 3 but the MoA spec lists 2 spans/],
    ];
    for (const [argv, msg] of cases) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
    expect(existsSync(out)).toBe(false);
  });
});
