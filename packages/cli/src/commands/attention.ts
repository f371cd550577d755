// `leanformer attention show <pattern> --png <file> | --svg <file>`: a picture of which query sees which
// key, one panel per head, for any pattern spec @leanformer/attention parses (its PATTERN_SPEC_FORMS).
import { intFlag, UsageError } from '@leanformer/core';
import { checkOutputPath, writeFileAtomic } from '@leanformer/core/node';
import { parsePatternSpec, patternDensity, patternPng, patternSvg, PATTERN_SPEC_FORMS } from '@leanformer/attention';
import type { Command } from '../registry.js';

const USAGE = 'leanformer attention show <pattern> (--png <file.png> | --svg <file.svg>) [--heads N] [--len L]';

export const attentionCommand: Command = {
  name: 'attention',
  summary: 'Draw an attention pattern: which query sees which key, per head (attention show <pattern> --png|--svg)',
  positionals: ['show', '<pattern>'],
  options: {
    png: { type: 'string', arg: '<file.png>', description: 'write the picture as PNG' },
    svg: { type: 'string', arg: '<file.svg>', description: 'write the picture as SVG (with a title, head labels and the density)' },
    heads: { type: 'string', arg: '<N>', description: 'heads to draw, 1…64 (default: the MoA span count, else 4)' },
    len: { type: 'string', arg: '<L>', description: 'tokens (queries and keys), 1…1024 (default 64)' },
  },
  details: `Usage: ${USAGE}\nPattern specs:\n${PATTERN_SPEC_FORMS.map(([f, about]) => `  ${f.padEnd(56)}${about}`).join('\n')}\nExample: leanformer attention show moa:4+0/8+0.125/2+0.25/0+0.5 --png moa.png`,
  async run({ positionals, values, io }) {
    if (positionals[0] !== 'show') throw new UsageError(`attention: the only subcommand is 'show', got '${positionals[0]}'; usage: ${USAGE}`);
    const png = values.png as string | undefined, svg = values.svg as string | undefined;
    if (png === undefined && svg === undefined) throw new UsageError(`attention show: give --png <file> and/or --svg <file>; usage: ${USAGE}`, 'png');
    const len = intFlag('len', values.len, { min: 1, max: 1024 }) ?? 64;
    const headsFlag = intFlag('heads', values.heads, { min: 1, max: 64 });
    let pattern;
    try { pattern = parsePatternSpec(positionals[1]!); } catch (e) { throw new UsageError((e as Error).message, 'pattern'); }
    const heads = headsFlag ?? (pattern.kind === 'moa' ? pattern.spans.length : 4);
    if (pattern.kind === 'moa' && heads !== pattern.spans.length) throw new UsageError(`attention show: --heads ${heads} but the MoA spec lists ${pattern.spans.length} spans; give one span per head`, 'heads');
    for (const f of [png, svg]) if (f !== undefined) checkOutputPath(f);
    if (svg !== undefined) writeFileAtomic(svg, patternSvg(pattern, { heads, len }, positionals[1]!));
    if (png !== undefined) writeFileAtomic(png, await patternPng(pattern, { heads, len }));
    io.out(`${positionals[1]}: ${heads} heads × ${len} tokens, ${(patternDensity(pattern, len, heads) * 100).toFixed(1)}% of causal scores → ${[png, svg].filter(Boolean).join(', ')}\n`);
    if (pattern.kind === 'topk') io.err('note: topk draws its window part only; the top-k keys depend on the scores\n');
    return 0;
  },
};
