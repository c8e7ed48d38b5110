/**
 * Staged approvals are validated before they are stored (issue 10): an approval is exactly
 * `{keyid, sig}` in canonical form, verified against the proposal with the role's key, and never
 * replaces a valid signature; junk of any size is refused without touching the stored change. A
 * proposer or an admin withdraws a change; stale and expired changes are pruned on the next write
 * and by the background loop. A push-token holder attacks through the HTTP API of a real server.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { generateKeyPair, signBytes, signMetadata } from '@tagtrust/keys';
import type { KeyAlgorithm, KeyPair } from '@tagtrust/keys';
import { buildTargets, canonicalBytes, expiresAfter, pendingBasePath } from '@tagtrust/shared';
import type { Metadata, PendingStatus, Signature, TargetsSigned } from '@tagtrust/shared';
import { APPROVAL_BODY_LIMIT } from '@tagtrust/server';
import type { ServerConfig } from '@tagtrust/server';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { createToken } from './helpers/admin.js';
import { publisherFor, runCli, tempHome } from './helpers/client.js';
import { getTufFile } from './helpers/metadata.js';

const GUN = 'registry.example.com/team/app';
const DAY = 24 * 3600_000;

interface Fixture {
  server: TestServer;
  keys: KeyPair[];
}

/** A collection whose role targets/release needs 2 of `keys` (3 new keys of `algorithm`). */
async function releaseRole(t: ExecutionContext, config: Partial<ServerConfig> = {}, algorithm: KeyAlgorithm = 'ed25519'): Promise<Fixture> {
  const server = await startTestServer(config);
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome(), { timeoutMs: 120_000 });
  await owner.init(GUN);
  const keys = await Promise.all([1, 2, 3].map(() => generateKeyPair(algorithm)));
  await owner.addDelegation(GUN, 'targets/release', { keys: keys.map((k) => k.publicKey), threshold: 2, paths: ['v*'] });
  return { server, keys };
}

function release(version: number, tag: string, signers: KeyPair[]): Metadata<TargetsSigned> {
  return signMetadata(buildTargets(version, expiresAfter(new Date(), 30 * DAY), { [`${GUN}:${tag}`]: { length: 10, hashes: { sha256: 'b'.repeat(64) } } }), signers);
}

const sign = (key: KeyPair, metadata: Metadata<TargetsSigned>): Signature => signBytes(key, canonicalBytes(metadata.signed));

interface Answer {
  status: number;
  body: any; // the JSON answer, as the server sent it
}

async function call(server: TestServer, method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<Answer> {
  const response = await fetch(`${server.url}${pendingBasePath(GUN)}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

const propose = (server: TestServer, metadata: Metadata<TargetsSigned>, token?: string) => call(server, 'POST', '', { role: 'targets/release', metadata }, token);
const approve = (server: TestServer, id: string, body: unknown) => call(server, 'POST', `/${id}`, body);
const list = async (server: TestServer): Promise<PendingStatus[]> => (await call(server, 'GET', '')).body as PendingStatus[];

test('approval junk is refused before anything is stored, and the change stays approvable', async (t) => {
  const { server, keys } = await releaseRole(t);
  const [k0, k1, k2] = keys as [KeyPair, KeyPair, KeyPair];
  const proposal = release(1, 'v1', [k0]);
  const proposed = await propose(server, proposal);
  t.is(proposed.status, 200, JSON.stringify(proposed.body));
  const id = proposed.body.pending.id as string;
  const stored = (await list(server))[0]!;
  t.deepEqual(stored.metadata.signatures, proposal.signatures);
  const valid = sign(k1, proposal);
  const cases: [string, unknown, number, string, RegExp][] = [
    ['upper-case hex', { signatures: [{ ...valid, sig: valid.sig.toUpperCase() }] }, 400, 'INVALID_INPUT', /sig must be lower-case hex/],
    ['upper-case hex of the key that signed already', { signatures: [{ ...proposal.signatures[0]!, sig: proposal.signatures[0]!.sig.toUpperCase() }] }, 400, 'INVALID_INPUT', /sig must be lower-case hex/],
    ['an extra field in the signature', { signatures: [{ ...valid, note: 'x'.repeat(1000) }] }, 400, 'INVALID_INPUT', /must have exactly the fields keyid and sig \(got "keyid", "sig", "note"\)/],
    ['an extra field beside the signatures', { signatures: [valid], note: 'hello' }, 400, 'INVALID_INPUT', /with no other field/],
    ['an upper-case key ID', { signatures: [{ ...valid, keyid: valid.keyid.toUpperCase() }] }, 400, 'INVALID_INPUT', /keyid must be 64 lower-case hex/],
    ['half a byte of hex', { signatures: [{ ...valid, sig: `${valid.sig}0` }] }, 400, 'INVALID_INPUT', /whole bytes/],
    ['one key twice', { signatures: [valid, valid] }, 400, 'INVALID_INPUT', /repeats key/],
    ['too many signatures', { signatures: Array.from({ length: 17 }, () => valid) }, 400, 'INVALID_INPUT', /1 to 16 signatures/],
    ['a signature too long for any key', { signatures: [{ ...valid, sig: 'ab'.repeat(1025) }] }, 400, 'INVALID_INPUT', /at most 2048 characters/],
    ['3 MB of junk', { signatures: [{ keyid: valid.keyid, sig: 'ab'.repeat(1_500_000) }] }, 413, 'TOO_LARGE', new RegExp(`larger than the server's limit of ${APPROVAL_BODY_LIMIT} bytes`)],
    ['a valid signature of another key filed under the key of k1', { signatures: [{ keyid: k1.keyId, sig: sign(k2, proposal).sig }] }, 400, 'BAD_SIGNATURE', /does not verify/],
    ['a signature over other bytes', { signatures: [sign(k1, release(1, 'v9', []))] }, 400, 'BAD_SIGNATURE', /does not verify/],
  ];
  for (const [what, body, status, code, message] of cases) {
    const answer = await approve(server, id, body);
    t.is(answer.status, status, `${what}: ${JSON.stringify(answer.body).slice(0, 300)}`);
    t.is(answer.body.error?.code, code, what);
    t.regex(answer.body.error?.message ?? '', message, what);
  }
  // Nothing of it was stored: the change lists as proposed.
  const after = await list(server);
  t.is(after.length, 1);
  t.deepEqual(after[0]!.metadata.signatures, proposal.signatures);
  t.deepEqual(after[0]!.signedBy, [k0.keyId]);
  // A valid approval still publishes, and the published role carries exactly the two signatures.
  const published = await approve(server, id, { signatures: [valid] });
  t.is(published.status, 200, JSON.stringify(published.body));
  t.is(published.body.published?.versions['targets/release'], 1);
  const role = (await getTufFile(server.url, GUN, `1.${encodeURIComponent('targets/release')}.json`)).json as Metadata<TargetsSigned>;
  t.deepEqual(role.signatures, [proposal.signatures[0], valid]);
});

test('a valid signature is never replaced: a second approval by the same key changes nothing', async (t) => {
  // ECDSA signatures differ at each signing: a second, different, valid signature by the same key.
  const { server, keys } = await releaseRole(t, {}, 'ecdsa-p256');
  const [k0, k1] = keys as [KeyPair, KeyPair];
  const proposal = release(1, 'v1', [k0]);
  const id = (await propose(server, proposal)).body.pending.id as string;
  const again = sign(k0, proposal);
  t.not(again.sig, proposal.signatures[0]!.sig);
  const answer = await approve(server, id, { signatures: [again] });
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.deepEqual(answer.body.pending.signedBy, [k0.keyId]);
  t.deepEqual((await list(server))[0]!.metadata.signatures, proposal.signatures);
  // A proposal's signatures follow the same rule.
  const extra = { ...proposal, signatures: [{ ...sign(k1, proposal), note: 'x' }] };
  const refused = await propose(server, extra as unknown as Metadata<TargetsSigned>);
  t.is(refused.status, 400);
  t.regex(refused.body.error.message, /signatures\[0\] has the unsigned field "note" \(only "keyid" and "sig" are allowed\)/);
  // Unsigned fields are refused, as on publish (docs/security-model.md, hostile input).
  const junk = { ...proposal, extra: 'y'.repeat(100) };
  const unsigned = await propose(server, junk as unknown as Metadata<TargetsSigned>);
  t.is(unsigned.status, 400);
  t.regex(unsigned.body.error.message, /unsigned field "extra"/);
});

test('withdraw: the proposer or an admin may, another push token may not (API and CLI)', async (t) => {
  const { server, keys } = await releaseRole(t);
  const alice = await createToken(server.url, 'alice', [`push:${GUN}`]);
  const bob = await createToken(server.url, 'bob', [`push:${GUN}`]);
  const first = (await propose(server, release(1, 'v1', [keys[0]!]), alice)).body.pending;
  t.is(first.proposer, 'alice');
  const byBob = await call(server, 'DELETE', `/${first.id}`, undefined, bob);
  t.is(byBob.status, 403);
  t.regex(byBob.body.error.message, /^pending change [0-9a-f]{16} was proposed by token alice: only its proposer or an admin may withdraw it$/);
  const byAlice = await call(server, 'DELETE', `/${first.id}`, undefined, alice);
  t.is(byAlice.status, 200);
  t.deepEqual(byAlice.body, { withdrawn: first.id, role: 'targets/release', version: 1 });
  t.deepEqual(await list(server), []);
  t.is((await approve(server, first.id, { signatures: [sign(keys[1]!, release(1, 'v1', []))] })).status, 404);
  t.is((await call(server, 'DELETE', `/${first.id}`, undefined, alice)).status, 404);

  const second = (await propose(server, release(1, 'v2', [keys[0]!]), alice)).body.pending;
  t.is((await call(server, 'DELETE', `/${second.id}`)).status, 200, 'the admin token');

  const third = (await propose(server, release(1, 'v3', [keys[0]!]), alice)).body.pending;
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  const refused = await runCli(['pending', 'withdraw', GUN, third.id, '--timeout', '120'], { ...env, TAGTRUST_TOKEN: bob });
  t.is(refused.code, 7, refused.stderr);
  t.regex(refused.stderr, /^tagtrust: .*only its proposer or an admin may withdraw it\n$/);
  const withdrawn = await runCli(['pending', 'withdraw', GUN, third.id, '--timeout', '120'], { ...env, TAGTRUST_TOKEN: alice });
  t.is(withdrawn.code, 0, withdrawn.stderr);
  t.is(withdrawn.stdout, `Withdrew pending change ${third.id} to targets/release v1 of ${GUN}\n`);
  t.deepEqual(await list(server), []);
  const usage = await runCli(['pending', 'withdraw', GUN, 'nope'], env);
  t.is(usage.code, 2, usage.stderr);
});

test('stale and expired changes are pruned by the next write to the staging area', async (t) => {
  const { server, keys } = await releaseRole(t, { pendingLifetime: 3600_000 });
  const [k0, k1, k2] = keys as [KeyPair, KeyPair, KeyPair];
  const a = (await propose(server, release(1, 'v1', [k0]))).body.pending;
  const bProposal = release(1, 'v2', [k1]);
  const b = (await propose(server, bProposal)).body.pending;
  t.is((await approve(server, b.id, { signatures: [sign(k2, bProposal)] })).status, 200);
  t.deepEqual((await list(server)).map((c) => [c.id, c.state]), [[a.id, 'stale']]);
  // The next proposal deletes the stale one.
  const c = (await propose(server, release(2, 'v3', [k0]))).body.pending;
  t.deepEqual((await list(server)).map((change) => change.id), [c.id]);
  // Once expired, it goes with the next write too.
  server.clock.advance(2 * 3600_000);
  t.deepEqual((await list(server)).map((change) => change.state), ['expired']);
  const d = (await propose(server, release(2, 'v4', [k0]))).body.pending;
  t.deepEqual((await list(server)).map((change) => change.id), [d.id]);
});

test('the background renewal loop prunes expired changes', async (t) => {
  const { server, keys } = await releaseRole(t, { pendingLifetime: 3600_000, renewInterval: 100 });
  await propose(server, release(1, 'v1', [keys[0]!]));
  t.is((await list(server)).length, 1);
  server.clock.advance(2 * 3600_000);
  const deadline = Date.now() + 10_000;
  while ((await list(server)).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(await list(server), []);
});
