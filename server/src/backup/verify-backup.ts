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
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupEntries, checkBackupFile } from './backup-file.js';

const SEP = '\u0000';
const pad = (n: number) => String(n).padStart(12, '0');
/** `/v2/<gun>/_trust/tuf/[<N>.]<role>.json` */
const METADATA_PATH = /^\/v2\/(.+)\/_trust\/tuf\/(?:([1-9]\d{0,11})\.)?(.+)\.json$/;

export interface CollectionCheck {
  gun: string;
  /** Number of verified signed tags, when it passed. */
  tags?: number;
  /** One line: why it failed. */
  error?: string;
}

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
  const listener = createServer((req, res) => {
    const match = req.method === 'GET' ? METADATA_PATH.exec(decodeURIComponent((req.url ?? '').split('?', 1)[0]!)) : null;
    const [gun, role] = [match?.[1] ?? '', match?.[3] ?? ''];
    const version = match?.[2] === undefined ? latest.get(`${gun}${SEP}${role}`) : Number(match[2]);
    const text = version === undefined ? undefined : files.get(`${gun}${SEP}${role}${SEP}${pad(version)}`);
    if (text === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"not in the backup"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const home = await mkdtemp(join(tmpdir(), 'tagtrust-verify-backup-'));
  try {
    const { Puller } = await import('@tagtrust/client');
    const collections: CollectionCheck[] = [];
    for (const gun of guns) {
      // A delegated role that fails verification is only a warning to a puller (its tags are left
      // out); here it fails the collection.
      const problems: string[] = [];
      const firstRoot = files.get(`${gun}${SEP}root${SEP}${pad(1)}`);
      if (firstRoot === undefined) {
        collections.push({ gun, error: 'the backup has no root v1 for it' });
        continue;
      }
      const rootFile = join(home, `root-${collections.length}.json`);
      await writeFile(rootFile, firstRoot);
      const server = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
      const puller = new Puller({ server, home, rootFile, warn: (message) => problems.push(message) });
      try {
        const tags = (await puller.list(gun)).length;
        collections.push(problems.length === 0 ? { gun, tags } : { gun, error: problems.join('; ') });
      } catch (err) {
        collections.push({ gun, error: (err as Error).message });
      }
    }
    return { created, collections };
  } finally {
    listener.closeAllConnections();
    await new Promise<void>((done) => listener.close(() => done()));
    await rm(home, { recursive: true, force: true });
  }
}
