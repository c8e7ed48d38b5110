/**
 * Opens the store tagtrust-server runs on: PostgreSQL when a database URL is given (several
 * replicas may share it; migrations are applied on open, guarded), else the embedded level
 * database in the data directory (one process only).
 */
import { join } from 'node:path';
import { InvalidInputError, UsageError } from '@tagtrust/shared';
import { LevelStore } from './level-store.js';
import { isLocked } from './durable-level.js';
import type { StorageHealth } from './durable-level.js';
import { PgStore } from './pg-store.js';
import type { MetadataStore } from './store.js';

export interface OpenedStore {
  store: MetadataStore;
  /** The raw entries `GET /_admin/backup` streams; on PostgreSQL it refuses (use pg_dump). */
  backupEntries: () => AsyncIterable<[string, string]>;
  /** Where the metadata is, for the start-up line (never credentials). */
  location: string;
  /** Whether the store accepts writes (level refuses them after a failed write until it reopened). */
  health: () => StorageHealth;
}

export async function openStore(dataDir: string, databaseUrl: string | undefined, log?: (line: string) => void): Promise<OpenedStore> {
  if (databaseUrl !== undefined) {
    const location = databaseLocation(databaseUrl);
    let store: PgStore;
    try {
      store = await PgStore.open(databaseUrl);
    } catch (err) {
      throw new UsageError(`cannot open the PostgreSQL database ${location}: ${(err as Error).message}`, { cause: err });
    }
    return {
      store,
      location: `PostgreSQL ${location}`,
      // A database that is down answers 503 per request (http/errors.ts); there is no write fault to remember.
      health: () => ({ writable: true }),
      backupEntries: () => {
        throw new InvalidInputError('this server keeps its metadata in PostgreSQL: back up the database with pg_dump (docs/operations.md, "Several replicas on PostgreSQL")');
      },
    };
  }
  try {
    const store = await LevelStore.open(join(dataDir, 'db'), { log });
    return { store, location: dataDir, backupEntries: () => store.entries(), health: () => store.health() };
  } catch (err) {
    if (isLocked(err)) {
      throw new UsageError(`the database in ${dataDir} is in use by another tagtrust-server process: stop it, or use another --data directory`, { cause: err });
    }
    throw err;
  }
}

/**
 * `postgres://host:port/database` of a database URL, without user, password or parameters.
 * @throws UsageError when it is not a postgres:// or postgresql:// URL
 */
export function databaseLocation(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError('the database URL is not a URL: use postgres://USER:PASSWORD@HOST:PORT/DATABASE');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(`the database URL must start with postgres:// (not ${parsed.protocol}//)`);
  }
  return `postgres://${parsed.host}${parsed.pathname}`;
}
