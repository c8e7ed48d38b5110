/**
 * The server's structured log (issue 14): one JSON entry per request with its ID, level, status and
 * duration, the path without the query string, the ID echoed in `X-Request-Id` and in error bodies,
 * the publish outcome under the same ID, and no secret anywhere (the harness checks every test's log
 * on close: log-secrets.ts; here it is also attacked directly).
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, maskUrlPasswords, prettyLine } from '@tagtrust/server';
import { tufBasePath } from '@tagtrust/shared';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { createToken, runServerCli } from './helpers/admin.js';
import { startServerProcess } from './helpers/server-process.js';
import { digestOf, publisherFor, tempHome } from './helpers/client.js';
import { secretsIn } from './helpers/log-secrets.js';

const GUN = 'registry.example.com/logs/app';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Entry {
  level: string;
  time: string;
  msg: string;
  requestId?: string;
  method?: string;
  path?: string;
  status?: number;
  durationMs?: number;
  outcome?: string;
}

const entries = (lines: string[]): Entry[] => lines.map((line) => JSON.parse(line) as Entry);
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

test('every request: an X-Request-Id, the same ID in the error body and on its JSON log entry, no query string', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const token = await createToken(server.url, 'ci', [`push:${GUN}`]);
  const path = `${tufBasePath(GUN)}/timestamp.json`;

  const traced = await fetch(`${server.url}${path}?token=${token}&after=1`, { headers: { 'x-request-id': 'trace-abc.1_2' } });
  t.is(traced.status, 404);
  t.is(traced.headers.get('x-request-id'), 'trace-abc.1_2');
  t.is(((await traced.json()) as { error: { requestId: string } }).error.requestId, 'trace-abc.1_2');

  // Not sane (a space, too long, a token): a new ID instead, and the offered value is never logged.
  const offered = ['has a space', 'x'.repeat(65), token.slice(0, 64)];
  const generated: string[] = [];
  for (const value of offered) {
    const answer = await fetch(`${server.url}/no/such/endpoint`, { headers: { 'x-request-id': value, authorization: `Bearer ${token}` } });
    const id = answer.headers.get('x-request-id') ?? '';
    t.regex(id, UUID, value);
    t.is(((await answer.json()) as { error: { requestId: string } }).error.requestId, id);
    generated.push(id);
  }
  await settle();
  const logged = entries(server.logLines);
  const entry = logged.find((e) => e.requestId === 'trace-abc.1_2')!;
  t.like(entry, { level: 'debug', method: 'GET', path, status: 404 });
  t.true(typeof entry.durationMs === 'number' && entry.durationMs >= 0 && entry.durationMs < 10_000);
  t.false(Number.isNaN(Date.parse(entry.time)));
  for (const id of generated) t.like(logged.find((e) => e.requestId === id), { level: 'debug', path: '/no/such/endpoint', status: 404 });
  const text = server.logLines.join('\n');
  t.false(text.includes('?'), 'no query string');
  t.false(text.includes('has a space') || text.includes('x'.repeat(65)));
  t.deepEqual(secretsIn(text), []);
});

test('a publish: its request entry (info) and its outcome entry carry the same request ID', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 1 });
  await settle();
  const logged = entries(server.logLines);
  const posts = logged.filter((e) => e.method === 'POST' && e.path === `${tufBasePath(GUN)}/`);
  t.true(posts.length >= 2, 'init and sign');
  for (const post of posts) {
    t.like(post, { level: 'info', status: 200 });
    t.like(logged.find((e) => e.msg === 'publish published' && e.requestId === post.requestId), { level: 'info', outcome: 'published' });
  }
});

test('reads are logged at debug, at info with --access-log, and not at all at the default level', async (t) => {
  const quiet = await startTestServer({ logLevel: 'info' });
  const loud = await startTestServer({ logLevel: 'info', accessLog: true });
  t.teardown(() => Promise.all([quiet.close(), loud.close()]).then(() => undefined));
  for (const server of [quiet, loud]) {
    await (await fetch(`${server.url}/healthz`)).arrayBuffer();
    await (await fetch(`${server.url}/_admin/tokens`)).arrayBuffer();
  }
  await settle();
  const requests = (lines: string[]) => entries(lines).filter((e) => e.path !== undefined).map((e) => [e.level, e.path, e.status]);
  t.deepEqual(requests(quiet.logLines), [['info', '/_admin/tokens', 401]]);
  t.deepEqual(requests(loud.logLines), [['info', '/healthz', 200], ['info', '/_admin/tokens', 401]]);
});

test('tagtrust-server --log-level or TAGTRUST_LOG_LEVEL: an unknown level is one line, exit 2; debug logs every read as JSON', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tagtrust-log-level-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  for (const [args, env, where] of [
    [['--log-level', 'loud'], {}, '--log-level "loud"'],
    [[], { TAGTRUST_LOG_LEVEL: 'verbose' }, 'TAGTRUST_LOG_LEVEL "verbose"'],
  ] as const) {
    const run = await runServerCli([...args, '--listen', '127.0.0.1:0', '--data', dataDir], env);
    t.is(run.code, 2, run.stderr);
    t.is(run.stderr, `tagtrust-server: ${where} must be one of fatal, error, warn, info, debug, trace, silent\n`);
  }
  const server = await startServerProcess(dataDir, ['--log-level', 'debug']);
  t.teardown(() => server.stop('SIGKILL'));
  await (await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'probe-1' } })).arrayBuffer();
  await settle();
  const lines = server.stderr().trim().split('\n');
  t.true(lines.every((line) => line.startsWith('{') && line.endsWith('}')), 'JSON lines (stderr is not a terminal)');
  t.like(entries(lines).find((e) => e.requestId === 'probe-1'), { level: 'debug', path: '/healthz', status: 200 });
});

test('the logger never writes a secret a caller passes by mistake: fields are redacted, URL passwords masked', (t) => {
  const lines: string[] = [];
  const logger = createLogger({ sink: (line) => lines.push(line) });
  logger.info(
    { authorization: `Bearer ${ADMIN_TOKEN}`, token: 'tt_aaaaaaaaaaaaaaaaaaaaaaaaaaaa', config: { passphrase: 'root-passphrase-for-tests', databaseUrl: 'postgres://u:pw@h/db' } },
    'cannot reach postgres://tagtrust:s3cret-pw@db.internal:5432/tagtrust',
  );
  logger.error({ err: new Error('connect to postgresql://u:another-pw@h/db failed') }, 'failed');
  const text = lines.join('\n');
  t.deepEqual(secretsIn(text), []);
  for (const secret of ['s3cret-pw', 'another-pw', ':pw@']) t.false(text.includes(secret), secret);
  t.true(text.includes('postgres://tagtrust:[redacted]@db.internal:5432/tagtrust'));
  t.is(maskUrlPasswords('postgres://a:b@c/d and postgresql://e:f@g/h'), 'postgres://a:[redacted]@c/d and postgresql://e:[redacted]@g/h');
});

test('the harness check finds a secret in a log and names it without showing it', (t) => {
  t.deepEqual(secretsIn(`{"msg":"Bearer ${ADMIN_TOKEN}"}`), ['the admin token']);
  t.deepEqual(secretsIn('{"msg":"token tt_0123456789abcdefghijKLMN_-"}'), ['a tagtrust token (tt_…)']);
  t.deepEqual(secretsIn('{"msg":"GET /healthz 200"}'), []);
});

test('on a terminal each entry is one readable line', (t) => {
  const line = prettyLine('{"level":"info","time":"2026-12-06T13:47:02.085Z","requestId":"r-1","status":200,"msg":"GET /healthz 200 1.2ms"}');
  t.is(line, '13:47:02.085 \u001b[32mINFO \u001b[0m GET /healthz 200 1.2ms requestId=r-1 status=200');
});
