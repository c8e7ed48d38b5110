import test from 'ava';
import { UnauthorizedError } from '@tagtrust/client';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { publisherFor, tempHome } from './helpers/client.js';
import { api, runServerCli } from './helpers/admin.js';

const GUN = 'registry.example.com/team/app';
const scopes = ['push:registry.example.com/team/*'];

test('token requests refuse unknown fields and bad expiries instead of ignoring them', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  for (const [body, message] of [
    [{ name: 'ci', scopes, expiry: '2099-01-01T00:00:00Z' }, /unknown field\(s\) in the token request: "expiry"; the fields are name, scopes and expires/],
    [{ name: 'ci', scopes, expires: '30d' }, /expires "30d" must be a future ISO time/],
    [{ name: 'ci', scopes, expires: '2001-01-01T00:00:00Z' }, /must be a future ISO time/],
    [{ name: 'ci', scopes, expires: 1893456000 }, /must be a future ISO time/],
    [['ci'], /a token request is a JSON object/],
  ] as const) {
    const result = await api(server.url, 'POST', '/_admin/tokens', ADMIN_TOKEN, body);
    t.is(result.status, 400, JSON.stringify(body));
    t.is(result.body.error.code, 'INVALID_INPUT');
    t.regex(result.body.error.message, message);
  }
  t.deepEqual((await api(server.url, 'GET', '/_admin/tokens', ADMIN_TOKEN)).body.tokens, [], 'no token was created');
});

test('a token created with --expires works until then, shows its expiry and last use, and is refused after', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN };
  const create = await runServerCli(['token', 'create', '--name', 'ci', '--scope', scopes[0]!, '--expires', '1h'], env);
  t.is(create.code, 0, create.stderr);
  t.regex(create.stderr, /Created token ci \(push:registry\.example\.com\/team\/\*, expires \d{4}-\d\d-\d\dT\S+Z\)/);
  const secret = create.stdout.trim();

  const before = (await api(server.url, 'GET', '/_admin/tokens', ADMIN_TOKEN)).body.tokens[0];
  t.true(Math.abs(Date.parse(before.expires) - (Date.now() + 3600_000)) < 60_000);
  t.is(before.lastUsed, undefined);

  await publisherFor(server.url, await tempHome(), { token: secret }).init(GUN);
  let listed = (await api(server.url, 'GET', '/_admin/tokens', ADMIN_TOKEN)).body.tokens[0];
  for (let i = 0; i < 50 && listed.lastUsed === undefined; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    listed = (await api(server.url, 'GET', '/_admin/tokens', ADMIN_TOKEN)).body.tokens[0];
  }
  t.true(Math.abs(Date.parse(listed.lastUsed) - Date.now()) < 60_000, `last used ${listed.lastUsed}`);
  const table = await runServerCli(['token', 'list'], env);
  t.regex(table.stdout, new RegExp(`^ci\\s+\\S+\\s+${before.expires.replace(/\./g, '\\.')}\\s+\\d{4}-\\S+Z\\s+push:`, 'm'));

  server.clock.advance(3600_000 + 1000);
  const expired = await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/`, secret, {});
  t.is(expired.status, 401);
  t.regex(expired.body.error.message, new RegExp(`^token ci expired at ${before.expires.replace(/\./g, '\\.')}: ask the operator for a new token$`));
  const err = await t.throwsAsync(publisherFor(server.url, await tempHome(), { token: secret }).init('registry.example.com/team/other'));
  t.true(err instanceof UnauthorizedError, String(err));

  const badFlag = await runServerCli(['token', 'create', '--name', 'x', '--scope', 'admin', '--expires', 'soon'], env);
  t.is(badFlag.code, 2);
  t.regex(badFlag.stderr, /--expires "soon" is not a duration like 30d or 12h/);
});
