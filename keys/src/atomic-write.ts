/**
 * Atomic file replacement: readers see either the old file or the complete new one, never a partial
 * write, even if the process or machine dies mid-way.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Default mode for files written atomically: owner read/write only (key files, metadata caches). */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Writes `data` to `path` atomically: writes a temporary file in the same directory with `mode`
 * (default 0o600, applied exactly regardless of umask), fsyncs it, renames it over `path`, then fsyncs
 * the directory so the rename itself is durable. On failure the temporary file is removed.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number = PRIVATE_FILE_MODE,
): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    // 'wx': fail rather than follow a symlink or clobber a file someone placed at the temp name.
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    renamed = true;
    await syncDirectory(dir);
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

/** fsyncs a directory so a rename in it survives a crash; a no-op where directories cannot be synced. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms and file systems (Windows, some network mounts) cannot fsync a directory.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
