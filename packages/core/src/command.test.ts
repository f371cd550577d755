import { describe, expect, it } from 'vitest';
import { intFlag, numberFlag, UsageError } from './command.js';
import { LeanformerError } from './errors.js';

describe('intFlag / numberFlag', () => {
  it('accepts plain decimal integers and returns undefined when the flag is absent', () => {
    expect(intFlag('bits', '4', { allowed: [4, 8] })).toBe(4);
    expect(intFlag('seed', '0', { min: 0 })).toBe(0);
    expect(intFlag('offset', '-3')).toBe(-3);
    expect(intFlag('bits', undefined, { allowed: [4, 8] })).toBeUndefined();
  });

  it('refuses hex, exponents, spaces and decimals where an integer is meant, naming the flag and the allowed values', () => {
    for (const raw of ['0x4', '1e3', ' 4', '4 ', '4.0', '', '+4', 'four', 'Infinity']) {
      expect(() => intFlag('bits', raw, { allowed: [4, 8] }), raw).toThrow(`--bits must be one of 4, 8 (decimal), got '${raw}'`);
    }
    expect(() => intFlag('repeat', '0', { min: 1 })).toThrow("--repeat must be an integer ≥ 1 (decimal), got '0'");
    expect(() => intFlag('n', '9007199254740993')).toThrow(/--n must be an integer/);
    expect(() => intFlag('n', true)).toThrow(/--n must be an integer \(decimal\), got 'true'/);
  });

  it('is a UsageError (INVALID_ARGUMENT with details.argument = the flag)', () => {
    try { intFlag('bits', '-4', { allowed: [4, 8] }); expect.unreachable(); } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect(e).toBeInstanceOf(LeanformerError);
      expect((e as LeanformerError).code).toBe('INVALID_ARGUMENT');
      expect((e as LeanformerError).details).toEqual({ argument: 'bits' });
    }
  });

  it('numberFlag takes decimals and exponents but not hex, spaces, NaN or Infinity; bounds may be strict', () => {
    expect(numberFlag('lr', '1e-2')).toBe(0.01);
    expect(numberFlag('lr', '.5')).toBe(0.5);
    expect(numberFlag('ratio', '1', { min: 0, minExclusive: true, max: 1 })).toBe(1);
    for (const raw of ['0x1', ' 1', 'NaN', 'Infinity', '1e', '']) expect(() => numberFlag('lr', raw), raw).toThrow(/--lr must be a number/);
    expect(() => numberFlag('ratio', '0', { min: 0, minExclusive: true, max: 1 })).toThrow("--ratio must be a number > 0 and ≤ 1 (decimal), got '0'");
  });
});
