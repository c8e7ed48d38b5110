import test from 'ava';
import { join } from 'node:path';
import { Level } from 'level';
import { ForbiddenError, UnauthorizedError } from '@tagtrust/client';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { api, createToken, runServerCli } from './helpers/admin.js';

const TEAM_A = 'registry.example.com/team-a/app';
const TEAM_B = 'registry.example.com/team-b/app';

test('a push token for team-a/* publishes to team-a and is refused on every team-b endpoint', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  await publisherFor(server.url, await tempHome()).init(TEAM_B);
  const teamA = await createToken(server.url, 'ci-team-a', ['push:registry.example.com/team-a/*']);

  const publisher = publisherFor(server.url, await tempHome(), { token: teamA });
  await publisher.init(TEAM_A);
  const signed = await publisher.sign(`${TEAM_A}:v1`, { digest: digestOf('a'), size: 10 });
  t.is(signed.targetsVersion, 2);

  const err = await t.throwsAsync(publisherFor(server.url, await tempHome(), { token: teamA }).init(TEAM_B));
  t.true(err instanceof ForbiddenError);
  t.is((err as ForbiddenError).code, 'FORBIDDEN');

  const endpoints: [string, string, unknown?][] = [
    ['GET', `/v2/${TEAM_B}/_trust/tuf/timestamp.key`],
    ['POST', `/v2/${TEAM_B}/_trust/tuf/`, { targets: {} }],
    ['POST', `/v2/${TEAM_B}/_trust/tuf/timestamp.key`],
    ['POST', `/v2/${TEAM_A}/_trust/tuf/snapshot.key`],
    ['DELETE', `/v2/${TEAM_B}/_trust/tuf/`],
    ['DELETE', `/v2/${TEAM_A}/_trust/tuf/`],
    ['GET', '/_admin/collections'],
    ['GET', '/_admin/tokens'],
    ['POST', '/_admin/tokens', { name: 'escalate', scopes: ['admin'] }],
    ['DELETE', '/_admin/tokens/ci-team-a'],
    ['GET', '/_admin/changefeed'],
  ];
  for (const [method, path, body] of endpoints) {
    const result = await api(server.url, method, path, teamA, body);
    t.is(result.status, 403, `${method} ${path}`);
    t.is(result.body.error.code, 'FORBIDDEN', `${method} ${path}`);
    t.notRegex(JSON.stringify(result.body), /tt_/, 'no secret in the error');
  }
  // Nothing changed in team-b.
  const feed = await api(server.url, 'GET', `/v2/${TEAM_B}/_trust/changefeed`, undefined);
  t.is(feed.body.records.length, 1);
  t.is((await api(server.url, 'GET', '/_admin/tokens', ADMIN_TOKEN)).body.tokens.length, 1);
});

test('failed auth answers the same for existing and missing collections', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  await publisherFor(server.url, await tempHome()).init(TEAM_B);
  const teamA = await createToken(server.url, 'ci-team-a', ['push:registry.example.com/team-a/*']);
  const ghost = 'registry.example.com/team-b/ghost';
  for (const [method, suffix] of [
    ['POST', '_trust/tuf/'],
    ['GET', '_trust/tuf/timestamp.key'],
    ['POST', '_trust/tuf/timestamp.key'],
    ['DELETE', '_trust/tuf/'],
  ] as const) {
    for (const token of [teamA, undefined, 'tt_unknown']) {
      const existing = await api(server.url, method, `/v2/${TEAM_B}/${suffix}`, token, method === 'POST' ? {} : undefined);
      const missing = await api(server.url, method, `/v2/${ghost}/${suffix}`, token, method === 'POST' ? {} : undefined);
      t.is(existing.status, missing.status, `${method} ${suffix}`);
      // The same answer but for the name and the request's own ID.
      t.deepEqual(existing.body, { error: { ...missing.body.error, message: missing.body.error.message.replace(ghost, TEAM_B), requestId: existing.body.error.requestId } });
      t.true([401, 403].includes(existing.status));
    }
  }
});

test('tokens are named, shown once, stored hashed and revocable', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const created = await api(server.url, 'POST', '/_admin/tokens', ADMIN_TOKEN, { name: 'ci', scopes: ['push:registry.example.com/**'] });
  t.is(created.status, 201);
  t.regex(created.body.token, /^tt_[A-Za-z0-9_-]{43}$/);
  const secret = created.body.token as string;

  const listed = await api(server.url, 'GET', '/_admin/tokens', ADMIN_TOKEN);
  t.deepEqual(listed.body.tokens, [{ name: 'ci', scopes: ['push:registry.example.com/**'], created: created.body.created }]);
  t.false(JSON.stringify(listed.body).includes(secret));

  const duplicate = await api(server.url, 'POST', '/_admin/tokens', ADMIN_TOKEN, { name: 'ci', scopes: ['admin'] });
  t.is(duplicate.status, 400);
  t.regex(duplicate.body.error.message, /a token named ci exists/);
  for (const scopes of [[], ['root'], ['push:'], ['push:a b']]) {
    const bad = await api(server.url, 'POST', '/_admin/tokens', ADMIN_TOKEN, { name: 'bad', scopes });
    t.is(bad.status, 400, JSON.stringify(scopes));
  }

  await publisherFor(server.url, await tempHome(), { token: secret }).init('registry.example.com/deep/nested/app');
  t.is((await api(server.url, 'DELETE', '/_admin/tokens/ci', ADMIN_TOKEN)).status, 200);
  t.is((await api(server.url, 'DELETE', '/_admin/tokens/ci', ADMIN_TOKEN)).status, 404);
  const revoked = await t.throwsAsync(publisherFor(server.url, await tempHome(), { token: secret }).init('registry.example.com/other/app'));
  t.true(revoked instanceof UnauthorizedError);
  // Token changes are in the server's audit trail, without secrets or digests.
  const trail = await api(server.url, 'GET', '/_admin/changefeed', ADMIN_TOKEN);
  t.deepEqual(trail.body.records.map((r: any) => [r.seq, r.actor, r.action, r.token]), [
    [1, 'admin', 'create-token', { name: 'ci', scopes: ['push:registry.example.com/**'] }],
    [2, 'admin', 'revoke-token', { name: 'ci' }],
  ]);
  t.false(JSON.stringify(trail.body).includes(secret));

  // The database holds only the digest, never the secret.
  await server.server.close();
  const db = new Level<string, string>(join(server.dataDir, 'db'));
  await db.open();
  const everything: string[] = [];
  for await (const [key, value] of db.iterator()) everything.push(key, value);
  await db.close();
  t.false(everything.some((text) => text.includes(secret)));
  await server.restart();
});

test('reads stay public unless the operator requires pull scopes', async (t) => {
  const server = await startTestServer({ requirePullScope: true });
  t.teardown(() => server.close());
  await publisherFor(server.url, await tempHome()).init(TEAM_A);
  const pullA = await createToken(server.url, 'pull-a', ['pull:registry.example.com/team-a/*']);
  const pushA = await createToken(server.url, 'push-a', ['push:registry.example.com/team-a/*']);
  const root = `/v2/${TEAM_A}/_trust/tuf/root.json`;
  t.is((await api(server.url, 'GET', root, undefined)).status, 401);
  t.is((await api(server.url, 'GET', root, pullA)).status, 200);
  t.is((await api(server.url, 'GET', root, pushA)).status, 200);
  t.is((await api(server.url, 'GET', `/v2/${TEAM_A}/_trust/changefeed`, undefined)).status, 401);
  t.is((await api(server.url, 'GET', `/v2/${TEAM_A}/_trust/changefeed`, pullA)).status, 200);
  t.is((await api(server.url, 'GET', `/v2/${TEAM_B}/_trust/tuf/root.json`, pullA)).status, 403);
  t.is((await api(server.url, 'POST', `/v2/${TEAM_A}/_trust/tuf/`, pullA, {})).status, 403);
  t.is((await api(server.url, 'GET', `/v2/${TEAM_A}/_trust/tuf/timestamp.key`, pullA)).status, 403);

  const open = await startTestServer();
  t.teardown(() => open.close());
  await publisherFor(open.url, await tempHome()).init(TEAM_A);
  t.is((await api(open.url, 'GET', root, undefined)).status, 200);
});

test('with pull scopes required, pullers resolve with a pull token and are refused without one', async (t) => {
  const server = await startTestServer({ requirePullScope: true });
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(TEAM_A);
  await publisher.sign(`${TEAM_A}:v1`, { digest: digestOf('a'), size: 1 });
  const pullA = await createToken(server.url, 'pull-a', ['pull:registry.example.com/team-a/*']);

  const withToken = pullerFor(server.url, await tempHome(), { token: pullA });
  t.is((await withToken.resolve(`${TEAM_A}:v1`)).digest, digestOf('a'));
  t.is((await withToken.list(TEAM_A)).length, 1);

  const anonymous = await t.throwsAsync(pullerFor(server.url, await tempHome()).resolve(`${TEAM_A}:v1`));
  t.true(anonymous instanceof UnauthorizedError, String(anonymous));
});

test('tagtrust-server token create|list|revoke manage tokens through the admin endpoints', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN };
  const create = await runServerCli(['token', 'create', '--name', 'ci-team-a', '--scope', 'push:registry.example.com/team-a/*', '--scope', 'pull:registry.example.com/**'], env);
  t.is(create.code, 0, create.stderr);
  t.regex(create.stdout, /^tt_[A-Za-z0-9_-]{43}\n$/);
  t.regex(create.stderr, /Created token ci-team-a \(push:registry\.example\.com\/team-a\/\* pull:registry\.example\.com\/\*\*\)\. It is shown only now/);

  const list = await runServerCli(['token', 'list'], env);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^NAME\s+CREATED\s+EXPIRES\s+LAST USED\s+SCOPES\nci-team-a\s+\S+\s+never\s+never\s+push:registry\.example\.com\/team-a\/\* pull:registry\.example\.com\/\*\*\n$/);
  t.false(list.stdout.includes(create.stdout.trim()));

  const forbidden = await runServerCli(['token', 'list'], { ...env, TAGTRUST_ADMIN_TOKEN: create.stdout.trim() });
  t.is(forbidden.code, 1);
  t.regex(forbidden.stderr, /^tagtrust-server: listing tokens failed: token ci-team-a has no scope for an admin request/);
  t.false(forbidden.stderr.includes(create.stdout.trim()));

  const fromDataDir = await runServerCli(['token', 'list', '--data', server.dataDir], { TAGTRUST_SERVER: server.url });
  // The test server takes its admin token from the environment, so the data dir has no admin.token.
  t.is(fromDataDir.code, 2);
  t.regex(fromDataDir.stderr, /listing tokens needs the admin token: pass --token, set TAGTRUST_ADMIN_TOKEN, or --data DIR holding admin.token/);

  const revoke = await runServerCli(['token', 'revoke', 'ci-team-a'], env);
  t.is(revoke.code, 0, revoke.stderr);
  t.is(revoke.stdout, 'Revoked token ci-team-a\n');
  const again = await runServerCli(['token', 'revoke', 'ci-team-a'], env);
  t.is(again.code, 1);
  t.regex(again.stderr, /no token named ci-team-a/);
  const history = await runServerCli(['token', 'history'], env);
  t.is(history.code, 0, history.stderr);
  t.regex(history.stdout, /^ {3}1 {2}\S+Z {2}admin {2}create-token ci-team-a \(push:registry\.example\.com\/team-a\/\* pull:registry\.example\.com\/\*\*\)\n {3}2 {2}\S+Z {2}admin {2}revoke-token ci-team-a\n$/);
  const usage = await runServerCli(['token', 'create', '--name', 'x'], env);
  t.is(usage.code, 2);
});
