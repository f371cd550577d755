/**
 * Stable error codes. Callers switch on `code`; messages may improve over time.
 * Add codes here rather than inventing strings at throw sites.
 */
export type LeanformerErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_DTYPE'
  | 'SHAPE_MISMATCH'
  | 'INVALID_GRAPH'
  | 'UNKNOWN_OP'
  | 'SHAPE_INFERENCE'
  | 'PASS_FAILED'
  | 'DECODE_ERROR'
  /** A file of ours fails its integrity check (checksum mismatch, inconsistent layout). */
  | 'CORRUPT_FILE'
  | 'ENCODE_ERROR'
  | 'EXTERNAL_DATA'
  | 'UNSAFE_PATH'
  | 'SIZE_LIMIT'
  | 'IO_ERROR'
  | 'OUTPUT_IS_INPUT'
  | 'BACKEND_UNAVAILABLE'
  | 'EXECUTION_FAILED'
  | 'NOT_SUPPORTED'
  | 'LOWERING_FAILED';

/**
 * The one error type leanformer throws on bad input or unsupported requests.
 *
 * @example
 * ```ts
 * try { decodeModel(bytes) } catch (e) {
 *   if (e instanceof LeanformerError && e.code === 'DECODE_ERROR') console.error(e.message);
 * }
 * ```
 */
export class LeanformerError extends Error {
  override readonly name = 'LeanformerError';
  readonly code: LeanformerErrorCode;
  /** Structured facts about the failure (argument name, op, allowed values…). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: LeanformerErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** True when `e` is a LeanformerError, optionally with the given code. */
export function isLeanformerError(e: unknown, code?: LeanformerErrorCode): e is LeanformerError {
  return e instanceof LeanformerError && (code === undefined || e.code === code);
}

/** Throws `LeanformerError(code, message)` unless `cond` holds. */
export function check(cond: unknown, code: LeanformerErrorCode, message: string | (() => string)): asserts cond {
  if (!cond) throw new LeanformerError(code, typeof message === 'function' ? message() : message);
}
