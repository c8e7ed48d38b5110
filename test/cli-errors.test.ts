/**
 * The real `tagtrust` binary on bad inputs: each failure exits with the code of its error class
 * (client/src/cli/exit-codes.ts) and prints exactly one line on stderr, without secrets; nothing
 * stored changes. `--help` works on every command.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import type { CliResult } from './helpers/client.js';
import { PASSPHRASES, digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import type { ServedState } from './helpers/metadata.js';
import { assertUnchanged, servedState } from './helpers/metadata.js';
import { ADMIN_TOKEN } from './helpers/server.js';

const GUN = 'registry.example.com/cli/app';
const COMMANDS = ['init', 'sign', 'unsign', 'list', 'resolve'];
let server: TestServer;
let env: Record<string, string>;
let before: ServedState;

test.before(async () => {
  server = await startTestServer();
  const home = await tempHome();
  const publisher = publisherFor(server.url, home);
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home };
  before = await servedState(server.url, GUN);
});
test.after.always(async () => {
  await server?.close();
});

const SECRETS = [ADMIN_TOKEN, PASSPHRASES.root, PASSPHRASES.targets];

/** A new home that already trusts the collection's root (so no trust-on-first-use notice is printed). */
async function trustingHome(): Promise<string> {
  const home = await tempHome();
  await pullerFor(server.url, home).resolve(`${GUN}:v1`);
  return home;
}

/** Asserts a failure: the exit code, nothing on stdout, one `tagtrust: ` line on stderr, no secrets. */
function assertFails(t: ExecutionContext, result: CliResult, code: number, pattern: RegExp, what: string): void {
  t.is(result.code, code, `${what}: ${result.stderr}`);
  t.is(result.stdout, '', what);
  t.regex(result.stderr, /^tagtrust: [^\n]+\n$/, `${what}: stderr is one line`);
  t.regex(result.stderr, pattern, what);
  for (const secret of SECRETS) t.false(result.stderr.includes(secret), `${what}: stderr shows a secret`);
}

test('--help on every command exits 0 and prints its usage', async (t) => {
  // Each run starts a node process (~0.3 s of CPU): one run per command, plus the global help.
  const runs = await Promise.all([runCli([]), runCli(['--help']), ...COMMANDS.map((name, i) => runCli([name, i % 2 ? '-h' : '--help']))]);
  for (const run of runs.slice(0, 2)) {
    t.is(run.code, 0, run.stderr);
    t.regex(run.stdout, /^Usage: tagtrust <command>/);
    for (const name of COMMANDS) t.regex(run.stdout, new RegExp(`\\n  ${name} `));
  }
  for (const [i, name] of COMMANDS.entries()) {
    const run = runs[2 + i]!;
    t.is(run.code, 0, `${name}: ${run.stderr}`);
    t.is(run.stderr, '');
    t.regex(run.stdout, new RegExp(`^Usage: tagtrust ${name} `));
    t.regex(run.stdout, /--server URL/);
  }
});

test('usage errors exit 2', async (t) => {
  const noServer = { TAGTRUST_HOME: env.TAGTRUST_HOME };
  const cases: [string, string[], Record<string, string | undefined>, RegExp][] = [
    ['unknown command', ['frobnicate'], env, /unknown command "frobnicate"/],
    ['unknown option', ['resolve', `${GUN}:v1`, '--frobnicate'], env, /usage: tagtrust resolve/],
    ['missing argument', ['resolve'], env, /wrong number of arguments/],
    ['no server', ['resolve', `${GUN}:v1`], noServer, /no server URL/],
    ['option value that looks like an option', ['resolve', `${GUN}:v1`, '--timeout', '-3'], env, /--timeout.*usage: tagtrust resolve/],
    ['bad size', ['sign', `${GUN}:v2`, '--digest', digestOf('b'), '--size', '12kb'], env, /--size "12kb"/],
    ['existing collection', ['init', GUN], { ...env, TAGTRUST_HOME: join(env.TAGTRUST_HOME!, 'other') }, /already exists/],
  ];
  const results = await Promise.all(cases.map(([, args, e]) => runCli(args, e)));
  for (const [i, [what, , , pattern]] of cases.entries()) assertFails(t, results[i]!, 2, pattern, what);
  await assertUnchanged(t, server.url, GUN, before);
});

test('bad references, digests and inputs exit 3', async (t) => {
  const cases: [string, string[], RegExp][] = [
    ['reference without a tag', ['sign', GUN, '--digest', digestOf('b'), '--size', '10'], /invalid tagged reference/],
    ['reference with a bad tag', ['resolve', `${GUN}:bad~tag`], /invalid/],
    ['short digest', ['sign', `${GUN}:v2`, '--digest', 'sha256:abc', '--size', '10'], /invalid digest "sha256:abc"/],
    ['missing manifest file', ['sign', `${GUN}:v2`, '--manifest', '/nonexistent/manifest.json'], /cannot read manifest/],
  ];
  const results = await Promise.all(cases.map(([, args]) => runCli(args, env)));
  for (const [i, [what, , pattern]] of cases.entries()) assertFails(t, results[i]!, 3, pattern, what);
  await assertUnchanged(t, server.url, GUN, before);
});

test('key problems exit 4: wrong passphrase, no passphrase, no key', async (t) => {
  const [wrong, none, noKey] = await Promise.all([
    runCli(['sign', `${GUN}:v2`, '--digest', digestOf('b'), '--size', '10'], { ...env, TAGTRUST_TARGETS_PASSPHRASE: 'not-the-passphrase-0c41' }),
    runCli(['sign', `${GUN}:v2`, '--digest', digestOf('b'), '--size', '10'], { ...env, TAGTRUST_TARGETS_PASSPHRASE: undefined }),
    runCli(['unsign', `${GUN}:v1`], { ...env, TAGTRUST_HOME: await trustingHome() }),
  ]);
  assertFails(t, wrong!, 4, /wrong passphrase/, 'wrong passphrase');
  t.false(wrong!.stderr.includes('not-the-passphrase-0c41'));
  assertFails(t, none!, 4, /TAGTRUST_TARGETS_PASSPHRASE/, 'no passphrase');
  assertFails(t, noKey!, 4, /no private key for the targets role/, 'no key');
  await assertUnchanged(t, server.url, GUN, before);
});

test('unknown collections exit 5, unsigned tags 6, missing or wrong tokens 7', async (t) => {
  const unknown = 'registry.example.com/cli/unknown';
  const pullerEnv = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await trustingHome() };
  const [resolveUnknown, signUnknown, notSigned, noToken, wrongToken] = await Promise.all([
    runCli(['resolve', `${unknown}:v1`], pullerEnv),
    runCli(['sign', `${unknown}:v1`, '--digest', digestOf('b'), '--size', '10'], env),
    runCli(['resolve', `${GUN}:v9`], pullerEnv),
    runCli(['sign', `${GUN}:v2`, '--digest', digestOf('b'), '--size', '10'], { ...env, TAGTRUST_TOKEN: undefined }),
    runCli(['unsign', `${GUN}:v1`, '--token', 'wrong-token-93ab'], env),
  ]);
  assertFails(t, resolveUnknown!, 5, /does not exist/, 'resolve unknown');
  assertFails(t, signUnknown!, 5, /does not exist/, 'sign unknown');
  assertFails(t, notSigned!, 6, /v9 is not signed/, 'resolve not signed');
  assertFails(t, noToken!, 7, /needs a bearer token/, 'no token');
  assertFails(t, wrongToken!, 7, /not valid/, 'wrong token');
  t.false(wrongToken!.stderr.includes('wrong-token-93ab'));
  await assertUnchanged(t, server.url, GUN, before);
  await assertUnchanged(t, server.url, unknown, { root: undefined, targets: undefined, snapshot: undefined, timestamp: undefined });
});

test('an unreachable server exits 9', async (t) => {
  const result = await runCli(['resolve', `${GUN}:v1`], { TAGTRUST_SERVER: 'http://127.0.0.1:1', TAGTRUST_HOME: await tempHome() });
  assertFails(t, result, 9, /cannot (reach|download)/, 'unreachable');
});

test('a publish over the server body limit exits 11', async (t) => {
  const small = await startTestServer({ bodyLimit: 4096 });
  t.teardown(() => small.close());
  const home = await tempHome();
  const gun = 'registry.example.com/cli/small';
  await publisherFor(small.url, home).init(gun);
  const unchanged = await servedState(small.url, gun);
  const result = await runCli(['sign', `${gun}:v1`, '--digest', digestOf('a'), '--size', '10', '--media-type', `application/${'x'.repeat(5000)}`], {
    TAGTRUST_SERVER: small.url,
    TAGTRUST_HOME: home,
  });
  assertFails(t, result, 11, /larger than the server's limit of 4096 bytes/, 'body over the limit');
  await assertUnchanged(t, small.url, gun, unchanged);
});
