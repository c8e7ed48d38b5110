import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_TOKEN } from './helpers/server.js';
import { publisherFor, tempHome } from './helpers/client.js';
import { SERVER_CLI, api, runServerCli } from './helpers/admin.js';

const GUN = 'registry.example.com/team/app';

/** Starts the real server binary; resolves with its URL once it listens. Stopped by PID at teardown. */
async function spawnServer(t: { teardown(fn: () => void): void }, args: string[], env: Record<string, string>, cwd: string): Promise<{ url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [SERVER_CLI, ...args], { env: { PATH: process.env.PATH, TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN, ...env }, cwd });
  t.teardown(() => void child.kill('SIGTERM'));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; i < 400 && !/listening on (\S+),/.test(stderr); i += 1) {
    if (child.exitCode !== null) throw new Error(`the server exited: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const url = /listening on (\S+),/.exec(stderr)?.[1];
  if (!url) throw new Error(`the server did not start: ${stderr}`);
  return { url, stderr: () => stderr };
}

test('--version prints the version', async (t) => {
  const result = await runServerCli(['--version']);
  t.is(result.code, 0);
  t.regex(result.stdout, /^tagtrust-server \d+\.\d+\.\d+\n$/);
});

test('a config file with an unknown key, a bad value or bad JSON is refused with one line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-config-'));
  const cases: [string, RegExp][] = [
    ['{"listen": "127.0.0.1:0", "bodylimit": 5}', /unknown key\(s\) "bodylimit"; the keys are listen, data, body-limit, .* \(secrets stay in the environment\)/],
    ['{"admin-token": "x"}', /unknown key\(s\) "admin-token"/],
    ['{"timestamp-lifetime": "soon"}', /"timestamp-lifetime" in .* "soon" must be a duration like 90s, 30m, 6h or 7d/],
    ['{"require-pull-token": "yes"}', /"require-pull-token" in .* "yes" must be true or false/],
    ['{"listen": 4443}', /"listen" in .* 4443 must be a non-empty string/],
    ['[1]', /must hold a JSON object of options/],
    ['{', /is not valid JSON/],
  ];
  for (const [text, message] of cases) {
    const file = join(dir, 'config.json');
    await writeFile(file, text);
    const result = await runServerCli(['--config', file]);
    t.is(result.code, 2, text);
    t.regex(result.stderr, new RegExp(`^tagtrust-server: --config|^tagtrust-server: "`), text);
    t.regex(result.stderr, message, text);
    t.is(result.stderr.trim().split('\n').length, 1, text);
  }
  t.regex((await runServerCli([], { TAGTRUST_BODY_LIMIT: 'lots' })).stderr, /TAGTRUST_BODY_LIMIT "lots" must be a positive number of bytes/);
  t.regex((await runServerCli(['--config', join(dir, 'missing.json')])).stderr, /--config .*missing\.json: cannot read it \(ENOENT\)/);
});

test('flags beat the environment, which beats the config file, which beats the defaults', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-config-'));
  const config = join(dir, 'server.json');
  await writeFile(config, JSON.stringify({ listen: '127.0.0.1:0', data: 'state', 'body-limit': 100, 'timestamp-lifetime': '2h', 'snapshot-lifetime': '2d' }));
  const cwd = await mkdtemp(join(tmpdir(), 'tagtrust-cwd-'));
  const server = await spawnServer(t, ['--config', config, '--timestamp-lifetime', '3h'], { TAGTRUST_BODY_LIMIT: '2000', TAGTRUST_TIMESTAMP_LIFETIME: '4h' }, cwd);
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'listen from the config file');
  t.true((await readdir(join(dir, 'state'))).includes('master.key'), 'data relative to the config file');
  t.deepEqual(await readdir(cwd), []);

  // body-limit: 2000 from the environment, not 100 from the config.
  const path = `/v2/${GUN}/_trust/tuf/`;
  t.is((await api(server.url, 'POST', path, ADMIN_TOKEN, { pad: 'x'.repeat(500) })).status, 400);
  t.is((await api(server.url, 'POST', path, ADMIN_TOKEN, { pad: 'x'.repeat(3000) })).status, 413);

  // timestamp-lifetime: 3h from the flag; snapshot-lifetime: 2d from the config file.
  await publisherFor(server.url, await tempHome()).init(GUN);
  const expiresIn = async (role: string) => {
    const { body } = await api(server.url, 'GET', `/v2/${GUN}/_trust/tuf/${role}.json`, undefined);
    return (Date.parse(body.signed.expires) - Date.now()) / 3600_000;
  };
  const timestampHours = await expiresIn('timestamp');
  t.true(timestampHours > 2.9 && timestampHours <= 3, `timestamp expires in ${timestampHours}h`);
  const snapshotHours = await expiresIn('snapshot');
  t.true(snapshotHours > 47.9 && snapshotHours <= 48, `snapshot expires in ${snapshotHours}h`);
  t.false(server.stderr().includes(ADMIN_TOKEN));
});
