/**
 * Contract tests for the lifecycle part of MetadataStore (audit trail, pending keys, deletion,
 * tokens), run against every backend (helpers/stores.ts): level in a temp dir, PostgreSQL on a real cluster.
 */
import test from 'ava';
import { SERVER_AUDIT, StaleKeyError, StaleVersionError, TokenExistsError } from '@tagtrust/server';
import type { AuditEntry } from '@tagtrust/server';
import { STORE_BACKENDS, stopStoreBackends } from './helpers/stores.js';
import { generateKeyPair, generateMasterKey, sealKeyPair } from '@tagtrust/keys';

const GUN = 'registry.example.com/team/app';
const entry = (action: AuditEntry['action'], actor = 'ci'): AuditEntry => ({ time: '2026-01-01T00:00:00.000Z', actor, action });
const master = generateMasterKey();
const sealed = async () => sealKeyPair(await generateKeyPair(), master, 'context');

const files = (version: number) => [
  { role: 'root', version, text: `root ${version}` },
  { role: 'timestamp', version, text: `timestamp ${version}` },
];

test.after.always(stopStoreBackends);

for (const backend of STORE_BACKENDS) {
  test(`${backend.name}: commit appends its audit entry with the next sequence number of the collection, atomically`, async (t) => {
    const store = (await backend.open(t)).store;
    await store.commit({ gun: GUN, expectedLatest: { root: 0, timestamp: 0 }, files: files(1), audit: entry('publish') });
    await store.commit({ gun: GUN, expectedLatest: { root: 1, timestamp: 1 }, files: files(2), audit: entry('publish') });
    await store.commit({ gun: 'other/app', expectedLatest: { root: 0 }, files: files(1).slice(0, 1), audit: entry('publish') });
    // A renewal (no audit entry) records nothing.
    await store.commit({ gun: GUN, expectedLatest: { timestamp: 2 }, files: [{ role: 'timestamp', version: 3, text: 't3' }] });
    // A stale commit writes neither files nor its audit entry.
    await t.throwsAsync(store.commit({ gun: GUN, expectedLatest: { root: 1 }, files: files(9), audit: entry('publish', 'late') }), { instanceOf: StaleVersionError });
    t.is(await store.getVersion(GUN, 'root', 9), undefined);
    const records = await store.listAudit(GUN, 0, 10);
    t.deepEqual(records.map((r) => [r.seq, r.gun, r.actor]), [[1, GUN, 'ci'], [2, GUN, 'ci']]);
    t.deepEqual((await store.listAudit('other/app', 0, 10)).map((r) => r.seq), [1]);
    t.deepEqual((await store.listAudit(GUN, 1, 10)).map((r) => r.seq), [2]);
    t.deepEqual((await store.listAudit(GUN, 0, 1)).map((r) => r.seq), [1]);
    t.deepEqual(await store.listAudit('registry.example.com/team', 0, 10), [], 'a prefix of a GUN is another collection');
  });

  test(`${backend.name}: a pending key becomes active only through commit, which replaces the old key in the same batch`, async (t) => {
    const store = (await backend.open(t)).store;
    const active = await store.putServerKeyIfAbsent(GUN, 'timestamp', await sealed());
    await store.commit({ gun: GUN, expectedLatest: { root: 0 }, files: files(1).slice(0, 1), audit: entry('publish') });
    const first = await sealed();
    const second = await sealed();
    await store.putPendingServerKey(GUN, 'timestamp', first, entry('rotate-key'));
    await store.putPendingServerKey(GUN, 'timestamp', second, entry('rotate-key'));
    t.is((await store.getPendingServerKey(GUN, 'timestamp'))!.keyid, second.keyid, 'a later pending key replaces an earlier one');
    t.is((await store.getServerKey(GUN, 'timestamp'))!.keyid, active.keyid);

    // Activating a key that is no longer pending writes nothing.
    await t.throwsAsync(
      store.commit({ gun: GUN, expectedLatest: { root: 1 }, files: [{ role: 'root', version: 2, text: 'r2' }], activateKeys: { timestamp: first.keyid }, audit: entry('publish') }),
      { instanceOf: StaleKeyError },
    );
    t.is(await store.getVersion(GUN, 'root', 2), undefined);
    t.is((await store.listAudit(GUN, 0, 10)).length, 3);

    await store.commit({ gun: GUN, expectedLatest: { root: 1 }, files: [{ role: 'root', version: 2, text: 'r2' }], activateKeys: { timestamp: second.keyid }, audit: entry('publish') });
    t.is((await store.getServerKey(GUN, 'timestamp'))!.keyid, second.keyid);
    t.is(await store.getPendingServerKey(GUN, 'timestamp'), undefined);
    t.is((await store.getLatest(GUN, 'root'))!.version, 2);
    t.is((await store.listAudit(GUN, 0, 10)).length, 4);
  });

  test(`${backend.name}: deleteCollection removes files, keys and listing but keeps the audit trail`, async (t) => {
    const store = (await backend.open(t)).store;
    await store.putServerKeyIfAbsent(GUN, 'snapshot', await sealed());
    await store.putServerKeyIfAbsent(`${GUN}/sub`, 'snapshot', await sealed());
    await store.commit({ gun: GUN, expectedLatest: { root: 0, timestamp: 0 }, files: files(1), audit: entry('publish') });
    await store.commit({ gun: `${GUN}/sub`, expectedLatest: { root: 0 }, files: files(1).slice(0, 1), audit: entry('publish') });
    await store.putPendingServerKey(GUN, 'timestamp', await sealed(), entry('rotate-key'));

    t.false(await store.deleteCollection('registry.example.com/team/none', entry('delete')));
    t.deepEqual(await store.listAudit('registry.example.com/team/none', 0, 10), [], 'a refused delete records nothing');
    t.true(await store.deleteCollection(GUN, entry('delete', 'admin')));
    t.is(await store.getLatest(GUN, 'root'), undefined);
    t.is(await store.getVersion(GUN, 'timestamp', 1), undefined);
    t.is(await store.getServerKey(GUN, 'snapshot'), undefined);
    t.is(await store.getPendingServerKey(GUN, 'timestamp'), undefined);
    const listed: string[] = [];
    for await (const gun of store.listCollections()) listed.push(gun);
    t.deepEqual(listed, [`${GUN}/sub`]);
    t.truthy(await store.getLatest(`${GUN}/sub`, 'root'), 'a collection below it is untouched');
    t.truthy(await store.getServerKey(`${GUN}/sub`, 'snapshot'));
    t.deepEqual((await store.listAudit(GUN, 0, 10)).map((r) => [r.seq, r.action]), [[1, 'publish'], [2, 'rotate-key'], [3, 'delete']]);
  });

  test(`${backend.name}: tokens: unique names, looked up by digest, deleted by name`, async (t) => {
    const store = (await backend.open(t)).store;
    const token = { name: 'ci', scopes: ['push:a/*'], sha256: 'a'.repeat(64), created: '2026-01-01T00:00:00.000Z' };
    await store.putToken(token, entry('create-token', 'admin'));
    await t.throwsAsync(store.putToken({ ...token, sha256: 'b'.repeat(64) }, entry('create-token', 'admin')), { instanceOf: TokenExistsError });
    t.is(await store.getTokenBySha256('b'.repeat(64)), undefined, 'the refused token was not stored');
    t.deepEqual(await store.getTokenBySha256('a'.repeat(64)), token);
    await store.putToken({ ...token, name: 'admin-2', sha256: 'c'.repeat(64) }, entry('create-token', 'admin'));
    t.deepEqual((await store.listTokens()).map((x) => x.name), ['admin-2', 'ci']);
    t.true(await store.deleteToken('ci', entry('revoke-token', 'admin')));
    t.false(await store.deleteToken('ci', entry('revoke-token', 'admin')));
    t.is(await store.getTokenBySha256('a'.repeat(64)), undefined);
    // Lookups racing a deletion may see the token, but none that starts once the deletion returned does.
    t.deepEqual(await store.getTokenBySha256('c'.repeat(64)), { ...token, name: 'admin-2', sha256: 'c'.repeat(64) });
    const racing = Array.from({ length: 20 }, () => store.getTokenBySha256('c'.repeat(64)));
    t.true(await store.deleteToken('admin-2', entry('revoke-token', 'admin')));
    await Promise.all(racing);
    t.is(await store.getTokenBySha256('c'.repeat(64)), undefined, 'a revoked token is refused at once');
    // Each accepted token change is in the server trail; refused ones are not.
    t.deepEqual((await store.listAudit(SERVER_AUDIT, 0, 10)).map((r) => [r.seq, r.action]), [[1, 'create-token'], [2, 'create-token'], [3, 'revoke-token'], [4, 'revoke-token']]);
    t.deepEqual(await store.listAudit(GUN, 0, 10), []);
  });

  test(`${backend.name}: tokens: the last use is listed, overwritten, and never recreates a deleted token`, async (t) => {
    const store = (await backend.open(t)).store;
    const token = { name: 'ci', scopes: ['push:a/*'], sha256: 'a'.repeat(64), created: '2026-01-01T00:00:00.000Z', expires: '2027-01-01T00:00:00.000Z' };
    await store.putToken(token, entry('create-token', 'admin'));
    t.deepEqual(await store.listTokens(), [token]);
    await store.recordTokenUse('ci', '2026-02-01T00:00:00.000Z');
    await store.recordTokenUse('ci', '2026-03-01T00:00:00.000Z');
    t.deepEqual(await store.listTokens(), [{ ...token, lastUsed: '2026-03-01T00:00:00.000Z' }]);
    t.true(await store.deleteToken('ci', entry('revoke-token', 'admin')));
    await store.recordTokenUse('ci', '2026-04-01T00:00:00.000Z');
    await store.putToken({ ...token, expires: undefined }, entry('create-token', 'admin'));
    t.is((await store.listTokens())[0]!.lastUsed, undefined, 'a new token of the same name starts unused');
  });
}
