/**
 * `tagtrust-server migrate-data --from DIR --to URL`: copies everything a level server stored
 * (metadata files with their history, latest pointers, sealed online keys, audit trails, tokens and
 * their last use, staged changes, tag logs) into an empty PostgreSQL database in one transaction,
 * then checks every copied collection with the TUF client. Online keys stay sealed: the replicas
 * need the same master key as the level server had.
 *
 * Rules: the level server must be stopped (level locks its directory); the target must hold no
 * collection and no token (nothing is merged or overwritten); a record kind this version does not
 * know fails the copy rather than being left behind; on any failure nothing is committed.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { UsageError } from '@tagtrust/shared';
import { verifyCollections } from '../backup/verify-collections.js';
import { databaseLocation, openStore } from './open-store.js';
import { PgStore } from './pg-store.js';

export interface MigrationSummary {
  collections: number;
  entries: number;
}

/** The level sublevel -> the row it becomes. Derived indexes (tokenHashes, logSize) are rebuilt by their tables. */
const COPY: Record<string, ((key: string[], value: string) => [string, unknown[]]) | null> = {
  files: ([gun, role, version], body) => ['INSERT INTO files (gun, role, version, body) VALUES ($1, $2, $3, $4)', [gun, role, Number(version), body]],
  latest: ([gun, role], version) => ['INSERT INTO latest (gun, role, version) VALUES ($1, $2, $3)', [gun, role, Number(version)]],
  keys: ([gun, role], sealed) => ["INSERT INTO server_keys (gun, role, state, sealed) VALUES ($1, $2, 'active', $3)", [gun, role, sealed]],
  pending: ([gun, role], sealed) => ["INSERT INTO server_keys (gun, role, state, sealed) VALUES ($1, $2, 'pending', $3)", [gun, role, sealed]],
  collections: ([gun], created) => ['INSERT INTO collections (gun, created) VALUES ($1, $2)', [gun, created]],
  audit: ([gun, seq], record) => ['INSERT INTO audit (gun, seq, record) VALUES ($1, $2, $3)', [gun, Number(seq), record]],
  tokens: ([name], record) => ['INSERT INTO tokens (name, sha256, record) VALUES ($1, $2, $3)', [name, (JSON.parse(record) as { sha256: string }).sha256, record]],
  tokenUse: ([name], time) => ['UPDATE tokens SET last_used = $2 WHERE name = $1', [name, time]],
  staged: ([gun, id], body) => ['INSERT INTO staged (gun, id, body) VALUES ($1, $2, $3)', [gun, id, body]],
  logLeaves: ([gun, index], leaf) => ['INSERT INTO log_leaves (gun, idx, leaf) VALUES ($1, $2, $3)', [gun, Number(index), leaf]],
  logNodes: ([gun, level, index], hash) => ['INSERT INTO log_nodes (gun, level, idx, hash) VALUES ($1, $2, $3, $4)', [gun, Number(level), Number(index), hash]],
  logTags: ([gun, tag], digest) => ['INSERT INTO log_tags (gun, tag, digest) VALUES ($1, $2, $3)', [gun, tag, digest]],
  tokenHashes: null,
  logSize: null,
};

/** Level iterates sublevels in name order: token uses must come after the tokens they update. */
const DEFERRED = new Set(['tokenUse']);

/**
 * @throws UsageError when DIR has no level database (or a server has it open), the target is not
 * empty, a record cannot be copied, or a copied collection fails verification
 */
export async function migrateData(from: string, to: string): Promise<MigrationSummary> {
  const location = databaseLocation(to);
  if (!(await stat(join(from, 'db')).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`--from ${from} holds no level database (no ${join(from, 'db')}): give a tagtrust-server data directory`);
  }
  // Migrates the schema (and checks the database can be reached) before anything is read.
  const target = await PgStore.open(to).catch((err: Error) => {
    throw new UsageError(`cannot open ${location}: ${err.message}`, { cause: err });
  });
  const source = await openStore(from, undefined);
  const client = new pg.Client({ connectionString: to });
  try {
    await client.connect();
    const { rows } = await client.query<{ n: string }>('SELECT (SELECT count(*) FROM collections) + (SELECT count(*) FROM tokens) + (SELECT count(*) FROM files) AS n');
    if (Number(rows[0]!.n) > 0) throw new UsageError(`${location} already holds tagtrust data: migrate-data copies into an empty database only`);
    await client.query('BEGIN');
    let entries = 0;
    const deferred: [string, unknown[]][] = [];
    for await (const [rawKey, value] of source.backupEntries()) {
      const match = /^!([^!]+)!([\s\S]*)$/.exec(rawKey);
      const copy = match ? COPY[match[1]!] : undefined;
      if (copy === undefined) throw new UsageError(`${from} holds a record this tagtrust-server cannot copy (${JSON.stringify(rawKey.split('\u0000', 1)[0])}): upgrade tagtrust-server`);
      if (copy === null) continue;
      const statement = copy(match![2]!.split('\u0000'), value);
      if (DEFERRED.has(match![1]!)) deferred.push(statement);
      else await client.query(statement[0], statement[1]);
      entries += 1;
    }
    for (const [sql, params] of deferred) await client.query(sql, params);
    await client.query('COMMIT');
    const guns: string[] = [];
    for await (const gun of target.listCollections()) guns.push(gun);
    const checks = await verifyCollections(guns, async (gun, role, version) => (version === undefined ? await target.getLatest(gun, role) : await target.getVersion(gun, role, version))?.text);
    const failed = checks.filter((check) => check.error !== undefined);
    if (failed.length > 0) {
      throw new UsageError(`copied to ${location}, but ${failed.length} collection(s) failed verification there: ${failed.map((f) => `${f.gun}: ${f.error}`).join('; ')}`);
    }
    return { collections: guns.length, entries };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end().catch(() => {});
    await source.store.close();
    await target.close();
  }
}
