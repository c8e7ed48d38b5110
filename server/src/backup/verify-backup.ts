/**
 * `tagtrust-server verify-backup FILE`: checks every collection of a backup the way a puller
 * would. The backup's metadata is served from memory on 127.0.0.1 (an ephemeral port, only for
 * the check) and the TUF client (`Puller`, with a fresh home, starting from each collection's root
 * v1 in the backup and walking every root rotation) updates each collection and lists its tags. A collection
 * passes when root -> timestamp -> snapshot -> targets and every delegation verify.
 * Timestamps are checked for expiry too: verify a backup within the timestamp lifetime (6 h by
 * default) of taking it; an older backup reports expired timestamps (the server re-signs them once
 * the backup is restored).
 */
import { backupEntries, checkBackupFile } from './backup-file.js';
import { verifyCollections } from './verify-collections.js';
import type { CollectionCheck } from './verify-collections.js';

export type { CollectionCheck } from './verify-collections.js';

const SEP = '\u0000';
const pad = (n: number) => String(n).padStart(12, '0');

export interface BackupCheck {
  created: string;
  collections: CollectionCheck[];
}

/** @throws InvalidInputError for a damaged file (checkBackupFile) */
export async function verifyBackup(file: string): Promise<BackupCheck> {
  const { created } = await checkBackupFile(file);
  const files = new Map<string, string>();
  const latest = new Map<string, number>();
  const guns: string[] = [];
  for await (const [key, value] of backupEntries(file)) {
    if (key.startsWith('!files!')) files.set(key.slice('!files!'.length), value);
    else if (key.startsWith('!latest!')) latest.set(key.slice('!latest!'.length), Number(value));
    else if (key.startsWith('!collections!')) guns.push(key.slice('!collections!'.length));
  }
  const collections = await verifyCollections(guns, async (gun, role, version) => {
    const wanted = version ?? latest.get(`${gun}${SEP}${role}`);
    return wanted === undefined ? undefined : files.get(`${gun}${SEP}${role}${SEP}${pad(wanted)}`);
  });
  return { created, collections };
}
