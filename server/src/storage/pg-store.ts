/**
 * MetadataStore on PostgreSQL, for several tagtrust-server replicas on one database
 * (TAGTRUST_DATABASE_URL). Schema: pg-migrations.ts.
 *
 * Rules (besides the contract in store.ts):
 * - Every write is one transaction. Writes that read before writing (the compare-and-swap of
 *   `commit`, audit sequence numbers, token names, key creation) first take a transaction-scoped
 *   advisory lock on their collection (or on the token table), so writers on any replica are
 *   serialised per collection and a stale writer sees the other's commit.
 * - Nothing is remembered between calls: another replica may have written meanwhile. A stored
 *   version is never overwritten (primary key): two different files of one version cannot exist.
 * - A failed transaction is rolled back and its connection released; a broken connection is dropped
 *   by the pool and the next call opens a new one.
 * - Every write to a collection sends `NOTIFY tagtrust_changed, '<gun>'` in its transaction, so the
 *   other replicas hear of it when (and only if) it commits (replication/pg-change-listener.ts).
 */
import pg from 'pg';
import type { PoolClient } from 'pg';
import type { SealedKey } from '@tagtrust/keys';
import type { AuditEntry, AuditRecord, Change, MetadataStore, ServerKeyRole, StoredFile, TokenRecord } from './store.js';
import { SERVER_AUDIT, StaleKeyError, StaleVersionError, TokenExistsError } from './store.js';
import { migrate, schemaVersion, SCHEMA_VERSION } from './pg-migrations.js';
import { CHANGE_CHANNEL, listenForChanges } from '../replication/pg-change-listener.js';
import type { ChangeHandlers } from '../replication/pg-change-listener.js';
import type { SharedStore } from '../replication/shared-store.js';
import { appendLog, logLeaves, logNodes, logSize, loggedDigests } from './pg-tag-log.js';

/** Advisory lock scope of the token table: no collection name contains a space (nor can text hold NUL). */
const TOKENS = ' tokens';

export interface PgStoreOptions {
  /** Apply missing migrations on open (default true); false refuses a database that is not current. */
  migrate?: boolean;
  /** Most connections this replica opens (default 10). */
  maxConnections?: number;
}

export class PgStore implements MetadataStore, SharedStore {
  /**
   * Connections that only hold collection locks (withCollectionLock), apart from `pool`: a task holding
   * a lock takes connections from `pool`, so lock waiters must never be able to use them all up.
   */
  private readonly lockPool: pg.Pool;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {
    this.lockPool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    this.lockPool.on('error', () => {});
  }

  /**
   * Connects to `url` (postgres://…), migrating the schema unless told not to.
   * @throws Error naming the database problem (unreachable, not migrated, newer schema)
   */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
    const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, connectionTimeoutMillis: 10_000 });
    // An idle connection that breaks (database restarted) is reported here; the pool drops it.
    pool.on('error', () => {});
    try {
      const client = await pool.connect();
      try {
        if (options.migrate ?? true) await migrate(client);
        else if ((await schemaVersion(client)) !== SCHEMA_VERSION) throw new Error(`the database is not at tagtrust schema v${SCHEMA_VERSION}: run \`tagtrust-server migrate\``);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PgStore(pool, url);
  }

  async getLatest(gun: string, role: string): Promise<StoredFile | undefined> {
    const { rows } = await this.pool.query<{ version: number; body: string }>(
      'SELECT f.version, f.body FROM latest l JOIN files f USING (gun, role, version) WHERE l.gun = $1 AND l.role = $2',
      [gun, role],
    );
    return rows[0] ? { role, version: rows[0].version, text: rows[0].body } : undefined;
  }

  async getVersion(gun: string, role: string, version: number): Promise<StoredFile | undefined> {
    const { rows } = await this.pool.query<{ body: string }>('SELECT body FROM files WHERE gun = $1 AND role = $2 AND version = $3', [gun, role, version]);
    return rows[0] ? { role, version, text: rows[0].body } : undefined;
  }

  /** Each role's latest version, straight from the database (one indexed read). */
  async latestVersions(gun: string): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ role: string; version: number }>('SELECT role, version FROM latest WHERE gun = $1', [gun]);
    return new Map(rows.map((r) => [r.role, r.version]));
  }

  /** Tells `handlers` of every collection another writer (on any replica) changes. @returns stop */
  watchChanges(handlers: ChangeHandlers): () => Promise<void> {
    return listenForChanges(this.url, handlers);
  }

  commit(change: Change): Promise<void> {
    return this.transaction(change.gun, async (client) => {
      const roles = Object.keys(change.expectedLatest);
      const { rows } = await client.query<{ role: string; version: number }>('SELECT role, version FROM latest WHERE gun = $1 AND role = ANY($2)', [change.gun, roles]);
      const current = new Map(rows.map((r) => [r.role, r.version]));
      for (const [role, expected] of Object.entries(change.expectedLatest)) {
        const latest = current.get(role) ?? 0;
        if (latest !== expected) throw new StaleVersionError(role, expected, latest);
      }
      for (const [role, keyId] of Object.entries(change.activateKeys ?? {}) as [ServerKeyRole, string][]) {
        const pending = await this.serverKey(client, change.gun, role, 'pending');
        if (pending?.keyid !== keyId) throw new StaleKeyError(role, keyId);
        await client.query("DELETE FROM server_keys WHERE gun = $1 AND role = $2 AND state = 'active'", [change.gun, role]);
        await client.query("UPDATE server_keys SET state = 'active' WHERE gun = $1 AND role = $2 AND state = 'pending'", [change.gun, role]);
      }
      for (const file of change.files) {
        await client.query('INSERT INTO files (gun, role, version, body) VALUES ($1, $2, $3, $4)', [change.gun, file.role, file.version, file.text]);
        await client.query(
          'INSERT INTO latest (gun, role, version) VALUES ($1, $2, $3) ON CONFLICT (gun, role) DO UPDATE SET version = EXCLUDED.version',
          [change.gun, file.role, file.version],
        );
      }
      if (change.deletePending?.length) await client.query('DELETE FROM staged WHERE gun = $1 AND id = ANY($2)', [change.gun, change.deletePending]);
      if (change.expectedLatest.root === 0) await client.query('INSERT INTO collections (gun) VALUES ($1) ON CONFLICT DO NOTHING', [change.gun]);
      if (change.log) await appendLog(client, change.gun, change.log);
      await this.writeAudit(client, change.gun, change.audit);
      await notifyChanged(client, change.gun);
    });
  }

  async getServerKey(gun: string, role: ServerKeyRole): Promise<SealedKey | undefined> {
    return this.serverKey(this.pool, gun, role, 'active');
  }

  putServerKeyIfAbsent(gun: string, role: ServerKeyRole, key: SealedKey): Promise<SealedKey> {
    return this.transaction(gun, async (client) => {
      const existing = await this.serverKey(client, gun, role, 'active');
      if (existing) return existing;
      await client.query("INSERT INTO server_keys (gun, role, state, sealed) VALUES ($1, $2, 'active', $3)", [gun, role, JSON.stringify(key)]);
      await notifyChanged(client, gun);
      return key;
    });
  }

  async getPendingServerKey(gun: string, role: ServerKeyRole): Promise<SealedKey | undefined> {
    return this.serverKey(this.pool, gun, role, 'pending');
  }

  putPendingServerKey(gun: string, role: ServerKeyRole, key: SealedKey, audit: AuditEntry): Promise<void> {
    return this.transaction(gun, async (client) => {
      await client.query(
        "INSERT INTO server_keys (gun, role, state, sealed) VALUES ($1, $2, 'pending', $3) ON CONFLICT (gun, role, state) DO UPDATE SET sealed = EXCLUDED.sealed",
        [gun, role, JSON.stringify(key)],
      );
      await this.writeAudit(client, gun, audit);
      await notifyChanged(client, gun);
    });
  }

  deleteCollection(gun: string, audit: AuditEntry): Promise<boolean> {
    return this.transaction(gun, async (client) => {
      const { rowCount } = await client.query('DELETE FROM collections WHERE gun = $1', [gun]);
      if (!rowCount) return false;
      for (const table of ['files', 'latest', 'staged', 'server_keys']) await client.query(`DELETE FROM ${table} WHERE gun = $1`, [gun]);
      await this.writeAudit(client, gun, audit);
      await notifyChanged(client, gun);
      return true;
    });
  }

  async listAudit(gun: string, after: number, limit: number): Promise<AuditRecord[]> {
    const { rows } = await this.pool.query<{ record: string }>('SELECT record FROM audit WHERE gun = $1 AND seq > $2 ORDER BY seq LIMIT $3', [gun, after, limit]);
    return rows.map((r) => JSON.parse(r.record) as AuditRecord);
  }

  putToken(token: TokenRecord, audit: AuditEntry): Promise<void> {
    return this.transaction(TOKENS, async (client) => {
      const { rowCount } = await client.query('SELECT 1 FROM tokens WHERE name = $1', [token.name]);
      if (rowCount) throw new TokenExistsError(token.name);
      await client.query('INSERT INTO tokens (name, sha256, record) VALUES ($1, $2, $3)', [token.name, token.sha256, JSON.stringify(token)]);
      await this.writeAudit(client, SERVER_AUDIT, audit);
    });
  }

  /** Not cached: a token revoked through any replica is refused by every replica at once. */
  async getTokenBySha256(sha256: string): Promise<TokenRecord | undefined> {
    const { rows } = await this.pool.query<{ record: string }>('SELECT record FROM tokens WHERE sha256 = $1', [sha256]);
    return rows[0] ? (JSON.parse(rows[0].record) as TokenRecord) : undefined;
  }

  async listTokens(): Promise<TokenRecord[]> {
    const { rows } = await this.pool.query<{ record: string; last_used: string | null }>('SELECT record, last_used FROM tokens ORDER BY name COLLATE "C"');
    return rows.map((r) => ({ ...(JSON.parse(r.record) as TokenRecord), ...(r.last_used === null ? {} : { lastUsed: r.last_used }) }));
  }

  /** A token deleted meanwhile is not recreated (the update finds no row). */
  async recordTokenUse(name: string, time: string): Promise<void> {
    await this.pool.query('UPDATE tokens SET last_used = $2 WHERE name = $1', [name, time]);
  }

  deleteToken(name: string, audit: AuditEntry): Promise<boolean> {
    return this.transaction(TOKENS, async (client) => {
      const { rowCount } = await client.query('DELETE FROM tokens WHERE name = $1', [name]);
      if (!rowCount) return false;
      await this.writeAudit(client, SERVER_AUDIT, audit);
      return true;
    });
  }

  async putPending(gun: string, id: string, text: string): Promise<void> {
    await this.pool.query('INSERT INTO staged (gun, id, body) VALUES ($1, $2, $3) ON CONFLICT (gun, id) DO UPDATE SET body = EXCLUDED.body', [gun, id, text]);
  }

  async getPending(gun: string, id: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ body: string }>('SELECT body FROM staged WHERE gun = $1 AND id = $2', [gun, id]);
    return rows[0]?.body;
  }

  async listPending(gun: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ body: string }>('SELECT body FROM staged WHERE gun = $1 ORDER BY id', [gun]);
    return rows.map((r) => r.body);
  }

  async deletePending(gun: string, id: string): Promise<void> {
    await this.pool.query('DELETE FROM staged WHERE gun = $1 AND id = $2', [gun, id]);
  }

  appendAudit(gun: string, audit: AuditEntry): Promise<void> {
    return this.transaction(gun, (client) => this.writeAudit(client, gun, audit));
  }

  getLogSize(gun: string): Promise<number> {
    return logSize(this.pool, gun);
  }

  getLogNodes(gun: string, ids: { level: number; index: number }[]): Promise<(string | undefined)[]> {
    return logNodes(this.pool, gun, ids);
  }

  getLogLeaves(gun: string, start: number, end: number): Promise<string[]> {
    return logLeaves(this.pool, gun, start, end);
  }

  getLoggedDigests(gun: string, tags: string[]): Promise<(string | undefined)[]> {
    return loggedDigests(this.pool, gun, tags);
  }

  /**
   * A session advisory lock on its own connection, keyed apart from the transaction locks of writes
   * (seed 1, not 0), so a task holding it can still commit.
   */
  async withCollectionLock<T>(gun: string, task: () => Promise<T>): Promise<T> {
    const client = await this.lockPool.connect();
    let broken = false;
    // The connection sits idle while the task runs: if the database goes away meanwhile, pg reports it
    // as an 'error' event, not through a query (the lock is then gone with the session).
    const lost = () => {
      broken = true;
    };
    client.on('error', lost);
    try {
      await client.query('SELECT pg_advisory_lock(hashtextextended($1, 1))', [gun]);
      try {
        return await task();
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 1))', [gun]).catch(() => {
          broken = true;
        });
      }
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  async *listCollections(): AsyncIterable<string> {
    // Paged by name, so a 100,000-collection listing never holds every row at once.
    for (let after = ''; ; ) {
      const { rows } = await this.pool.query<{ gun: string }>('SELECT gun FROM collections WHERE gun COLLATE "C" > $1 ORDER BY gun COLLATE "C" LIMIT 1000', [after]);
      for (const row of rows) yield row.gun;
      if (rows.length < 1000) return;
      after = rows[rows.length - 1]!.gun;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.lockPool.end()]);
  }

  private async serverKey(db: pg.Pool | PoolClient, gun: string, role: ServerKeyRole, state: 'active' | 'pending'): Promise<SealedKey | undefined> {
    const { rows } = await db.query<{ sealed: string }>('SELECT sealed FROM server_keys WHERE gun = $1 AND role = $2 AND state = $3', [gun, role, state]);
    return rows[0] ? (JSON.parse(rows[0].sealed) as SealedKey) : undefined;
  }

  /** Appends the next audit record of `gun`; inside a transaction holding `gun`'s lock. */
  private async writeAudit(client: PoolClient, gun: string, entry: AuditEntry | undefined): Promise<void> {
    if (!entry) return;
    const { rows } = await client.query<{ last: number }>('SELECT coalesce(max(seq), 0) AS last FROM audit WHERE gun = $1', [gun]);
    const record: AuditRecord = { seq: rows[0]!.last + 1, gun, ...entry };
    await client.query('INSERT INTO audit (gun, seq, record) VALUES ($1, $2, $3)', [gun, record.seq, JSON.stringify(record)]);
  }

  /** Runs `task` in one transaction holding the advisory lock of `scope` (a collection, or the tokens). */
  private async transaction<T>(scope: string, task: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // Between two queries the connection is idle: losing it then is an 'error' event, not a rejection.
    const lost = () => {
      broken = true;
    };
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [scope]);
      const result = await task(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }
}

/** Queues the change notice of `gun`; PostgreSQL delivers it only if the transaction commits. */
async function notifyChanged(client: PoolClient, gun: string): Promise<void> {
  await client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, gun]);
}
