// Errors that escape a command as raw Node errors (fs errno errors, allocation RangeErrors) become
// LeanformerErrors here, so `leanformer` never prints `unexpected error:` for a problem the user can fix.
// Commands validate at the source where they can; this is the net under them.
import { LeanformerError } from '@leanformer/core';

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or folder',
  EISDIR: 'is a folder; expected a file',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'name too long',
};

/**
 * The LeanformerError for a raw error a command let through, or undefined when it is not one we know:
 * an errno error (`code` + `path`) becomes IO_ERROR naming the path; `Invalid array length`,
 * `Invalid typed array length` and failed buffer allocations become SIZE_LIMIT.
 */
export function fromNodeError(e: unknown): LeanformerError | undefined {
  if (!(e instanceof Error)) return undefined;
  const { code, path, dest, syscall } = e as NodeJS.ErrnoException & { dest?: string };
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && (path !== undefined || code in ERRNO_TEXT)) {
    const where = [path, dest].filter(Boolean).join(' → ');
    return new LeanformerError('IO_ERROR', `${where ? `${where}: ` : ''}${ERRNO_TEXT[code] ?? code.toLowerCase()} (${code}${syscall ? ` in ${syscall}` : ''})`, { cause: e, details: { path, errno: code } });
  }
  if (e instanceof RangeError && /Invalid (typed )?array length|Array buffer allocation failed/.test(e.message)) {
    return new LeanformerError('SIZE_LIMIT', `a tensor or buffer is too large to allocate (${e.message}); use smaller sizes`, { cause: e });
  }
  return undefined;
}
