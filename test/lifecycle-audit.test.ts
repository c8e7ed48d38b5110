import test from 'ava';
import { readHistory } from '@tagtrust/client';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, runCli, tempHome } from './helpers/client.js';
import { api, createToken, runServerCli } from './helpers/admin.js';

const GUN = 'registry.example.com/team-a/app';

test('every accepted change is recorded with its token, versions and tag changes; the changefeed pages', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  await publisherFor(server.url, home).init(GUN);
  const ci = publisherFor(server.url, home, { token: await createToken(server.url, 'ci-team-a', ['push:registry.example.com/team-a/*']) });
  await ci.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  await ci.sign(`${GUN}:v1`, { digest: digestOf('b'), size: 10 });
  await ci.sign(`${GUN}:v2`, { digest: digestOf('c'), size: 10 });
  await ci.unsign(`${GUN}:v1`);

  // A refused publish records nothing.
  const refused = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/`, ADMIN_TOKEN, { targets: { signed: {}, signatures: [] } });
  t.is(refused.status, 400);

  const feed = await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed`, undefined);
  t.is(feed.status, 200);
  const records = feed.body.records as any[];
  t.deepEqual(records.map((r) => [r.seq, r.actor, r.action]), [
    [1, 'admin', 'publish'],
    [2, 'ci-team-a', 'publish'],
    [3, 'ci-team-a', 'publish'],
    [4, 'ci-team-a', 'publish'],
    [5, 'ci-team-a', 'publish'],
  ]);
  t.deepEqual(records[0].versions, { root: 1, targets: 1, snapshot: 1, timestamp: 1 });
  // Each tag change names the role that signed it and the keys that made its threshold.
  const root = await api(server.url, 'GET', `/v2/${GUN}/_trust/tuf/root.json`, undefined);
  const by = { role: 'targets', keyIds: root.body.signed.roles.targets.keyids };
  t.deepEqual(records[1].tags, [{ tag: 'v1', change: 'added', to: digestOf('a'), ...by }]);
  t.deepEqual(records[2].tags, [{ tag: 'v1', change: 'moved', from: digestOf('a'), to: digestOf('b'), ...by }]);
  t.deepEqual(records[3].tags, [{ tag: 'v2', change: 'added', to: digestOf('c'), ...by }]);
  t.deepEqual(records[4].tags, [{ tag: 'v1', change: 'removed', from: digestOf('b'), ...by }]);
  t.deepEqual(records[4].versions, { targets: 5, snapshot: 5, timestamp: 5 });
  for (const r of records) t.regex(r.time, /^\d{4}-\d\d-\d\dT/);
  t.is(feed.body.next, undefined);

  const first = await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed?limit=2`, undefined);
  t.deepEqual(first.body.records.map((r: any) => r.seq), [1, 2]);
  t.is(first.body.next, 2);
  const second = await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed?after=2&limit=2`, undefined);
  t.deepEqual(second.body.records.map((r: any) => r.seq), [3, 4]);
  const last = await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed?after=4&limit=2`, undefined);
  t.deepEqual(last.body.records.map((r: any) => r.seq), [5]);
  t.is(last.body.next, undefined);
  t.is((await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed?limit=0`, undefined)).status, 400);
  t.is((await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed?after=x`, undefined)).status, 400);

  const v1 = await readHistory(`${GUN}:v1`, { server: server.url, home });
  t.deepEqual(v1.map((r) => [r.seq, r.tags![0]!.change]), [[2, 'added'], [3, 'moved'], [5, 'removed']]);

  const cli = await runCli(['history', `${GUN}:v1`], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(cli.code, 0, cli.stderr);
  const lines = cli.stdout.trim().split('\n');
  t.is(lines.length, 3);
  const signer = `by targets \\(${by.keyIds[0].slice(0, 8)}\\)`;
  t.regex(lines[0]!, new RegExp(`^ *2 {2}\\S+Z {2}ci-team-a {2}publish targets v2, snapshot v2, timestamp v2; v1 added sha256:a{64} ${signer}$`));
  t.regex(lines[1]!, new RegExp(`v1 moved sha256:a{64} -> sha256:b{64} ${signer}$`));
  t.regex(lines[2]!, new RegExp(`v1 removed \\(was sha256:b{64}\\) ${signer}$`));
  const all = await runCli(['history', GUN], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(all.stdout.trim().split('\n').length, 5);
});

test('admins list collections with each role\'s expiry and delete a collection, which is recorded', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  await publisherFor(server.url, home).init(GUN);
  await publisherFor(server.url, home).init('registry.example.com/team-b/app');
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN };

  const listed = await api(server.url, 'GET', '/_admin/collections', ADMIN_TOKEN);
  t.deepEqual(listed.body.collections.map((c: any) => c.gun), ['registry.example.com/team-a/app', 'registry.example.com/team-b/app']);
  const roles = listed.body.collections[0].roles;
  t.deepEqual(Object.keys(roles), ['root', 'targets', 'snapshot', 'timestamp']);
  t.is(roles.timestamp.version, 1);
  t.true(roles.timestamp.remainingMs > 5 * 3600_000 && roles.timestamp.remainingMs <= 6 * 3600_000);
  t.true(roles.root.remainingMs > 364 * 86400_000);

  const cliList = await runServerCli(['collections', 'list'], env);
  t.is(cliList.code, 0, cliList.stderr);
  t.regex(cliList.stdout, /^COLLECTION\s+ROLE\s+VERSION\s+EXPIRES\s+LEFT\n/);
  t.regex(cliList.stdout, /registry\.example\.com\/team-a\/app\s+timestamp\s+1\s+\S+Z\s+5h59m\n/);

  const deleted = await runServerCli(['collections', 'delete', GUN], env);
  t.is(deleted.code, 0, deleted.stderr);
  t.is(deleted.stdout, `Deleted ${GUN} (its audit trail is kept)\n`);
  t.is((await api(server.url, 'GET', `/v2/${GUN}/_trust/tuf/root.json`, undefined)).status, 404);
  t.is((await api(server.url, 'GET', `/v2/${GUN}/_trust/tuf/1.targets.json`, undefined)).status, 404);
  const again = await runServerCli(['collections', 'delete', GUN], env);
  t.is(again.code, 1);
  t.regex(again.stderr, /collection registry\.example\.com\/team-a\/app does not exist/);
  const feed = await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed`, undefined);
  t.deepEqual(feed.body.records.map((r: any) => [r.seq, r.actor, r.action]), [[1, 'admin', 'publish'], [2, 'admin', 'delete']]);
  t.deepEqual((await api(server.url, 'GET', '/_admin/collections', ADMIN_TOKEN)).body.collections.map((c: any) => c.gun), ['registry.example.com/team-b/app']);

  // The name can be used again; the history continues.
  await publisherFor(server.url, await tempHome()).init(GUN);
  const after = await api(server.url, 'GET', `/v2/${GUN}/_trust/changefeed`, undefined);
  t.deepEqual(after.body.records.map((r: any) => r.seq), [1, 2, 3]);
});
