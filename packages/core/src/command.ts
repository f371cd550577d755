// The shape of a `leanformer` CLI command. It lives in core so that modules (quant, peft, vision…)
// can define their commands as plain objects without depending on the CLI package; the CLI
// registers them as they are. Also the one strict parser of numeric flags and the usage-error type.

import { LeanformerError } from './errors.js';

/** One option of a command, in `node:util` parseArgs terms plus help text. */
export interface CommandOption {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Placeholder shown in help, e.g. '<dir>'. */
  readonly arg?: string;
  readonly description: string;
}

/** Where a command writes: stdout and stderr. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is an interactive terminal: progress bars are drawn only then (absent = not). */
  readonly stderrIsTTY?: boolean;
}

/** What a command's `run` receives. */
export interface CommandContext<IO extends CommandIo = CommandIo> {
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly io: IO;
}

/**
 * A CLI command: the CLI parses arguments, prints `--help` and reports errors for all of them.
 *
 * @example
 * ```ts
 * const hello: CommandSpec = {
 *   name: 'hello', summary: 'Say hello', positionals: ['<name>'], options: {},
 *   async run({ positionals, io }) { io.out(`hello ${positionals[0]}\n`); return 0; },
 * };
 * ```
 */
export interface CommandSpec<IO extends CommandIo = CommandIo> {
  readonly name: string;
  /** One line for `leanformer --help`. */
  readonly summary: string;
  /** Positional arguments, e.g. `['<model.onnx>']` (all required). */
  readonly positionals: readonly string[];
  readonly options: Readonly<Record<string, CommandOption>>;
  /** Extra help text (what it prints, defaults). */
  readonly details?: string;
  /** Returns the exit code. Throw LeanformerError for anything the user must fix. */
  run(ctx: CommandContext<IO>): Promise<number>;
}

/**
 * A bad command line (unknown or malformed flag, value out of range, missing or extra positional):
 * the CLI reports it on one line and exits 2. Runtime failures are other LeanformerErrors (exit 1).
 *
 * @example
 * ```ts
 * if (values.pattern !== '2:4') throw new UsageError(`--pattern must be 2:4, got '${values.pattern}'`, 'pattern');
 * ```
 */
export class UsageError extends LeanformerError {
  /** The CLI's exit-2 marker; read by shape, so two loaded copies of core still agree. */
  readonly usage = true as const;
  /** `flag`: the option's name without dashes, kept in `details.argument`. */
  constructor(message: string, flag?: string) {
    super('INVALID_ARGUMENT', message, flag === undefined ? {} : { details: { argument: flag } });
  }
}

/** What a numeric flag may be: an explicit list, or bounds (`minExclusive` makes `min` a strict bound). */
export interface NumberRule {
  readonly allowed?: readonly number[];
  readonly min?: number;
  readonly max?: number;
  readonly minExclusive?: boolean;
}

// Decimal only: no hex (0x4), no surrounding spaces, no Infinity; integers have no '.' or exponent.
const INT_RE = /^-?\d+$/;
const NUMBER_RE = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

function allowedText(rule: NumberRule, integer: boolean): string {
  if (rule.allowed) return `one of ${rule.allowed.join(', ')}`;
  const kind = integer ? 'an integer' : 'a number';
  const lo = rule.min === undefined ? '' : `${rule.minExclusive ? '>' : '≥'} ${rule.min}`;
  const hi = rule.max === undefined ? '' : `≤ ${rule.max}`;
  return [kind, lo, lo && hi ? 'and' : '', hi].filter(Boolean).join(' ');
}

function parseFlag(flag: string, raw: unknown, rule: NumberRule, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const s = typeof raw === 'string' ? raw : String(raw);
  const n = Number(s);
  const ok = typeof raw === 'string' && (integer ? INT_RE : NUMBER_RE).test(s) && (integer ? Number.isSafeInteger(n) : Number.isFinite(n))
    && (rule.allowed ? rule.allowed.includes(n) : (rule.min === undefined || (rule.minExclusive ? n > rule.min : n >= rule.min)) && (rule.max === undefined || n <= rule.max));
  if (!ok) throw new UsageError(`--${flag} must be ${allowedText(rule, integer)} (decimal), got '${s}'`, flag);
  return n;
}

/**
 * Parses an integer flag strictly: decimal digits only (`4`, `-3`), so `0x4`, `1e3`, ` 4` and `4.0`
 * are refused, and the value must satisfy `rule`. Returns undefined when the flag is absent;
 * throws a {@link UsageError} naming the flag and the allowed values otherwise.
 *
 * @example
 * ```ts
 * const bits = intFlag('bits', values.bits, { allowed: [4, 8] }) ?? 4;
 * const repeat = intFlag('repeat', values.repeat, { min: 1 }) ?? 1;
 * ```
 */
export function intFlag(flag: string, raw: unknown, rule: NumberRule = {}): number | undefined {
  return parseFlag(flag, raw, rule, true);
}

/**
 * Parses a real-number flag strictly: decimal with an optional exponent (`0.01`, `1e-2`); no hex,
 * spaces, `Infinity` or `NaN`. Returns undefined when the flag is absent; throws a
 * {@link UsageError} naming the flag and the allowed range otherwise.
 *
 * @example
 * ```ts
 * const lr = numberFlag('lr', values.lr, { min: 0, minExclusive: true });
 * ```
 */
export function numberFlag(flag: string, raw: unknown, rule: NumberRule = {}): number | undefined {
  return parseFlag(flag, raw, rule, false);
}
