/**
 * PgStore's schema migrations on a real PostgreSQL cluster: from an empty database to the current
 * version (once, also when replicas start together), a no-op when current, and refusals that say what
 * to do: a database not migrated when migrations are off, a schema newer than this tagtrust.
 */
import test from 'ava';
import pg from 'pg';
import { PgStore, SCHEMA_VERSION, migrate } from '@tagtrust/server';
import { postgres, stopStoreBackends } from './helpers/stores.js';

test.after.always(stopStoreBackends);

async function schemaRows(url: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ version: number }>('SELECT version FROM tagtrust_schema ORDER BY version')).rows.map((r) => r.version);
  } finally {
    await client.end();
  }
}

test('an empty database is migrated once, even by replicas opening it together', async (t) => {
  const url = await (await postgres()).database();
  const stores = await Promise.all([PgStore.open(url), PgStore.open(url), PgStore.open(url)]);
  await Promise.all(stores.map((s) => s.close()));
  t.deepEqual(await schemaRows(url), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  await (await PgStore.open(url)).close();
  t.deepEqual(await schemaRows(url), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1), 'a current database is left alone');
});

test('without migrations an unmigrated database is refused; a newer schema is refused', async (t) => {
  const url = await (await postgres()).database();
  await t.throwsAsync(PgStore.open(url, { migrate: false }), { message: `the database is not at tagtrust schema v${SCHEMA_VERSION}: run \`tagtrust-server migrate\`` });
  await (await PgStore.open(url)).close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("INSERT INTO tagtrust_schema (version, description) VALUES ($1, 'from the future')", [SCHEMA_VERSION + 1]);
  await client.end();
  await t.throwsAsync(PgStore.open(url), { message: /newer than this tagtrust-server knows .*: upgrade tagtrust-server/ });
});

test('a database at the previous schema version is migrated forward, keeping its data', async (t) => {
  const url = await (await postgres()).database();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // What an older tagtrust-server left: its schema, and a collection in it.
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const pooled = await pool.connect();
    await migrate(pooled, SCHEMA_VERSION - 1);
    pooled.release();
    await pool.end();
    await client.query("INSERT INTO files (gun, role, version, body) VALUES ('r.example/a', 'root', 1, 'root v1')");
    await client.query("INSERT INTO latest (gun, role, version) VALUES ('r.example/a', 'root', 1)");
  } finally {
    await client.end();
  }
  t.deepEqual(await schemaRows(url), Array.from({ length: SCHEMA_VERSION - 1 }, (_, i) => i + 1));
  const store = await PgStore.open(url);
  t.teardown(() => store.close());
  t.deepEqual(await schemaRows(url), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  t.deepEqual(await store.getLatest('r.example/a', 'root'), { role: 'root', version: 1, text: 'root v1' });
  t.is(await store.getLogSize('r.example/a'), 0);
});
