/**
 * The MetadataStore contract (server/src/storage/store.ts), run against every backend: today the
 * level store on a real database in a temp dir and the PostgreSQL store on a real cluster. Each test
 * opens its own store.
 */
import test from 'ava';
import { generateKeyPair, generateMasterKey, sealKeyPair } from '@tagtrust/keys';
import { StaleVersionError } from '@tagtrust/server';
import type { StoredFile } from '@tagtrust/server';
import { STORE_BACKENDS, stopStoreBackends } from './helpers/stores.js';

test.after.always(stopStoreBackends);

const GUN = 'registry.example.com/store/app';
const file = (role: string, version: number, text = `${role} v${version}`): StoredFile => ({ role, version, text });
const firstPublish = (gun = GUN) => ({
  gun,
  expectedLatest: { root: 0, targets: 0, snapshot: 0, timestamp: 0 },
  files: [file('root', 1), file('targets', 1), file('snapshot', 1), file('timestamp', 1)],
});

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

for (const backend of STORE_BACKENDS) {
  test(`${backend.name}: reads of missing things return undefined`, async (t) => {
    const { store } = await backend.open(t);
    t.is(await store.getLatest(GUN, 'root'), undefined);
    t.is(await store.getVersion(GUN, 'root', 1), undefined);
    t.is(await store.getServerKey(GUN, 'timestamp'), undefined);
    t.deepEqual(await collect(store.listCollections()), []);
    await store.commit(firstPublish());
    t.is(await store.getVersion(GUN, 'root', 2), undefined);
    t.is(await store.getLatest(GUN, 'targets/team'), undefined);
    t.is(await store.getLatest('registry.example.com/store/other', 'root'), undefined);
  });

  test(`${backend.name}: commit stores exact bytes per version and moves latest`, async (t) => {
    const { store } = await backend.open(t);
    await store.commit(firstPublish());
    const text = '{"signed":{"version":2},"signatures":[] , "ünïcode": "\\u2028"}';
    await store.commit({ gun: GUN, expectedLatest: { targets: 1, snapshot: 1, timestamp: 1 }, files: [file('targets', 2, text), file('snapshot', 2), file('timestamp', 2)] });
    t.deepEqual(await store.getLatest(GUN, 'targets'), { role: 'targets', version: 2, text });
    t.deepEqual(await store.getVersion(GUN, 'targets', 1), file('targets', 1));
    t.deepEqual(await store.getLatest(GUN, 'root'), file('root', 1));
    t.deepEqual(await store.getLatest(GUN, 'timestamp'), file('timestamp', 2));
  });

  test(`${backend.name}: a stale commit throws StaleVersionError and writes nothing`, async (t) => {
    const { store } = await backend.open(t);
    await store.commit(firstPublish());
    await store.commit({ gun: GUN, expectedLatest: { targets: 1, snapshot: 1, timestamp: 1 }, files: [file('targets', 2), file('snapshot', 2), file('timestamp', 2)] });

    // Built on targets v1, but targets is at v2; snapshot and timestamp expectations hold.
    const stale = { gun: GUN, expectedLatest: { snapshot: 2, timestamp: 2, targets: 1 }, files: [file('targets', 3, 'stale'), file('snapshot', 3, 'stale'), file('timestamp', 3, 'stale')] };
    const err = await t.throwsAsync(store.commit(stale), { instanceOf: StaleVersionError });
    t.is(err.role, 'targets');
    t.is(err.expected, 1);
    t.is(err.latest, 2);
    for (const role of ['targets', 'snapshot', 'timestamp']) {
      t.is((await store.getLatest(GUN, role))?.version, 2, role);
      t.is(await store.getVersion(GUN, role, 3), undefined, role);
    }

    // A role that has no version yet is expected at 0.
    const created = { gun: GUN, expectedLatest: { root: 0 }, files: [file('root', 1, 'again')] };
    const again = await t.throwsAsync(store.commit(created), { instanceOf: StaleVersionError });
    t.is(again.latest, 1);
    t.deepEqual(await store.getLatest(GUN, 'root'), file('root', 1));
  });

  test(`${backend.name}: concurrent commits built on the same versions: exactly one lands`, async (t) => {
    const { store } = await backend.open(t);
    await store.commit(firstPublish());
    const attempts = Array.from({ length: 8 }, (_, i) =>
      store.commit({
        gun: GUN,
        expectedLatest: { targets: 1, snapshot: 1, timestamp: 1 },
        files: [file('targets', 2, `writer ${i}`), file('snapshot', 2, `writer ${i}`), file('timestamp', 2, `writer ${i}`)],
      }),
    );
    const outcomes = await Promise.allSettled(attempts);
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    t.is(won.length, 1, 'a compare-and-swap lets exactly one of the writers through');
    for (const o of outcomes) if (o.status === 'rejected') t.true(o.reason instanceof StaleVersionError);
    const winner = `writer ${won[0]}`;
    for (const role of ['targets', 'snapshot', 'timestamp']) t.is((await store.getLatest(GUN, role))?.text, winner, role);
  });

  test(`${backend.name}: commits to different collections do not conflict`, async (t) => {
    const { store } = await backend.open(t);
    const guns = ['registry.example.com/store/b', 'registry.example.com/store/a', 'docker.io/library/c'];
    await Promise.all(guns.map((gun) => store.commit(firstPublish(gun))));
    for (const gun of guns) t.is((await store.getLatest(gun, 'timestamp'))?.version, 1);
    t.deepEqual(await collect(store.listCollections()), [...guns].sort());
  });

  test(`${backend.name}: listCollections names only collections with a published root`, async (t) => {
    const { store } = await backend.open(t);
    const key = sealKeyPair(await generateKeyPair(), generateMasterKey(), 'context');
    await store.putServerKeyIfAbsent('registry.example.com/store/keys-only', 'snapshot', key);
    await store.commit(firstPublish());
    t.deepEqual(await collect(store.listCollections()), [GUN]);
  });

  test(`${backend.name}: putServerKeyIfAbsent keeps the first key, also under concurrency`, async (t) => {
    const { store } = await backend.open(t);
    const master = generateMasterKey();
    const keys = await Promise.all([1, 2, 3].map(async () => sealKeyPair(await generateKeyPair(), master, 'context')));
    const stored = await Promise.all(keys.map((key) => store.putServerKeyIfAbsent(GUN, 'timestamp', key)));
    t.true(stored.every((s) => s.keyid === stored[0]!.keyid), 'every caller gets the one stored key');
    t.is((await store.getServerKey(GUN, 'timestamp'))?.keyid, stored[0]!.keyid);
    t.is((await store.putServerKeyIfAbsent(GUN, 'timestamp', keys[2]!)).keyid, stored[0]!.keyid);
    t.is(await store.getServerKey(GUN, 'snapshot'), undefined);
  });

  test(`${backend.name}: everything committed is there after reopening`, async (t) => {
    const { store, reopen } = await backend.open(t);
    await store.commit(firstPublish());
    const key = sealKeyPair(await generateKeyPair(), generateMasterKey(), 'context');
    await store.putServerKeyIfAbsent(GUN, 'snapshot', key);
    const reopened = await reopen();
    t.deepEqual(await reopened.getLatest(GUN, 'root'), file('root', 1));
    t.deepEqual(await reopened.getServerKey(GUN, 'snapshot'), key);
    t.deepEqual(await collect(reopened.listCollections()), [GUN]);
  });
}
