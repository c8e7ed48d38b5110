/**
 * The tag transparency logs' part of the PostgreSQL store (tag-log/tag-log.ts): tables `log_leaves`
 * (append-only leaves), `log_nodes` (complete subtree hashes) and `log_tags` (last recorded digest
 * per tag), schema in pg-migrations.ts. Reads take the pool; `appendLog` runs inside the commit's
 * transaction, which holds the collection's advisory lock (pg-store.ts), and reads the log's size
 * there, because another replica may have appended meanwhile.
 */
import type pg from 'pg';
import type { PoolClient } from 'pg';
import type { LogAppend } from './store.js';
import { StaleVersionError } from './store.js';

type Queryable = pg.Pool | PoolClient;

export async function logSize(db: Queryable, gun: string): Promise<number> {
  const { rows } = await db.query<{ size: string }>('SELECT coalesce(max(idx) + 1, 0) AS size FROM log_leaves WHERE gun = $1', [gun]);
  return Number(rows[0]!.size);
}

export async function logNodes(db: Queryable, gun: string, ids: { level: number; index: number }[]): Promise<(string | undefined)[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ level: number; idx: string; hash: string }>(
    'SELECT level, idx, hash FROM log_nodes WHERE gun = $1 AND (level, idx) IN (SELECT * FROM unnest($2::int[], $3::bigint[]))',
    [gun, ids.map((id) => id.level), ids.map((id) => id.index)],
  );
  const found = new Map(rows.map((r) => [`${r.level}:${r.idx}`, r.hash]));
  return ids.map((id) => found.get(`${id.level}:${id.index}`));
}

export async function logLeaves(db: Queryable, gun: string, start: number, end: number): Promise<string[]> {
  if (end <= start) return [];
  const { rows } = await db.query<{ leaf: string }>('SELECT leaf FROM log_leaves WHERE gun = $1 AND idx >= $2 AND idx < $3 ORDER BY idx', [gun, start, end]);
  return rows.map((r) => r.leaf);
}

export async function loggedDigests(db: Queryable, gun: string, tags: string[]): Promise<(string | undefined)[]> {
  if (tags.length === 0) return [];
  const { rows } = await db.query<{ tag: string; digest: string }>('SELECT tag, digest FROM log_tags WHERE gun = $1 AND tag = ANY($2)', [gun, tags]);
  const found = new Map(rows.map((r) => [r.tag, r.digest]));
  return tags.map((tag) => found.get(tag));
}

/** Appends to the tag log after checking it starts at the log's size; inside `gun`'s transaction. */
export async function appendLog(client: PoolClient, gun: string, append: LogAppend): Promise<void> {
  const size = await logSize(client, gun);
  if (size !== append.start) throw new StaleVersionError('log', append.start, size);
  if (append.leaves.length > 0) {
    await client.query('INSERT INTO log_leaves (gun, idx, leaf) SELECT $1, * FROM unnest($2::bigint[], $3::text[])', [gun, append.leaves.map((_, i) => append.start + i), append.leaves]);
  }
  if (append.nodes.length > 0) {
    await client.query('INSERT INTO log_nodes (gun, level, idx, hash) SELECT $1, * FROM unnest($2::int[], $3::bigint[], $4::text[])', [
      gun,
      append.nodes.map((n) => n.level),
      append.nodes.map((n) => n.index),
      append.nodes.map((n) => n.hash),
    ]);
  }
  for (const [tag, digest] of Object.entries(append.tags)) {
    if (digest === null) await client.query('DELETE FROM log_tags WHERE gun = $1 AND tag = $2', [gun, tag]);
    else await client.query('INSERT INTO log_tags (gun, tag, digest) VALUES ($1, $2, $3) ON CONFLICT (gun, tag) DO UPDATE SET digest = EXCLUDED.digest', [gun, tag, digest]);
  }
}
