/**
 * Failures of the disk under the level database, in words an operator can act on.
 * LevelDB reports them as text ("IO error: …/000005.log: No space left on device"); Node's fs as
 * errno codes. Both are recognised here, so the server can say "no space left on device in DIR"
 * instead of "Database failed to open".
 */
import { ServerError } from '@tagtrust/shared';

/** errno code -> what it means for the data directory. */
const FAULTS: [code: string, pattern: RegExp, words: string][] = [
  ['ENOSPC', /no space left on device/i, 'no space left on device'],
  ['EDQUOT', /quota exceeded/i, 'disk quota exceeded'],
  ['EFBIG', /file too large/i, 'file size limit exceeded'],
  ['EROFS', /read-only file system/i, 'read-only file system'],
  ['EACCES', /permission denied/i, 'permission denied'],
  ['EIO', /input\/output error/i, 'input/output error'],
];

/** The storage cannot write right now; nothing of the failed change was acknowledged. HTTP 503. */
export class StorageUnavailableError extends ServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

/** "no space left on device in DIR" (or the other faults above); the error's own text when unknown. */
export function describeStorageFault(err: unknown, location: string): string {
  const texts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    texts.push(`${(e as { code?: string }).code ?? ''} ${(e as Error).message ?? String(e)}`);
  }
  const all = texts.join(' ');
  for (const [code, pattern, words] of FAULTS) {
    if (all.includes(code) || pattern.test(all)) return `${words} in ${location}`;
  }
  return `${texts.at(-1)?.trim() || 'unknown error'} (in ${location})`;
}

/** True for level's error on a read while the database is closed for a reopen (durable-level.ts). */
export function isStorageClosed(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'LEVEL_DATABASE_NOT_OPEN';
}
