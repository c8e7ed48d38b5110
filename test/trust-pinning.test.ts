/**
 * Trust on first use and pinning: `tagtrust trust pin <gun> --root-file FILE | --root-keyid ID`,
 * prefix pins (`registry.example.com/team/*`), `trust show`, `trust forget`, and strict mode
 * (`--no-tofu`, TAGTRUST_NO_TOFU=1, `tofu: false`) that refuses unpinned collections.
 */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '@tagtrust/keys';
import { SignatureError, UntrustedRootError, pinCollection, showTrust } from '@tagtrust/client';
import { digestOf, pullerFor, runCli, tempHome } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import { MaliciousServer } from './harness/malicious-server.js';
import { RepositorySimulator } from './harness/repository-simulator.js';
import { EXIT, assertRefused, trustState } from './harness/attack.js';

const TEAM = 'registry.example.com/team';

async function collection(t: import('ava').ExecutionContext, evil: MaliciousServer, gun: string, rootKeys?: Awaited<ReturnType<typeof generateKeyPair>>[]) {
  const sim = await RepositorySimulator.create({ gun, ...(rootKeys ? { rootKeys } : {}) });
  sim.addTarget('v1', digestOf('a'), 100);
  sim.publishTargets();
  evil.serve(gun, (file) => sim.fetch(file));
  t.truthy(sim);
  return sim;
}

async function setup(t: import('ava').ExecutionContext) {
  const evil = await MaliciousServer.start();
  t.teardown(() => evil.close());
  const home = await tempHome();
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { TAGTRUST_SERVER: evil.url, TAGTRUST_HOME: home, ...env });
  return { evil, home, cli };
}

test('trust_pin_root_file: the collection starts from the pinned root, not the served one', async (t) => {
  const { evil, home, cli } = await setup(t);
  const sim = await collection(t, evil, `${TEAM}/app`);
  const rootFile = join(home, 'root.json');
  await writeFile(rootFile, sim.fetch('1.root.json')!);
  const pin = await cli(['trust', 'pin', sim.gun, '--root-file', rootFile]);
  t.is(pin.code, 0, pin.stderr);
  t.is(pin.stdout, `Pinned ${sim.gun} to root v1 from ${rootFile}\n`);
  const ok = await cli(['resolve', `${sim.gun}:v1`]);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stderr, '', 'no trust-on-first-use notice');
  t.false(evil.requested(sim.gun).includes('root.json'), 'the served root.json is never used');
  // An impostor server for the same collection (other keys throughout) is refused.
  const impostor = await RepositorySimulator.create({ gun: sim.gun });
  evil.serve(sim.gun, (file) => impostor.fetch(file));
  const other = await tempHome();
  await pinCollection(other, sim.gun, { rootFile });
  await assertRefused(t, pullerFor(evil.url, other).resolve(`${sim.gun}:v1`), SignatureError, 'BAD_SIGNATURE');
  t.deepEqual(await trustState(other, sim.gun), {});
});

test('trust_pin_root_keyid: the first root must be signed by the pinned key', async (t) => {
  const { evil, home, cli } = await setup(t);
  const sim = await collection(t, evil, `${TEAM}/app`);
  const rootKeyId = sim.signers.get('root')![0]!.keyId;
  t.is((await cli(['trust', 'pin', sim.gun, '--root-keyid', rootKeyId])).code, 0);
  const ok = await cli(['resolve', `${sim.gun}:v1`]);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stderr, '');
  // An impostor with its own root key, and one listing the pinned key ID for its own key.
  const impostor = await RepositorySimulator.create({ gun: sim.gun });
  evil.serve(sim.gun, (file) => impostor.fetch(file));
  const fresh = await tempHome();
  await pinCollection(fresh, sim.gun, { rootKeyId });
  await assertRefused(t, pullerFor(evil.url, fresh).resolve(`${sim.gun}:v1`), UntrustedRootError, 'UNTRUSTED_ROOT', /is not signed by a root key pinned for registry\.example\.com\/team\/app/);
  const [impostorKey] = impostor.signers.get('root')!;
  delete impostor.root.keys[impostorKey!.keyId];
  impostor.root.keys[rootKeyId] = impostorKey!.publicKey;
  impostor.root.roles.root = { keyids: [rootKeyId], threshold: 1 };
  impostor.publishRoot();
  // Its signature, by its own key, is filed under the pinned key ID: it verifies against keys[pinned ID].
  const forged = impostor.fetch('root.json')!.toString().replaceAll(impostorKey!.keyId, rootKeyId);
  impostor.files.set('root.json', Buffer.from(forged));
  await assertRefused(t, pullerFor(evil.url, fresh).resolve(`${sim.gun}:v1`), UntrustedRootError, 'UNTRUSTED_ROOT', /lists a key under ID [0-9a-f]{8}, which is not that key's ID/);
  const cliFresh = await runCli(['resolve', `${sim.gun}:v1`], { TAGTRUST_SERVER: evil.url, TAGTRUST_HOME: fresh });
  t.is(cliFresh.code, EXIT.UNTRUSTED_ROOT);
  t.deepEqual(await trustState(fresh, sim.gun), {});
});

test('trust_pin_prefix: an organisation pins its root key once for all its repositories', async (t) => {
  const { evil, home, cli } = await setup(t);
  const orgKey = await generateKeyPair('ed25519');
  const app = await collection(t, evil, `${TEAM}/app`, [orgKey]);
  const web = await collection(t, evil, `${TEAM}/sub/web`, [orgKey]);
  const rogue = await collection(t, evil, `${TEAM}/rogue`);
  const outside = await collection(t, evil, 'registry.example.com/elsewhere/app');
  const pin = await cli(['trust', 'pin', `${TEAM}/*`, '--root-keyid', orgKey.keyId]);
  t.is(pin.code, 0, pin.stderr);
  t.is(pin.stdout, `Pinned ${TEAM}/* to root key ${orgKey.keyId.slice(0, 16)}\n`);
  for (const sim of [app, web]) {
    const ok = await cli(['resolve', `${sim.gun}:v1`, '--no-tofu']);
    t.is(ok.code, 0, ok.stderr);
    t.is(ok.stderr, '');
  }
  const refused = await cli(['resolve', `${rogue.gun}:v1`]);
  t.is(refused.code, EXIT.UNTRUSTED_ROOT, refused.stderr);
  t.regex(refused.stderr, /is not signed by a root key pinned for registry\.example\.com\/team\/\*/);
  // Outside the prefix: trust on first use, unless strict.
  const strict = await cli(['resolve', `${outside.gun}:v1`, '--no-tofu']);
  t.is(strict.code, EXIT.UNTRUSTED_ROOT);
  const tofu = await cli(['resolve', `${outside.gun}:v1`]);
  t.is(tofu.code, 0);
  t.regex(tofu.stderr, /trusting root v1 of registry\.example\.com\/elsewhere\/app on first use/);
  // A more specific pin wins over the prefix.
  const rogueKey = rogue.signers.get('root')![0]!.keyId;
  t.is((await cli(['trust', 'pin', rogue.gun, '--root-keyid', rogueKey])).code, 0);
  t.is((await cli(['resolve', `${rogue.gun}:v1`])).code, 0);
  const show = await cli(['trust', 'show']);
  t.is(show.code, 0);
  t.regex(show.stdout, new RegExp(`^pin ${TEAM}/\\*: root key ${orgKey.keyId.slice(0, 16)} \\(since `, 'm'));
  t.regex(show.stdout, new RegExp(`^trusted ${TEAM}/app: root v1 \\(keys ${orgKey.keyId.slice(0, 16)}\\), timestamp v2 until \\S+, pinned by ${TEAM.replace(/\./g, '\\.')}/\\*$`, 'm'));
  t.regex(show.stdout, /^trusted registry\.example\.com\/elsewhere\/app: .*trusted on first use or --root-file$/m);
  t.regex(show.stdout, new RegExp(`^trusted ${TEAM}/rogue: .*pinned by ${TEAM}/rogue$`, 'm'));
  const json = JSON.parse((await cli(['trust', 'show', app.gun, '--json'])).stdout) as Awaited<ReturnType<typeof showTrust>>;
  t.deepEqual(json.collections.map((c) => [c.gun, c.rootVersion, c.pinnedBy]), [[app.gun, 1, `${TEAM}/*`]]);
  t.deepEqual(json.pins.map((p) => p.pattern), [`${TEAM}/*`]);
});

test('strict_mode_no_tofu: unpinned collections are refused; pinned, --root-file and trusted ones work', async (t) => {
  const { evil, home, cli } = await setup(t);
  const sim = await collection(t, evil, `${TEAM}/app`);
  const ref = `${sim.gun}:v1`;
  await assertRefused(t, pullerFor(evil.url, home, { tofu: false }).resolve(ref), UntrustedRootError, 'UNTRUSTED_ROOT', /is not pinned and trust on first use is off \(--no-tofu \/ TAGTRUST_NO_TOFU\): pin its root with `tagtrust trust pin/);
  for (const [args, env] of [[['--no-tofu'], {}], [[], { TAGTRUST_NO_TOFU: '1' }]] as const) {
    const refused = await cli(['resolve', ref, ...args], env);
    t.is(refused.code, EXIT.UNTRUSTED_ROOT, refused.stderr);
  }
  t.deepEqual(await trustState(home, sim.gun), {});
  t.false(evil.requested(sim.gun).includes('root.json'), 'strict mode never downloads a root to trust');
  const rootFile = join(home, 'root.json');
  await writeFile(rootFile, sim.fetch('root.json')!);
  const withFile = await cli(['resolve', ref, '--root-file', rootFile], { TAGTRUST_NO_TOFU: '1' });
  t.is(withFile.code, 0, withFile.stderr);
  // Now trusted: strict mode keeps working for it.
  t.is((await cli(['resolve', ref], { TAGTRUST_NO_TOFU: '1' })).code, 0);
});

test('trust_pin_conflicts_with_trusted_state, and trust forget', async (t) => {
  const { evil, home, cli } = await setup(t);
  const sim = await collection(t, evil, `${TEAM}/app`);
  t.is((await cli(['resolve', `${sim.gun}:v1`])).code, 0);
  const otherKey = await generateKeyPair('ed25519');
  const conflict = await cli(['trust', 'pin', sim.gun, '--root-keyid', otherKey.keyId]);
  t.is(conflict.code, EXIT.UNTRUSTED_ROOT, conflict.stderr);
  t.regex(conflict.stderr, /already trusts root v1, which the pin does not match .*`tagtrust trust forget registry\.example\.com\/team\/app` then pin again/);
  const forget = await cli(['trust', 'forget', sim.gun]);
  t.is(forget.stdout, `Forgot the trusted metadata of ${sim.gun}\n`);
  t.deepEqual(await trustState(home, sim.gun), {});
  t.is((await cli(['trust', 'pin', sim.gun, '--root-keyid', otherKey.keyId])).code, 0);
  t.is((await cli(['resolve', `${sim.gun}:v1`])).code, EXIT.UNTRUSTED_ROOT);
});

test('trust_pin_usage_errors', async (t) => {
  const { cli, home } = await setup(t);
  const rootFile = join(home, 'root.json');
  await writeFile(rootFile, '{}');
  for (const [args, message] of [
    [['trust', 'pin', `${TEAM}/*`, '--root-file', rootFile], /a prefix pin needs --root-keyid/],
    [['trust', 'pin', `${TEAM}/app`], /give exactly one of --root-file FILE and --root-keyid ID/],
    [['trust', 'pin', `${TEAM}/app`, '--root-keyid', 'abc'], /must be 64 lowercase hex characters/],
    [['trust', 'frobnicate'], /unknown trust action "frobnicate"/],
    [['trust'], /wrong number of arguments/],
  ] as const) {
    const result = await cli([...args]);
    t.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    t.regex(result.stderr, message);
  }
  const badRoot = await cli(['trust', 'pin', `${TEAM}/app`, '--root-file', rootFile]);
  t.is(badRoot.code, EXIT.UNTRUSTED_ROOT);
  t.regex(badRoot.stderr, /is not a valid self-signed root/);
});

test('trust_pin_prefix_with_real_server: collections initialised with a shared root key (init --root-key) resolve under one prefix pin in strict mode', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const publisherHome = await tempHome();
  const publisherEnv = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: publisherHome };
  const first = await runCli(['init', `${TEAM}/app`], publisherEnv);
  t.is(first.code, 0, first.stderr);
  // The first private key printed is the root key: its file name is the full key ID that pins need.
  const fullRootKeyId = /private key: .*\/([0-9a-f]{64})\.key/.exec(first.stdout)![1]!;
  const rootKeyId = fullRootKeyId.slice(0, 8);
  const second = await runCli(['init', `${TEAM}/web`, '--root-key', rootKeyId], publisherEnv);
  t.is(second.code, 0, second.stderr);
  t.regex(second.stdout, new RegExp(`root key ${rootKeyId}`));
  t.notRegex(second.stdout, /private key: .*\n.*private key:/, 'only the new targets key is written');
  for (const gun of [`${TEAM}/app`, `${TEAM}/web`]) {
    t.is((await runCli(['sign', `${gun}:v1`, '--digest', digestOf('c'), '--size', '7'], publisherEnv)).code, 0);
  }

  const pullerEnv = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome(), TAGTRUST_NO_TOFU: '1' };
  const pin = await runCli(['trust', 'pin', `${TEAM}/*`, '--root-keyid', fullRootKeyId], pullerEnv);
  t.is(pin.code, 0, pin.stderr);
  for (const gun of [`${TEAM}/app`, `${TEAM}/web`]) {
    const resolved = await runCli(['resolve', `${gun}:v1`], pullerEnv);
    t.is(resolved.code, 0, resolved.stderr);
    t.is(resolved.stdout, `${gun}@${digestOf('c')}\n`);
    t.is(resolved.stderr, '', 'no trust-on-first-use notice');
  }
  const other = await runCli(['init', `${TEAM}/other`], publisherEnv);
  t.is(other.code, 0, other.stderr);
  const refused = await runCli(['resolve', `${TEAM}/other:v1`], pullerEnv);
  t.is(refused.code, EXIT.UNTRUSTED_ROOT, refused.stderr);
});
