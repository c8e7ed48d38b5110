/**
 * One name, one spelling. A registry written another way (`REGISTRY.example.com`,
 * `registry.example.com:443`, `127.1`, `[0:0::1]`, `localhost:05000`) would name another collection
 * with its own root, outside the pins written for the usual spelling: a pin on
 * `registry.example.com/evil/*` did not cover `REGISTRY.example.com/evil/app`, and trust on first use
 * took an attacker's root. Every entry point (library, CLI, pins, server routes) now refuses such
 * names with InvalidReferenceError (CLI exit 3, HTTP 400) naming the one spelling.
 */
import test from 'ava';
import { generateKeyPair } from '@tagtrust/keys';
import { InvalidReferenceError, UntrustedRootError, pinCollection } from '@tagtrust/client';
import { publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { getTufFile, publishRaw } from './helpers/metadata.js';
import { startTestServer } from './helpers/server.js';
import { MaliciousServer } from './harness/malicious-server.js';
import { RepositorySimulator } from './harness/repository-simulator.js';
import { assertRefused } from './harness/attack.js';

const PINNED_PREFIX = 'registry.example.com/evil';
const VARIANTS = ['REGISTRY.example.com/evil/app', 'registry.example.com:443/evil/app', 'Registry.Example.COM/evil/app'];

/**
 * The attacker's collection, served under `served` with target names of `served`; the puller pinned
 * `registry.example.com/evil/*` to a root key the attacker does not have.
 */
async function pinBypassSetup(t: import('ava').ExecutionContext) {
  const evil = await MaliciousServer.start();
  t.teardown(() => evil.close());
  const attacker = await RepositorySimulator.create({ gun: `${PINNED_PREFIX}/app` });
  const home = await tempHome();
  const organisationKey = await generateKeyPair('ed25519');
  await pinCollection(home, `${PINNED_PREFIX}/*`, { rootKeyId: organisationKey.keyId });
  const serveAs = (served: string) => {
    // Raw entry: the simulator's own name check would refuse the variant.
    attacker.targets.targets[`${served}:v1`] = { length: 100, hashes: { sha256: 'e'.repeat(64) } };
    attacker.publishTargets();
    evil.serve(served, (file) => attacker.fetch(file));
  };
  return { evil, attacker, home, serveAs };
}

for (const variant of VARIANTS) {
  test(`pin_bypass_by_spelling: ${variant} is refused before any request`, async (t) => {
    const { evil, home, serveAs } = await pinBypassSetup(t);
    serveAs(variant);
    const err = await assertRefused(t, pullerFor(evil.url, home).resolve(`${variant}:v1`), InvalidReferenceError, 'INVALID_REFERENCE', /is another spelling of "registry\.example\.com" \(.*\): write "registry\.example\.com"/);
    t.false(err.message.includes('\n'));
    const cli = await runCli(['resolve', `${variant}:v1`], { TAGTRUST_SERVER: evil.url, TAGTRUST_HOME: home });
    t.is(cli.code, 3, cli.stderr);
    t.is(cli.stdout, '');
    t.is(cli.stderr.trim().split('\n').length, 1, cli.stderr);
    t.deepEqual(evil.requested(), [], 'nothing was requested');
  });
}

test('pin_bypass_by_spelling: the one spelling is covered by the pin', async (t) => {
  const { evil, home, serveAs } = await pinBypassSetup(t);
  serveAs(`${PINNED_PREFIX}/app`);
  await assertRefused(t, pullerFor(evil.url, home).resolve(`${PINNED_PREFIX}/app:v1`), UntrustedRootError, 'UNTRUSTED_ROOT', /is not signed by a root key pinned for registry\.example\.com\/evil\/\*/);
});

test('pins, the CLI and the publisher refuse other spellings', async (t) => {
  const home = await tempHome();
  const key = await generateKeyPair('ed25519');
  for (const pattern of ['REGISTRY.example.com/evil/*', 'registry.example.com:443/evil/*', 'REGISTRY.example.com/evil/app']) {
    await t.throwsAsync(pinCollection(home, pattern, { rootKeyId: key.keyId }), { message: /another spelling of "registry\.example\.com"/ }, pattern);
  }
  const cli = await runCli(['trust', 'pin', 'registry.example.com:443/evil/*', '--root-keyid', key.keyId], { TAGTRUST_HOME: home });
  t.not(cli.code, 0);
  t.regex(cli.stderr, /another spelling of "registry\.example\.com"/);
  const publisher = publisherFor('http://127.0.0.1:9', home);
  await assertRefused(t, publisher.init('127.1/team/app'), InvalidReferenceError, 'INVALID_REFERENCE', /another spelling of "127\.0\.0\.1"/);
});

test('the server refuses other spellings in routes', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const home = await tempHome();
  await publisherFor(server.url, home).init('registry.example.com/evil/app');
  for (const gun of ['REGISTRY.example.com/evil/app', 'registry.example.com:443/evil/app', 'localhost:05000/app', '[0:0::1]/app']) {
    const read = await getTufFile(server.url, gun, 'root.json');
    t.is(read.status, 400, `GET ${gun}: ${read.text}`);
    t.regex(read.text, /another spelling of/);
    const publish = await publishRaw(server.url, gun, { targets: {} });
    t.is(publish.status, 400, `POST ${gun}: ${publish.text}`);
  }
  t.is((await getTufFile(server.url, 'registry.example.com/evil/app', 'root.json')).status, 200);
});
