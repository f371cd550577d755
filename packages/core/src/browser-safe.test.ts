import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('.', import.meta.url));

/** Relative imports of a file, resolved to .ts paths. */
function imports(file: string): { local: string[]; nodeBuiltins: string[] } {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\s+['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2]!);
  return {
    local: specs.filter((s) => s.startsWith('.')).map((s) => join(file, '..', s.replace(/\.js$/, '.ts'))),
    nodeBuiltins: specs.filter((s) => s.startsWith('node:') || ['fs', 'path', 'os', 'crypto', 'child_process'].includes(s)),
  };
}

describe('browser entry', () => {
  it('core: reaches no node:* module from src/index.ts (node.ts is its own entry)', () => {
    const seen = new Set<string>();
    const bad: string[] = [];
    const visit = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      const { local, nodeBuiltins } = imports(f);
      for (const b of nodeBuiltins) bad.push(`${f.slice(src.length)} imports ${b}`);
      local.forEach(visit);
    };
    visit(join(src, 'index.ts'));
    expect(seen.size).toBeGreaterThan(5);
    expect([...seen].some((f) => f.endsWith('node.ts'))).toBe(false);
    expect(bad).toEqual([]);
    expect(readdirSync(src)).toContain('node.ts');
  });
});
