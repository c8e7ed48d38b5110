/**
 * The PostgreSQL schema of PgStore, as numbered migrations applied in order, each in its own
 * transaction together with its row in `tagtrust_schema`. Applying is guarded by an advisory lock,
 * so replicas starting together migrate once; a database migrated by a newer tagtrust is refused.
 * Never edit a released migration: add the next one.
 */
import type { PoolClient } from 'pg';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'metadata files, latest versions, server keys, audit trail, tokens, staged changes, collections',
    sql: `
      CREATE TABLE files (
        gun text NOT NULL, role text NOT NULL, version integer NOT NULL CHECK (version > 0), body text NOT NULL,
        PRIMARY KEY (gun, role, version));
      CREATE TABLE latest (
        gun text NOT NULL, role text NOT NULL, version integer NOT NULL CHECK (version > 0),
        PRIMARY KEY (gun, role));
      CREATE TABLE server_keys (
        gun text NOT NULL, role text NOT NULL CHECK (role IN ('snapshot', 'timestamp')),
        state text NOT NULL CHECK (state IN ('active', 'pending')), sealed text NOT NULL,
        PRIMARY KEY (gun, role, state));
      CREATE TABLE audit (
        gun text NOT NULL, seq integer NOT NULL CHECK (seq > 0), record text NOT NULL,
        PRIMARY KEY (gun, seq));
      CREATE TABLE tokens (
        name text PRIMARY KEY, sha256 text NOT NULL UNIQUE, record text NOT NULL);
      CREATE TABLE staged (
        gun text NOT NULL, id text NOT NULL, body text NOT NULL,
        PRIMARY KEY (gun, id));
      CREATE TABLE collections (
        gun text PRIMARY KEY, created timestamptz NOT NULL DEFAULT now());
    `,
  },
  {
    version: 2,
    description: 'tag transparency log: leaves, complete subtree hashes, last logged digest per tag',
    sql: `
      CREATE TABLE log_leaves (
        gun text NOT NULL, idx bigint NOT NULL CHECK (idx >= 0), leaf text NOT NULL,
        PRIMARY KEY (gun, idx));
      CREATE TABLE log_nodes (
        gun text NOT NULL, level integer NOT NULL, idx bigint NOT NULL, hash text NOT NULL,
        PRIMARY KEY (gun, level, idx));
      CREATE TABLE log_tags (
        gun text NOT NULL, tag text NOT NULL, digest text NOT NULL,
        PRIMARY KEY (gun, tag));
    `,
  },
  {
    version: 3,
    description: 'the last use of each token',
    sql: 'ALTER TABLE tokens ADD COLUMN last_used text;',
  },
];

/** The schema version this tagtrust writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Advisory lock key of migrations (any constant shared by all replicas). */
const MIGRATION_LOCK = 7_362_811;

/** The schema version of the database (0: empty). */
export async function schemaVersion(client: PoolClient): Promise<number> {
  const exists = await client.query<{ exists: boolean }>("SELECT to_regclass('tagtrust_schema') IS NOT NULL AS exists");
  if (!exists.rows[0]!.exists) return 0;
  const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM tagtrust_schema');
  return rows[0]!.version ?? 0;
}

/**
 * Applies the migrations the database lacks, up to `target` (default: all).
 * @returns the versions applied
 * @throws Error when the database is newer than this tagtrust
 */
export async function migrate(client: PoolClient, target = SCHEMA_VERSION): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query('CREATE TABLE IF NOT EXISTS tagtrust_schema (version integer PRIMARY KEY, description text NOT NULL, applied timestamptz NOT NULL DEFAULT now())');
    const current = await schemaVersion(client);
    if (current > SCHEMA_VERSION) {
      throw new Error(`the database has tagtrust schema v${current}, newer than this tagtrust-server knows (v${SCHEMA_VERSION}): upgrade tagtrust-server`);
    }
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= current || migration.version > target) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO tagtrust_schema (version, description) VALUES ($1, $2)', [migration.version, migration.description]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      applied.push(migration.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
