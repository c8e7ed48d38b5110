/**
 * Server hygiene: a data directory whose master.key is lost is refused at start (not silently given
 * a new key that cannot open the sealed online keys); the access log never holds query strings; a
 * short admin token is refused; a port already in use ends the start with one line and creates
 * nothing. Each refusal exits non-zero with one line on stderr and no secret in it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startServer } from '@tagtrust/server';
import { SERVER_CLI } from './helpers/admin.js';
import { publisherFor, tempHome } from './helpers/client.js';
import { ADMIN_TOKEN, secretCheckedLog } from './helpers/server.js';

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Starts `tagtrust-server` and waits for it to exit; a server still running after 15 s is killed. */
function runServer(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SERVER_CLI, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.killed ? 'still running' : (error.code ?? 1)) : 0, stdout, stderr });
    });
  });
}

function oneLine(t: import('ava').ExecutionContext, run: Run, message: RegExp): void {
  t.not(run.code, 0, run.stderr);
  t.not(run.code, 'still running');
  const lines = run.stderr.split('\n').filter((line) => line !== '');
  t.is(lines.length, 1, run.stderr);
  t.regex(lines[0]!, /^tagtrust-server: /);
  t.regex(lines[0]!, message);
  t.notRegex(run.stderr, /\n\s+at /, 'no stack trace');
}

async function tempDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-hygiene-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const exists = (path: string) => stat(path).then(() => true, () => false);

test('a data directory with a database but no master.key is refused, and no new key is made', async (t) => {
  const dataDir = join(await tempDir(t), 'data');
  const server = await startServer({ listen: '127.0.0.1:0', dataDir, adminToken: ADMIN_TOKEN, log: secretCheckedLog(t) });
  await publisherFor(server.url, await tempHome()).init('registry.example.com/hygiene/app');
  await server.close();
  await rm(join(dataDir, 'master.key'));
  const run = await runServer(['--listen', '127.0.0.1:0', '--data', dataDir], { TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN });
  oneLine(t, run, /holds a database but no master\.key: .*restore master\.key from your backup \(or set TAGTRUST_MASTER_KEY\)/);
  t.is(run.code, 2);
  t.false(await exists(join(dataDir, 'master.key')), 'no new master key was generated');
});

test('a short admin token is refused without showing it, and nothing is created', async (t) => {
  const dataDir = join(await tempDir(t), 'data');
  const short = 'short-admin-token-31-characters';
  const run = await runServer(['--listen', '127.0.0.1:0', '--data', dataDir], { TAGTRUST_ADMIN_TOKEN: short });
  oneLine(t, run, /the admin token in TAGTRUST_ADMIN_TOKEN is 31 characters long; .* must be at least 32/);
  t.is(run.code, 2);
  t.false(run.stderr.includes(short));
  t.false(await exists(dataDir), 'no data directory, master key or admin token was created');
});

test('a port already in use ends the start with one line, and nothing is created', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const { port } = taken.address() as AddressInfo;
  const dataDir = join(await tempDir(t), 'data');
  const run = await runServer(['--listen', `127.0.0.1:${port}`, '--data', dataDir]);
  oneLine(t, run, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`));
  t.is(run.code, 2);
  t.false(await exists(dataDir), 'no data directory, master key or admin token was created');
});
