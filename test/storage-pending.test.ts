/** Storage contract of the staging area (MetadataStore pending methods) on every backend (helpers/stores.ts). */
import test from 'ava';
import { StaleVersionError } from '@tagtrust/server';
import { STORE_BACKENDS, stopStoreBackends } from './helpers/stores.js';

test.after.always(stopStoreBackends);

for (const backend of STORE_BACKENDS) {
  test(`${backend.name}: pending changes: put, get, list per collection, replace, delete`, async (t) => {
    const store = (await backend.open(t)).store;
    t.is(await store.getPending('reg.example/a', 'x'), undefined);
    t.deepEqual(await store.listPending('reg.example/a'), []);
    await store.putPending('reg.example/a', '01', '{"n":1}');
    await store.putPending('reg.example/a', '02', '{"n":2}');
    await store.putPending('reg.example/a/b', '03', '{"n":3}');
    await store.putPending('reg.example/ab', '04', '{"n":4}');
    t.deepEqual(await store.listPending('reg.example/a'), ['{"n":1}', '{"n":2}']);
    await store.putPending('reg.example/a', '01', '{"n":5}');
    t.is(await store.getPending('reg.example/a', '01'), '{"n":5}');
    await store.deletePending('reg.example/a', '01');
    await store.deletePending('reg.example/a', 'missing');
    t.deepEqual(await store.listPending('reg.example/a'), ['{"n":2}']);
    t.deepEqual(await store.listPending('reg.example/a/b'), ['{"n":3}']);
  });

  test(`${backend.name}: commit deletes pending changes atomically with the files, and not at all when stale`, async (t) => {
    const store = (await backend.open(t)).store;
    await store.putPending('g/a', 'p1', '{}');
    await t.throwsAsync(store.commit({ gun: 'g/a', expectedLatest: { targets: 3 }, files: [{ role: 'targets', version: 4, text: '{}' }], deletePending: ['p1'] }), {
      instanceOf: StaleVersionError,
    });
    t.is(await store.getPending('g/a', 'p1'), '{}');
    await store.commit({ gun: 'g/a', expectedLatest: { 'targets/ci': 0 }, files: [{ role: 'targets/ci', version: 1, text: '{"v":1}' }], deletePending: ['p1'] });
    t.is(await store.getPending('g/a', 'p1'), undefined);
    t.is((await store.getLatest('g/a', 'targets/ci'))?.text, '{"v":1}');
  });
}
