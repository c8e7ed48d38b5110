/**
 * How the `tagtrust` binary starts: the bin shim runs one bundled CommonJS file (no module file of
 * tuf-js or of our packages is loaded from disk), and `sign` decrypts the targets key exactly once
 * although the CLI starts decrypting it before the publisher's modules load. Observed from inside
 * the real process by a preload script that records what it loads and how often scrypt runs.
 * `--help` loads neither node:crypto nor the ESM loader. `--ca` trusts the given CA on top of the
 * default roots (added to node's default TLS context, client/src/http/transport.ts), and only it.
 */
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueSelfSignedCertificate } from '@tagtrust/server';
import { startTestServer } from './helpers/server.js';
import { digestOf, runCli, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/startup/app';
const ROOT = fileURLToPath(new URL('../', import.meta.url));

interface Recorded {
  /** Module files required (CommonJS), besides the preload. */
  files: string[];
  /** Built-in modules loaded. */
  builtins: string[];
  /** crypto.scrypt calls (counted only with `countScrypt`, which loads node:crypto itself). */
  scrypt: number;
}

/** Writes a preload that records, at exit, the modules loaded and the scrypt calls. */
async function recorder(dir: string, countScrypt = false): Promise<{ env: Record<string, string>; read: () => Promise<Recorded> }> {
  const preload = join(dir, 'record.cjs');
  const out = join(dir, 'record.json');
  await writeFile(
    preload,
    `const { writeFileSync } = require('node:fs');
let scrypt = 0;
if (${countScrypt}) {
  const crypto = require('node:crypto');
  const original = crypto.scrypt;
  crypto.scrypt = function (...args) { scrypt += 1; return original.apply(this, args); };
}
process.on('exit', () => writeFileSync(${JSON.stringify(out)}, JSON.stringify({
  files: Object.keys(require.cache).filter((f) => f !== __filename),
  builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)),
  scrypt,
})));
`,
  );
  return {
    env: { NODE_OPTIONS: `--require ${preload}` },
    read: async () => JSON.parse(await readFile(out, 'utf8')) as Recorded,
  };
}

test('the bin shim runs the bundle: --help loads no other module file, resolve only the TUF vendor file', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home };
  t.is((await runCli(['init', GUN], env)).code, 0);
  t.is((await runCli(['sign', `${GUN}:v1`, '--digest', digestOf('a'), '--size', '10'], env)).code, 0);

  const bundle = [join(ROOT, 'client/bin/tagtrust.js'), join(ROOT, 'client/dist/tagtrust.cjs')];
  const expected: [string[], string[]][] = [
    [['--help'], bundle],
    [['resolve', `${GUN}:v1`], [...bundle, join(ROOT, 'client/dist/tagtrust-vendor-tuf.cjs')]],
  ];
  for (const [args, loaded] of expected) {
    const record = await recorder(await tempHome());
    const run = await runCli(args, { ...env, ...record.env });
    t.is(run.code, 0, run.stderr);
    const { files, builtins } = await record.read();
    t.deepEqual(files, loaded, `tagtrust ${args.join(' ')}`);
    if (args[0] === '--help') {
      t.false(builtins.includes('crypto'), '--help loads no node:crypto');
      t.false(builtins.includes('internal/modules/esm/loader'), '--help needs no ESM loader');
    }
  }
});

test('sign and unsign decrypt the targets key once, though the CLI starts it before loading the publisher', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  t.is((await runCli(['init', GUN], env)).code, 0);

  const steps: [string, string[]][] = [
    ['sign', ['sign', `${GUN}:v1`, '--digest', digestOf('a'), '--size', '10']],
    ['sign again', ['sign', `${GUN}:v2`, '--digest', digestOf('b'), '--size', '10']],
    ['unsign', ['unsign', `${GUN}:v1`]],
  ];
  for (const [what, args] of steps) {
    const record = await recorder(await tempHome(), true);
    const run = await runCli(args, { ...env, ...record.env });
    t.is(run.code, 0, `${what}: ${run.stderr}`);
    t.is((await record.read()).scrypt, 1, `${what}: scrypt runs once`);
  }
  const resolved = await runCli(['resolve', `${GUN}:v2`], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() });
  t.is(resolved.stdout, `${GUN}@${digestOf('b')}\n`);
  t.is((await runCli(['resolve', `${GUN}:v1`], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() })).code, 6, 'v1 was unsigned');
});

test('sign into a binned collection decrypts only the bin key, once', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome(), TAGTRUST_BINS_PASSPHRASE: 'bins-passphrase-for-tests' };
  const binned = 'registry.example.com/startup/binned';
  t.is((await runCli(['init', binned], env)).code, 0);
  const enabled = await runCli(['bins', 'enable', binned, '--bins', '16'], env);
  t.is(enabled.code, 0, enabled.stderr);
  // Both passphrases are at hand; the targets key would be a second scrypt run for nothing.
  const record = await recorder(await tempHome(), true);
  const run = await runCli(['sign', `${binned}:v1`, '--digest', digestOf('a'), '--size', '10'], { ...env, ...record.env });
  t.is(run.code, 0, run.stderr);
  t.is((await record.read()).scrypt, 1, 'scrypt runs once, for the bin key');
  const resolved = await runCli(['resolve', `${binned}:v1`], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() });
  t.is(resolved.stdout, `${binned}@${digestOf('a')}\n`);
});

test('--ca trusts that CA and no other', async (t) => {
  const [tls, unrelated] = await Promise.all([issueSelfSignedCertificate({ hosts: ['127.0.0.1'] }), issueSelfSignedCertificate({ hosts: ['127.0.0.1'] })]);
  const server = await startTestServer({ tls });
  t.teardown(() => server.close());
  const dir = await tempHome();
  const [serverCa, otherCa] = [join(dir, 'server-ca.pem'), join(dir, 'other-ca.pem')];
  await writeFile(serverCa, tls.cert);
  await writeFile(otherCa, unrelated.cert);
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  const refused = await runCli(['init', GUN, '--ca', otherCa], env);
  t.is(refused.code, 9, refused.stderr);
  t.regex(refused.stderr, /^tagtrust: .*certificate/);
  const init = await runCli(['init', GUN, '--ca', serverCa], env);
  t.is(init.code, 0, init.stderr);
});
