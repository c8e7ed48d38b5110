/**
 * `tagtrust-server restore`: writes a checked backup into a data directory's level database.
 * The target database must be empty (or absent) unless forced; a database a running server holds
 * is never touched (level's lock refuses the open).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { UsageError } from '@tagtrust/shared';
import { backupEntries, checkBackupFile } from './backup-file.js';
import type { BackupSummary } from './backup-file.js';

const BATCH = 1000;

/**
 * @throws InvalidInputError for a damaged backup, UsageError for a non-empty target without
 * `force` or a database in use
 */
export async function restoreBackup(file: string, dataDir: string, force: boolean): Promise<BackupSummary> {
  const summary = await checkBackupFile(file);
  const location = join(dataDir, 'db');
  const db = new Level<string, string>(location, { valueEncoding: 'utf8' });
  try {
    await db.open();
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED' || (err as { code?: string }).code === 'LEVEL_LOCKED') {
      throw new UsageError(`the database in ${dataDir} is in use by a running tagtrust-server: stop it before restoring into it`, { cause: err });
    }
    throw err;
  }
  try {
    const empty = (await db.keys({ limit: 1 }).all()).length === 0;
    if (!empty && !force) {
      throw new UsageError(`${location} already holds data: restore into an empty --data directory, or pass --force to replace it`);
    }
    if (!empty) await db.clear();
    let batch = db.batch();
    for await (const [key, value] of backupEntries(file)) {
      batch.put(key, value);
      if (batch.length >= BATCH) {
        await batch.write();
        batch = db.batch();
      }
    }
    await batch.write();
  } finally {
    await db.close();
  }
  return summary;
}

/** Whether `dataDir` holds the master key file a restored database needs (or it comes from the environment). */
export async function hasMasterKeyFile(dataDir: string): Promise<boolean> {
  try {
    return (await readdir(dataDir)).includes('master.key');
  } catch {
    return false;
  }
}
