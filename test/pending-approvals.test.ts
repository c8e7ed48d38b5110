import test from 'ava';
import type { ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decryptKeyFile, generateKeyPair, parseKeyFile, signBytes, signMetadata } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { NotSignedError, VersionConflictError } from '@tagtrust/client';
import { buildTargets, canonicalBytes, expiresAfter, pendingBasePath, tufBasePath } from '@tagtrust/shared';
import type { Metadata, PendingResult, PendingStatus, RootSigned, TargetsSigned } from '@tagtrust/shared';
import { MAX_OPEN_PER_ROLE } from '@tagtrust/server';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { PASSPHRASES, digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/team/app';
const DAY = 24 * 3600_000;

test('a 2-of-3 release role publishes only after the second approval', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const managers = await Promise.all([1, 2, 3].map(async () => publisherFor(server.url, await tempHome())));
  await owner.init(GUN);
  const keys = await Promise.all(managers.map((m, i) => m.generateKey(`release${i + 1}`)));
  await owner.addDelegation(GUN, 'targets/release', { keys: keys.map((k) => k.publicKey), threshold: 2, paths: ['v*', 'latest'] });

  const proposed = await managers[0]!.sign(`${GUN}:v1.0.0`, { digest: digestOf('1'), size: 10 }, { role: 'targets/release' });
  t.truthy(proposed.pending);
  t.like(proposed.pending, { role: 'targets/release', baseVersion: 0, threshold: 2, signedBy: [keys[0]!.keyId], state: 'open' });
  const puller = pullerFor(server.url, await tempHome());
  await t.throwsAsync(puller.resolve(`${GUN}:v1.0.0`), { instanceOf: NotSignedError });

  const [view] = await managers[1]!.listPending(GUN);
  t.like(view, { role: 'targets/release', version: 1, state: 'open', threshold: 2 });
  t.deepEqual(view!.tags, [{ kind: 'add', reference: `${GUN}:v1.0.0`, to: digestOf('1') }]);

  const reviewed: string[] = [];
  const approved = await managers[1]!.approve(GUN, 'targets/release', { review: (v) => void reviewed.push(v.id) });
  t.deepEqual(reviewed, [view!.id]);
  t.true(approved.published);
  t.is((await puller.resolve(`${GUN}:v1.0.0`)).digest, digestOf('1'));
  t.deepEqual(await managers[2]!.listPending(GUN), []);

  // Moving a tag is shown as a move, and one approval is again not enough on its own.
  const move = await managers[2]!.sign(`${GUN}:v1.0.0`, { digest: digestOf('2'), size: 10 }, { role: 'targets/release' });
  t.is(move.pending?.signedBy.length, 1);
  const [moveView] = await managers[0]!.listPending(GUN);
  t.deepEqual(moveView!.tags, [{ kind: 'move', reference: `${GUN}:v1.0.0`, from: digestOf('1'), to: digestOf('2') }]);
  t.is((await puller.resolve(`${GUN}:v1.0.0`)).digest, digestOf('1'));
  await managers[0]!.approve(GUN, 'targets/release');
  t.is((await puller.resolve(`${GUN}:v1.0.0`)).digest, digestOf('2'));
});

interface Fixture {
  server: TestServer;
  keys: KeyPair[];
}

async function releaseRole(t: ExecutionContext, config = {}): Promise<Fixture> {
  const server = await startTestServer(config);
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const keys = await Promise.all([1, 2, 3].map(() => generateKeyPair()));
  await owner.addDelegation(GUN, 'targets/release', { keys: keys.map((k) => k.publicKey), threshold: 2, paths: ['v*'] });
  return { server, keys };
}

function release(version: number, tag: string, signers: KeyPair[]): Metadata<TargetsSigned> {
  return signMetadata(buildTargets(version, expiresAfter(new Date(), 30 * DAY), { [`${GUN}:${tag}`]: { length: 10, hashes: { sha256: 'b'.repeat(64) } } }), signers);
}

async function call(server: TestServer, path: string, body?: unknown): Promise<{ status: number; body: PendingResult & PendingStatus[] & { error?: { code: string; message: string } } }> {
  const response = await fetch(`${server.url}${pendingBasePath(GUN)}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as never };
}

const sign = (key: KeyPair, metadata: Metadata<TargetsSigned>) => signBytes(key, canonicalBytes(metadata.signed));

test('a stale pending change is refused and dropped', async (t) => {
  const { server, keys } = await releaseRole(t);
  const a = release(1, 'v1', [keys[0]!]);
  const b = release(1, 'v2', [keys[1]!]);
  const pa = await call(server, '', { role: 'targets/release', metadata: a });
  const pb = await call(server, '', { role: 'targets/release', metadata: b });
  t.is(pa.status, 200);
  t.is(pa.body.pending?.state, 'open');
  t.is(pb.body.pending?.baseVersion, 0);
  // b reaches its threshold first: release v1 is published.
  const published = await call(server, `/${pb.body.pending!.id}`, { signatures: [sign(keys[2]!, b)] });
  t.is(published.status, 200);
  t.is(published.body.published?.versions['targets/release'], 1);
  // a was based on v0 too: it is stale now.
  const listed = await call(server, '');
  t.deepEqual(listed.body.map((p) => [p.id, p.state]), [[pa.body.pending!.id, 'stale']]);
  const stale = await call(server, `/${pa.body.pending!.id}`, { signatures: [sign(keys[2]!, a)] });
  t.is(stale.status, 409);
  t.is(stale.body.error?.code, 'VERSION_CONFLICT');
  t.regex(stale.body.error!.message, /pending change [0-9a-f]{16} is stale: it changes targets\/release v0, but the collection is at v1/);
  t.deepEqual((await call(server, '')).body, []);
  await t.throwsAsync(pullerFor(server.url, await tempHome()).resolve(`${GUN}:v1`), { instanceOf: NotSignedError });
  // The staging area needs a push token, for reading too.
  t.is((await fetch(`${server.url}${pendingBasePath(GUN)}`)).status, 401);
  t.is((await fetch(`${server.url}${pendingBasePath(GUN)}/not-an-id`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 404);
  // Proposing a version that is already taken is refused outright.
  const again = await call(server, '', { role: 'targets/release', metadata: release(1, 'v3', [keys[0]!]) });
  t.is(again.status, 409);
});

test('the client refuses to approve a stale change before signing', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const [m1, m2] = await Promise.all([1, 2].map(async () => publisherFor(server.url, await tempHome())));
  await owner.init(GUN);
  const k1 = await m1!.generateKey('r1');
  const k2 = await m2!.generateKey('r2');
  await owner.addDelegation(GUN, 'targets/release', { keys: [k1.publicKey, k2.publicKey], threshold: 2, paths: ['v*'] });
  const first = await m1!.sign(`${GUN}:v1`, { digest: digestOf('1'), size: 1 }, { role: 'targets/release' });
  const second = await m2!.sign(`${GUN}:v2`, { digest: digestOf('2'), size: 1 }, { role: 'targets/release' });
  await m1!.approve(GUN, 'targets/release', { id: second.pending!.id });
  const refused = await t.throwsAsync(m2!.approve(GUN, 'targets/release', { id: first.pending!.id }));
  t.true(refused instanceof VersionConflictError);
  t.regex(refused!.message, /is stale: it cannot be published; propose the change again/);
  // Without --id, approve picks the one change that can still be published, not the stale one.
  const third = await m2!.sign(`${GUN}:v3`, { digest: digestOf('3'), size: 1 }, { role: 'targets/release' });
  const approved = await m1!.approve(GUN, 'targets/release');
  t.is(approved.view.id, third.pending!.id);
  t.true(approved.published);
});

test('an expired pending change is refused', async (t) => {
  const { server, keys } = await releaseRole(t, { pendingLifetime: 3600_000 });
  const a = release(1, 'v1', [keys[0]!]);
  const proposed = await call(server, '', { role: 'targets/release', metadata: a });
  t.is(proposed.status, 200);
  server.clock.advance(2 * 3600_000);
  t.deepEqual((await call(server, '')).body.map((p) => p.state), ['expired']);
  const late = await call(server, `/${proposed.body.pending!.id}`, { signatures: [sign(keys[1]!, a)] });
  t.is(late.status, 400);
  t.is(late.body.error?.code, 'EXPIRED');
  t.deepEqual((await call(server, '')).body, []);
});

test('approvals with bad or foreign signatures are refused; a revoked approver stops counting', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  await owner.init(GUN);
  const keys = await Promise.all([1, 2, 3].map(() => generateKeyPair()));
  await owner.addDelegation(GUN, 'targets/release', { keys: keys.map((k) => k.publicKey), threshold: 2, paths: ['v*'] });
  const a = release(1, 'v1', [keys[0]!]);
  const { body } = await call(server, '', { role: 'targets/release', metadata: a });
  const id = body.pending!.id;

  const stranger = await generateKeyPair();
  const foreign = await call(server, `/${id}`, { signatures: [sign(stranger, a)] });
  t.is(foreign.status, 400);
  t.is(foreign.body.error?.code, 'BAD_SIGNATURE');
  t.regex(foreign.body.error!.message, /is by a key targets\/release does not list/);
  const forged = await call(server, `/${id}`, { signatures: [{ keyid: keys[1]!.keyId, sig: sign(keys[1]!, release(1, 'v9', [])).sig }] });
  t.is(forged.body.error?.code, 'BAD_SIGNATURE');
  t.regex(forged.body.error!.message, /does not verify/);
  const outside = await call(server, '', { role: 'targets/release', metadata: release(1, 'dev-1', [keys[0]!]) });
  t.is(outside.body.error?.code, 'SUBSTITUTION');

  // The owner revokes the proposer's key: its signature no longer counts toward the threshold.
  await owner.removeDelegationKey(GUN, 'targets/release', keys[0]!.keyId.slice(0, 12));
  const after = await call(server, `/${id}`, { signatures: [sign(keys[1]!, a)] });
  t.is(after.status, 200);
  t.deepEqual(after.body.pending?.signedBy, [keys[1]!.keyId]);
  t.is(after.body.published, undefined);
  const done = await call(server, `/${id}`, { signatures: [sign(keys[2]!, a)] });
  t.is(done.body.published?.versions['targets/release'], 1);
});

test('CLI: sign into a 2-of-2 role, pending list, approve', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const ownerEnv = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  const aliceHome = await tempHome();
  const bobHome = await tempHome();
  const alice = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: aliceHome, TAGTRUST_ALICE_PASSPHRASE: 'alice-passphrase' };
  const bob = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: bobHome, TAGTRUST_BOB_PASSPHRASE: 'bob-passphrase' };
  t.is((await runCli(['init', GUN], ownerEnv)).code, 0);
  t.is((await runCli(['key', 'generate', '--name', 'alice', '--out', `${aliceHome}/alice.pub`], alice)).code, 0);
  t.is((await runCli(['key', 'generate', '--name', 'bob', '--out', `${bobHome}/bob.pub`], bob)).code, 0);
  const add = await runCli(
    ['delegation', 'add', GUN, 'targets/release', '--key', `${aliceHome}/alice.pub`, '--key', `${bobHome}/bob.pub`, '--threshold', '2', '--paths', 'v*'],
    ownerEnv,
  );
  t.true(add.stdout.endsWith(`\nDelegated targets/release in ${GUN}: 2 of 2 keys (targets v2)\n`), add.stderr);

  const sign = await runCli(['sign', `${GUN}:v1.0.0`, '--digest', digestOf('a'), '--size', '7', '--role', 'targets/release'], alice);
  t.is(sign.code, 0, sign.stderr);
  t.regex(sign.stdout, /^Proposed registry\.example\.com\/team\/app:v1\.0\.0 -> sha256:a{64} \(targets\/release v1, pending [0-9a-f]{16}\): 1 of 2 signatures\n  other signers approve with: tagtrust approve registry\.example\.com\/team\/app targets\/release\n$/);

  const list = await runCli(['pending', 'list', GUN], bob);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, /^[0-9a-f]{16}  targets\/release v1  1 of 2 signatures  open, expires \S+\n  \+ registry\.example\.com\/team\/app:v1\.0\.0 -> sha256:a{64}\n$/);

  const approve = await runCli(['approve', GUN, 'targets/release'], bob);
  t.is(approve.code, 0, approve.stderr);
  t.regex(approve.stdout, /^Pending change [0-9a-f]{16} to targets\/release v1:\n  \+ registry\.example\.com\/team\/app:v1\.0\.0 -> sha256:a{64}\nApproved: 2 of 2 signatures, published targets\/release v1\n$/);
  const resolve = await runCli(['resolve', `${GUN}:v1.0.0`], ownerEnv);
  t.is(resolve.stdout, `${GUN}@${digestOf('a')}\n`, resolve.stderr);
  t.is((await runCli(['approve', GUN, 'targets/release'], bob)).code, 5);
});

test('top-level targets with threshold 2: signing proposes, a second targets key holder approves', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const ownerHome = await tempHome();
  const secondHome = await tempHome();
  const owner = publisherFor(server.url, ownerHome);
  const second = publisherFor(server.url, secondHome);
  const init = await owner.init(GUN);
  const extra = await second.generateKey('targets2');

  // Root v2 makes targets 2-of-2 (owner's targets key + the second key); targets v2 is re-signed by both.
  const unlock = async (home: string, keyId: string, passphrase: string) =>
    decryptKeyFile(parseKeyFile(await readFile(join(home, 'keys', `${keyId}.key`), 'utf8'), keyId), passphrase);
  const rootKey = await unlock(ownerHome, init.rootKeyId, PASSPHRASES.root);
  const targetsKey = await unlock(ownerHome, init.targetsKeyId, PASSPHRASES.targets);
  const secondKey = await unlock(secondHome, extra.keyId, PASSPHRASES.targets);
  const get = async (file: string) => (await (await fetch(`${server.url}${tufBasePath(GUN)}/${file}`)).json()) as Metadata;
  const root = (await get('root.json')) as Metadata<RootSigned>;
  const rootV2: RootSigned = structuredClone(root.signed);
  rootV2.version = 2;
  rootV2.keys[extra.keyId] = extra.publicKey;
  rootV2.roles.targets = { keyids: [init.targetsKeyId, extra.keyId], threshold: 2 };
  const targets = (await get('targets.json')) as Metadata<TargetsSigned>;
  const targetsV2 = { ...targets.signed, version: 2 };
  const response = await fetch(`${server.url}${tufBasePath(GUN)}/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ root: signMetadata(rootV2, [rootKey]), targets: signMetadata(targetsV2, [targetsKey, secondKey]) }),
  });
  t.is(response.status, 200, await response.text());

  const proposed = await owner.sign(`${GUN}:v1`, { digest: digestOf('7'), size: 7 });
  t.like(proposed.pending, { role: 'targets', threshold: 2, signedBy: [init.targetsKeyId] });
  const puller = pullerFor(server.url, await tempHome());
  await t.throwsAsync(puller.resolve(`${GUN}:v1`), { instanceOf: NotSignedError });
  const approved = await second.approve(GUN, 'targets');
  t.deepEqual(approved.view.tags, [{ kind: 'add', reference: `${GUN}:v1`, to: digestOf('7') }]);
  t.true(approved.published);
  t.is((await puller.resolve(`${GUN}:v1`)).digest, digestOf('7'));
});

test('a role may have at most MAX_OPEN_PER_ROLE open pending changes; publishing one frees the others', async (t) => {
  const { server, keys } = await releaseRole(t);
  const proposals = [];
  for (let i = 0; i < MAX_OPEN_PER_ROLE; i += 1) {
    const proposed = await call(server, '', { role: 'targets/release', metadata: release(1, `v${i}`, [keys[0]!]) });
    t.is(proposed.status, 200, `proposal ${i}`);
    proposals.push(proposed.body.pending!);
  }
  const refused = await call(server, '', { role: 'targets/release', metadata: release(1, 'v-one-more', [keys[0]!]) });
  t.is(refused.status, 400);
  t.is(refused.body.error?.code, 'INVALID_INPUT');
  t.regex(refused.body.error!.message, new RegExp(`targets/release of ${GUN} already has ${MAX_OPEN_PER_ROLE} open pending changes, the most it may have: approve them`));
  t.is((await call(server, '')).body.length, MAX_OPEN_PER_ROLE, 'the refused proposal was not stored');
  // Publishing one makes the others stale: they no longer count.
  const first = proposals[0]!;
  t.is((await call(server, `/${first.id}`, { signatures: [sign(keys[1]!, first.metadata as Metadata<TargetsSigned>)] })).status, 200);
  t.is((await call(server, '', { role: 'targets/release', metadata: release(2, 'v-next', [keys[0]!]) })).status, 200);
});
