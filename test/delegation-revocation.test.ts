import test from 'ava';
import type { ExecutionContext } from 'ava';
import { NotSignedError, SignatureError } from '@tagtrust/client';
import type { AuditRecord, DelegationEvent } from '@tagtrust/server';
import { startTestServer } from './helpers/server.js';
import { api } from './helpers/admin.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/team/app';

/** The delegation changes the collection's audit trail recorded, oldest first. */
async function delegationEvents(url: string): Promise<DelegationEvent[]> {
  const feed = await api(url, 'GET', `/v2/${GUN}/_trust/changefeed`, undefined);
  return (feed.body as { records: AuditRecord[] }).records.flatMap((record) => record.delegations ?? []);
}

async function setup(t: ExecutionContext) {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const owner = publisherFor(server.url, await tempHome());
  const ci = publisherFor(server.url, await tempHome());
  const backupHome = await tempHome();
  const backup = publisherFor(server.url, backupHome);
  await owner.init(GUN);
  const ciKey = await ci.generateKey('ci');
  const backupKey = await backup.generateKey('backup');
  await owner.addDelegation(GUN, 'targets/ci', { keys: [ciKey.publicKey, backupKey.publicKey], threshold: 1, paths: ['dev-*'] });
  await ci.sign(`${GUN}:dev-1`, { digest: digestOf('1'), size: 1 }, { role: 'targets/ci' });
  await ci.sign(`${GUN}:dev-2`, { digest: digestOf('2'), size: 1 }, { role: 'targets/ci' });
  return { server, owner, ci, backupHome, ciKey, backupKey };
}

test('removing a delegated role makes its tags unresolvable at once, for new and existing pullers, and the audit trail records it', async (t) => {
  const { server, owner, ciKey, backupKey } = await setup(t);
  const existing = pullerFor(server.url, await tempHome());
  t.is((await existing.resolve(`${GUN}:dev-1`)).digest, digestOf('1'));

  await owner.removeDelegation(GUN, 'targets/ci');
  // A puller that trusted the snapshot listing targets/ci keeps updating (TUF 5.5.5: a file once in
  // the snapshot stays listed), and no longer finds the tag.
  await t.throwsAsync(existing.resolve(`${GUN}:dev-1`), { instanceOf: NotSignedError });
  await t.throwsAsync(pullerFor(server.url, await tempHome()).resolve(`${GUN}:dev-2`), { instanceOf: NotSignedError });
  t.deepEqual(await existing.list(GUN), []);

  const events = await delegationEvents(server.url);
  const removed = events.find((e) => e.kind === 'role-removed');
  t.like(removed, { delegator: 'targets', delegatorVersion: 3, role: 'targets/ci', keyIds: [ciKey.keyId, backupKey.keyId] });
  t.deepEqual(events.map((e) => [e.kind, e.role]), [['role-added', 'targets/ci'], ['role-removed', 'targets/ci']]);
});

test('revoking a delegate key makes the tags it signed unresolvable until a valid key re-signs them', async (t) => {
  const { server, owner, ci, backupHome, ciKey } = await setup(t);
  const puller = pullerFor(server.url, await tempHome());
  t.is((await puller.resolve(`${GUN}:dev-1`)).digest, digestOf('1'));

  await owner.removeDelegationKey(GUN, 'targets/ci', ciKey.keyId.slice(0, 8));
  const revoked = await t.throwsAsync(puller.resolve(`${GUN}:dev-1`));
  t.true(revoked instanceof SignatureError, String(revoked));
  // Not called forgery: this puller trusted targets listing the key, so it saw the revocation.
  const resign = 'the tags targets/ci signed need re-signing with a current key (`tagtrust sign <gun>:<tag> ... --role targets/ci`)';
  const short = ciKey.keyId.slice(0, 8);
  t.is(
    revoked!.message,
    `targets/ci v2 of ${GUN} is signed by key ${short}, which targets listed for it before and no longer does: the key was revoked (removed from the delegation), so ${resign}; they are refused until then`,
  );
  // A puller that never saw the key listed cannot tell a revocation from a forgery: it names both.
  const cli = await runCli(['resolve', `${GUN}:dev-1`], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() });
  t.is(cli.code, 22);
  t.is(
    cli.stderr.split('\n').filter((line) => !line.includes('trusting root v1')).join('\n'),
    `tagtrust: targets/ci v2 of ${GUN} is signed by key ${short}, which targets does not list for it: if targets revoked that key (\`tagtrust delegation remove --key\`), ${resign}; if not, the role is forged. Refusing it\n`,
  );
  await t.throwsAsync(pullerFor(server.url, await tempHome()).resolve(`${GUN}:dev-2`), { instanceOf: SignatureError });
  const warnings: string[] = [];
  t.deepEqual(await pullerFor(server.url, await tempHome(), { warn: (m) => void warnings.push(m) }).list(GUN), []);
  t.regex(warnings.join('\n'), /targets\/ci of registry\.example\.com\/team\/app fails verification/);

  // The revoked key can no longer sign into the role.
  await t.throwsAsync(ci.sign(`${GUN}:dev-3`, { digest: digestOf('3'), size: 1 }, { role: 'targets/ci' }), { code: 'KEY_NOT_FOUND' });

  // The remaining key re-signs dev-1 only: the role starts afresh, dev-2 stays unsigned.
  const notices: string[] = [];
  const resigner = publisherFor(server.url, backupHome, { warn: (m) => void notices.push(m) });
  await resigner.sign(`${GUN}:dev-1`, { digest: digestOf('1'), size: 1 }, { role: 'targets/ci' });
  t.regex(notices.join('\n'), /targets\/ci v2 no longer verifies against its current keys \(a key was revoked\?\); starting it afresh as v3: re-sign every tag you vouch for/);
  t.is((await puller.resolve(`${GUN}:dev-1`)).digest, digestOf('1'));
  await t.throwsAsync(puller.resolve(`${GUN}:dev-2`), { instanceOf: NotSignedError });
  t.deepEqual((await puller.list(GUN)).map((tag) => tag.tag), ['dev-1']);

  t.like((await delegationEvents(server.url)).find((e) => e.kind === 'keys-removed'), { role: 'targets/ci', delegator: 'targets', keyIds: [ciKey.keyId] });
});
