/**
 * Database faults under two replicas: PostgreSQL restarted (immediate stop: every connection
 * dropped) while publishes and reads go on. Requests fail cleanly (503, JSON, a message that says
 * to retry, never a 500), the replicas recover by themselves, and nothing is half-written.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { RepositoryError } from '@tagtrust/shared';
import { startServer } from '@tagtrust/server';
import type { RunningServer } from '@tagtrust/server';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { ADMIN_TOKEN, secretCheckedLog } from './helpers/server.js';
import { MASTER_KEY } from './helpers/replicas.js';
import { postgres, stopStoreBackends } from './helpers/stores.js';

test.after.always(stopStoreBackends);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('PostgreSQL restarted mid-run: clean 503s, recovery without a restart of the replicas, nothing half-written', async (t) => {
  t.timeout(300_000);
  const cluster = await postgres();
  const databaseUrl = await cluster.database();
  const servers: RunningServer[] = [];
  for (const _ of [1, 2]) {
    servers.push(await startServer({ listen: '127.0.0.1:0', dataDir: await mkdtemp(join(tmpdir(), 'tagtrust-replica-')), databaseUrl, masterKey: MASTER_KEY, adminToken: ADMIN_TOKEN, log: secretCheckedLog(t) }));
  }
  t.teardown(() => Promise.all(servers.map((s) => s.close())).then(() => {}));
  const [a, b] = servers as [RunningServer, RunningServer];
  const gun = 'registry.example.com/faults/restart';
  const publisherHome = await tempHome();
  await publisherFor(a.url, publisherHome).init(gun);

  // Reads of the timestamp through B and publishes through A, all along.
  const statuses: { status: number; body: string }[] = [];
  const signed: string[] = [];
  const failures: string[] = [];
  let running = true;
  const reading = (async () => {
    while (running) {
      const response = await fetch(`${b.url}/v2/${gun}/_trust/tuf/timestamp.json`).catch(() => undefined);
      if (response) statuses.push({ status: response.status, body: await response.text() });
      await sleep(20);
    }
  })();
  const publishing = (async () => {
    const publisher = publisherFor(a.url, publisherHome, { timeoutMs: 60_000 });
    for (let i = 0; running; i += 1) {
      try {
        await publisher.sign(`${gun}:t${i}`, { digest: digestOf('abcdef'[i % 6]!), size: i });
        signed.push(`t${i}`);
      } catch (err) {
        if (err instanceof RepositoryError) failures.push((err as Error).message);
        await sleep(50);
      }
    }
  })();
  while (signed.length < 3) await sleep(50);
  await cluster.restart();
  const restarted = signed.length;
  // Recovered by themselves: publishes land again.
  const deadline = Date.now() + 60_000;
  while (signed.length < restarted + 3 && Date.now() < deadline) await sleep(100);
  running = false;
  await Promise.all([reading, publishing]);

  t.deepEqual(failures, []);
  t.true(signed.length >= restarted + 3, 'publishes did not recover after the restart');
  t.deepEqual(statuses.filter((s) => s.status !== 200 && s.status !== 503), []);
  const unavailable = statuses.filter((s) => s.status === 503);
  t.true(unavailable.length > 0, 'no read saw the database down');
  for (const answer of unavailable) t.regex(JSON.parse(answer.body).error.message, /^the database is unavailable \(.+\): retry in a moment$/);
  t.is(statuses[statuses.length - 1]!.status, 200);

  // Nothing half-written: every latest pointer has its file, every tag reported signed verifies.
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const dangling = await db.query('SELECT l.role FROM latest l LEFT JOIN files f USING (gun, role, version) WHERE f.body IS NULL');
  t.is(dangling.rowCount, 0);
  const audit = await db.query<{ seq: number }>('SELECT seq FROM audit WHERE gun = $1 ORDER BY seq', [gun]);
  t.deepEqual(audit.rows.map((r) => r.seq), audit.rows.map((_, i) => i + 1));
  const listed = new Set((await pullerFor(b.url, await tempHome()).list(gun)).map((tag) => tag.tag));
  for (const tag of signed) t.true(listed.has(tag), tag);
});
