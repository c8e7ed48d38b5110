/**
 * The backup file: newline-delimited JSON, written while the server runs.
 *
 *   {"format":"tagtrust-backup","version":1,"created":"<ISO time>"}
 *   ["<level key>","<value>"]          one line per database entry, in key order
 *   {"end":true,"entries":N,"sha256":"<hex of every entry line, newlines included>"}
 *
 * Rules:
 * - The entries come from one level iterator, which reads one implicit snapshot of the database
 *   (the state at the moment the backup request arrived): a consistent cut across all collections,
 *   taken while publishes go on.
 * - A file without the trailer, with another count or checksum, or any malformed line is refused
 *   whole (`checkBackupFile`) before anything is restored from it.
 * - It holds metadata, sealed online keys, token digests, audit trails and staged changes; not the
 *   master key (online keys stay sealed) nor any token secret. Backups are written 0600.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InvalidInputError } from '@tagtrust/shared';

export const BACKUP_FORMAT = 'tagtrust-backup';

export interface BackupSummary {
  created: string;
  entries: number;
}

/** The lines of a backup of `entries` (each ending in a newline). */
export async function* backupLines(entries: AsyncIterable<[string, string]>, created: Date): AsyncGenerator<string> {
  yield `${JSON.stringify({ format: BACKUP_FORMAT, version: 1, created: created.toISOString() })}\n`;
  const hash = createHash('sha256');
  let count = 0;
  for await (const [key, value] of entries) {
    const line = `${JSON.stringify([key, value])}\n`;
    hash.update(line);
    count += 1;
    yield line;
  }
  yield `${JSON.stringify({ end: true, entries: count, sha256: hash.digest('hex') })}\n`;
}

/**
 * Reads a backup file whole and checks its header, every line, the count and the checksum.
 * @throws InvalidInputError naming what is wrong with the file
 */
export async function checkBackupFile(file: string): Promise<BackupSummary> {
  let summary: BackupSummary | undefined;
  for await (const item of readBackup(file)) if (!Array.isArray(item)) summary = item;
  return summary!;
}

/**
 * The entries of a backup file, in order. Check the file first (`checkBackupFile`): a damaged file
 * is only noticed at its end, after entries were yielded.
 */
export async function* backupEntries(file: string): AsyncGenerator<[string, string]> {
  for await (const item of readBackup(file)) if (Array.isArray(item)) yield item;
}

async function* readBackup(file: string): AsyncGenerator<[string, string] | BackupSummary> {
  const damaged = (why: string) => new InvalidInputError(`${file} is not a usable tagtrust backup: ${why}; take a new backup with \`tagtrust-server backup\``);
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  const hash = createHash('sha256');
  let created: string | undefined;
  let count = 0;
  let trailer: { end?: unknown; entries?: unknown; sha256?: unknown } | undefined;
  try {
    for await (const line of lines) {
      if (trailer) throw damaged('there is data after its end');
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw damaged(`line ${count + 2} is not JSON`);
      }
      if (created === undefined) {
        const header = parsed as { format?: unknown; version?: unknown; created?: unknown };
        if (header?.format !== BACKUP_FORMAT || header.version !== 1 || typeof header.created !== 'string') throw damaged('it does not start with a tagtrust-backup v1 header');
        created = header.created;
      } else if (Array.isArray(parsed)) {
        if (parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') throw damaged(`line ${count + 2} is not a [key, value] entry`);
        hash.update(`${line}\n`);
        count += 1;
        yield parsed as [string, string];
      } else {
        trailer = parsed as typeof trailer;
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InvalidInputError(`backup file ${file} does not exist`);
    throw err;
  }
  if (created === undefined) throw damaged('it is empty');
  if (trailer?.end !== true) throw damaged('it is cut short (no end record): the backup did not finish');
  if (trailer.entries !== count || trailer.sha256 !== hash.digest('hex')) throw damaged('its entries do not match the count and checksum of its end record');
  yield { created, entries: count };
}
