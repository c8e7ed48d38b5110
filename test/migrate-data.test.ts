/**
 * `tagtrust-server migrate-data --from DIR --to URL`: a level server's data moves to PostgreSQL
 * whole (history, keys sealed under the same master key, audit trails, tokens, tag logs), is
 * verified there, and a server on PostgreSQL carries on where the level server stopped: pullers
 * see no rollback, publishers keep signing, tokens keep working. A non-empty target is refused.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startServer } from '@tagtrust/server';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { ADMIN_TOKEN, secretCheckedLog, startTestServer } from './helpers/server.js';
import { api, createToken, runServerCli } from './helpers/admin.js';
import { postgres, stopStoreBackends } from './helpers/stores.js';

test.after.always(stopStoreBackends);

test('migrate-data copies a level server to PostgreSQL, verifies it, and a PostgreSQL server carries on', async (t) => {
  t.timeout(180_000);
  const level = await startTestServer();
  const guns = ['registry.example.com/move/one', 'registry.example.com/move/two'];
  const publisherHome = await tempHome();
  const pullerHome = await tempHome();
  for (const gun of guns) {
    const publisher = publisherFor(level.url, publisherHome);
    await publisher.init(gun);
    for (const tag of ['v1', 'v2', 'v3']) await publisher.sign(`${gun}:${tag}`, { digest: digestOf(tag.slice(1)), size: 1 });
    await pullerFor(level.url, pullerHome).list(gun);
  }
  const pushToken = await createToken(level.url, 'ci', [`push:${guns[0]}`]);
  const auditBefore = (await api(level.url, 'GET', `/v2/${guns[0]}/_trust/changefeed`, undefined)).body.records;
  await level.server.close();

  const databaseUrl = await (await postgres()).database();
  const missing = await runServerCli(['migrate-data', '--from', join(tmpdir(), 'no-such-tagtrust-dir'), '--to', databaseUrl]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /holds no level database/);

  const moved = await runServerCli(['migrate-data', '--from', level.dataDir, '--to', databaseUrl]);
  t.is(moved.code, 0, moved.stderr);
  t.regex(moved.stdout, /^copied 2 collection\(s\), \d+ record\(s\) to postgres:\/\/127\.0\.0\.1:\d+\/\w+; every collection verified\n$/);

  const again = await runServerCli(['migrate-data', '--from', level.dataDir, '--to', databaseUrl]);
  t.is(again.code, 2);
  t.regex(again.stderr, /already holds tagtrust data: migrate-data copies into an empty database only/);

  // The same data directory (its master.key unseals the copied online keys), now on PostgreSQL.
  const onPg = await startServer({ listen: '127.0.0.1:0', dataDir: level.dataDir, databaseUrl, adminToken: ADMIN_TOKEN, log: secretCheckedLog(t) });
  t.teardown(async () => {
    await onPg.close();
    await level.close();
  });
  t.deepEqual((await api(onPg.url, 'GET', `/v2/${guns[0]}/_trust/changefeed`, undefined)).body.records, auditBefore);
  for (const gun of guns) {
    const listed = (await pullerFor(onPg.url, pullerHome).list(gun)).map((tag) => [tag.tag, tag.digest]);
    t.deepEqual(listed, [['v1', digestOf('1')], ['v2', digestOf('2')], ['v3', digestOf('3')]]);
  }
  // The copied push token signs through the PostgreSQL server, with the copied online keys.
  await publisherFor(onPg.url, publisherHome, { token: pushToken }).sign(`${guns[0]}:v4`, { digest: digestOf('4'), size: 1 });
  t.is((await pullerFor(onPg.url, pullerHome).resolve(`${guns[0]}:v4`)).digest, digestOf('4'));
});
