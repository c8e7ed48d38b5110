/**
 * Replicas on one PostgreSQL database, in-process, each with its own memory: what one writes the
 * others serve at once (change notices and the check of the latest versions), a renewal race has one
 * winner whose timestamp both serve, absent collections are not remembered, backups are refused
 * with the pg_dump pointer; and `tagtrust-server migrate` on an empty database.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { SCHEMA_VERSION, startServer } from '@tagtrust/server';
import type { RunningServer, ServerConfig } from '@tagtrust/server';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { ADMIN_TOKEN, secretCheckedLog, TestClock } from './helpers/server.js';
import { SERVER_CLI, api, runServerCli } from './helpers/admin.js';
import { MASTER_KEY } from './helpers/replicas.js';
import { postgres, stopStoreBackends } from './helpers/stores.js';

test.after.always(stopStoreBackends);

async function replicas(t: { teardown(fn: () => Promise<void>): void }, count: number, config: Partial<ServerConfig> = {}): Promise<{ databaseUrl: string; servers: RunningServer[] }> {
  const databaseUrl = await (await postgres()).database();
  const servers: RunningServer[] = [];
  for (let i = 0; i < count; i += 1) {
    const dataDir = await mkdtemp(join(tmpdir(), 'tagtrust-replica-'));
    servers.push(await startServer({ listen: '127.0.0.1:0', dataDir, databaseUrl, masterKey: MASTER_KEY, adminToken: ADMIN_TOKEN, log: secretCheckedLog(t), ...config }));
  }
  t.teardown(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  return { databaseUrl, servers };
}

const timestampOf = async (url: string, gun: string) => {
  const response = await fetch(`${url}/v2/${gun}/_trust/tuf/timestamp.json`);
  return { status: response.status, body: await response.text() };
};

test('a publish through one replica is served by the other at once, and its absence was never remembered', async (t) => {
  const { servers } = await replicas(t, 2);
  const [a, b] = servers as [RunningServer, RunningServer];
  const gun = 'registry.example.com/coherence/new';
  // B answers "no such collection" first: that must not outlive the publish through A.
  t.is((await timestampOf(b.url, gun)).status, 404);
  const publisherHome = await tempHome();
  const publisher = publisherFor(a.url, publisherHome);
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 1 });
  t.is((await pullerFor(b.url, await tempHome()).resolve(`${gun}:v1`)).digest, digestOf('a'));
  // B now has the collection in memory; A publishes again; B's next timestamp is the new one.
  const pullerHome = await tempHome();
  await pullerFor(b.url, pullerHome).list(gun);
  await publisher.sign(`${gun}:v2`, { digest: digestOf('b'), size: 2 });
  t.deepEqual(await timestampOf(b.url, gun), await timestampOf(a.url, gun));
  t.is((await pullerFor(b.url, pullerHome).resolve(`${gun}:v2`)).digest, digestOf('b'));
  // A publish through B, built on what A served, lands at once (B's memory was not in the way).
  const result = await publisherFor(b.url, publisherHome).sign(`${gun}:v3`, { digest: digestOf('c'), size: 3 });
  t.is(result.attempts, 1);
  t.is((await pullerFor(a.url, pullerHome).resolve(`${gun}:v3`)).digest, digestOf('c'));
});

test('a renewal race between replicas has one winner, whose timestamp both serve without an error', async (t) => {
  const clock = new TestClock();
  const { databaseUrl, servers } = await replicas(t, 3, { now: clock.now, renewInterval: 3_600_000 });
  const gun = 'registry.example.com/coherence/renewal';
  const publisher = publisherFor(servers[0]!.url, await tempHome());
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 1 });
  // Every replica has the timestamp in memory, then all of them find it due at once.
  for (const server of servers) t.is((await timestampOf(server.url, gun)).status, 200);
  clock.advance(5 * 3600_000);
  const answers = await Promise.all(servers.flatMap((server) => [timestampOf(server.url, gun), timestampOf(server.url, gun)]));
  t.deepEqual(answers.map((a) => a.status), answers.map(() => 200));
  const versions = new Set(answers.map((a) => (JSON.parse(a.body) as { signed: { version: number } }).signed.version));
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const { rows } = await db.query<{ version: number; body: string }>("SELECT version, body FROM files WHERE gun = $1 AND role = 'timestamp' ORDER BY version", [gun]);
  const renewed = rows[rows.length - 1]!;
  // One renewal (one new version) stored, and every answer is either it or... it.
  t.deepEqual([...versions], [renewed.version]);
  for (const answer of answers) t.is(answer.body, renewed.body);
  t.is(rows.length, 3, 'init, the publish, one renewal');
});

test('backups of a PostgreSQL server are refused with a pointer to pg_dump', async (t) => {
  const { servers } = await replicas(t, 1);
  const result = await api(servers[0]!.url, 'GET', '/_admin/backup', ADMIN_TOKEN);
  t.is(result.status, 400);
  t.regex(JSON.stringify(result.body), /PostgreSQL: back up the database with pg_dump/);
});

test('tagtrust-server migrate applies the schema once and says so', async (t) => {
  const databaseUrl = await (await postgres()).database();
  const first = await runServerCli(['migrate', '--database-url', databaseUrl]);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, new RegExp(`applied migration\\(s\\) 1, 2, 3; now at schema v${SCHEMA_VERSION}`));
  const again = await runServerCli(['migrate'], { TAGTRUST_DATABASE_URL: databaseUrl });
  t.regex(again.stdout, /nothing to apply/);
  const bad = await runServerCli(['migrate', '--database-url', 'mysql://x/y']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /must start with postgres:\/\//);
});

test('a timestamp committed elsewhere whose notice has not arrived is served at once, never the older one', async (t) => {
  const { databaseUrl, servers } = await replicas(t, 1);
  const [b] = servers as [RunningServer];
  const gun = 'registry.example.com/coherence/no-notice';
  const publisher = publisherFor(b.url, await tempHome());
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 1 });
  const before = await timestampOf(b.url, gun);
  t.is((await timestampOf(b.url, gun)).body, before.body, 'served from memory');
  // Another writer's commit, without the notice (as if it were still on its way): only the check finds it.
  const newer = JSON.parse(before.body) as { signed: { version: number } };
  newer.signed.version += 1;
  const text = JSON.stringify(newer);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  await db.query('BEGIN');
  await db.query("INSERT INTO files (gun, role, version, body) VALUES ($1, 'timestamp', $2, $3)", [gun, newer.signed.version, text]);
  await db.query("UPDATE latest SET version = $2 WHERE gun = $1 AND role = 'timestamp'", [gun, newer.signed.version]);
  await db.query('COMMIT');
  t.is((await timestampOf(b.url, gun)).body, text);
});

test('--database-url: the start-up line names the database without its password; a bad or unreachable URL is one line, exit 2', async (t) => {
  const databaseUrl = await (await postgres()).database();
  const withPassword = databaseUrl.replace('postgres@', 'postgres:not-for-logs@');
  const dataDir = await mkdtemp(join(tmpdir(), 'tagtrust-replica-'));
  const child = spawn(process.execPath, [SERVER_CLI, '--listen', '127.0.0.1:0', '--data', dataDir, '--database-url', withPassword], {
    env: { ...process.env, TAGTRUST_MASTER_KEY: MASTER_KEY, TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.includes('\n')) resolve();
    });
  });
  t.regex(stderr, /listening on http:\/\/127\.0\.0\.1:\d+, data in PostgreSQL postgres:\/\/127\.0\.0\.1:\d+\/\w+ \(admin token: TAGTRUST_ADMIN_TOKEN\)/);
  t.false(stderr.includes('not-for-logs'));

  const bad = await runServerCli(['--listen', '127.0.0.1:0', '--data', dataDir, '--database-url', 'mysql://db/tagtrust'], { TAGTRUST_MASTER_KEY: MASTER_KEY });
  t.is(bad.code, 2);
  t.is(bad.stderr, 'tagtrust-server: the database URL must start with postgres:// (not mysql://)\n');
  const closedPort = databaseUrl.replace(/:\d+\//, ':1/');
  const unreachable = await runServerCli(['--listen', '127.0.0.1:0', '--data', dataDir, '--database-url', closedPort.replace('postgres@', 'postgres:not-for-logs@')], { TAGTRUST_MASTER_KEY: MASTER_KEY, TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN });
  t.is(unreachable.code, 2);
  t.regex(unreachable.stderr, /^tagtrust-server: cannot open the PostgreSQL database postgres:\/\/127\.0\.0\.1:1\/\w+: .*ECONNREFUSED.*\n$/);
  t.false(unreachable.stderr.includes('not-for-logs'));
});
