/**
 * The tag-log part of the MetadataStore contract (server/src/storage/store.ts, LogAppend) on every
 * backend (helpers/stores.ts): an append is written with its commit or not at all, must start at the log's size,
 * survives a reopen and the deletion of its collection; `appendAudit` records a refusal alone.
 */
import test from 'ava';
import { StaleVersionError } from '@tagtrust/server';
import type { LogAppend } from '@tagtrust/server';
import { STORE_BACKENDS, stopStoreBackends } from './helpers/stores.js';

test.after.always(stopStoreBackends);

const GUN = 'registry.example.com/team/app';
const append = (start: number, count: number): LogAppend => ({
  start,
  leaves: Array.from({ length: count }, (_, i) => `{"tag":"v${start + i}"}`),
  nodes: Array.from({ length: count }, (_, i) => ({ level: 0, index: start + i, hash: String(start + i).padStart(64, '0') })),
  tags: Object.fromEntries(Array.from({ length: count }, (_, i) => [`v${start + i}`, `sha256:${'a'.repeat(64)}`])),
});
const files = (version: number) => [{ role: 'root', version, text: `root ${version}` }];

for (const backend of STORE_BACKENDS) {
  test(`${backend.name}: a log append is committed with its change, must start at the log size, and outlives a reopen and a deletion`, async (t) => {
    const opened = await backend.open(t);
    let store = opened.store;
    t.is(await store.getLogSize(GUN), 0);
    await store.commit({ gun: GUN, expectedLatest: { root: 0 }, files: files(1), log: append(0, 3) });
    t.is(await store.getLogSize(GUN), 3);
    t.deepEqual(await store.getLogLeaves(GUN, 1, 10), ['{"tag":"v1"}', '{"tag":"v2"}']);
    t.deepEqual(await store.getLogNodes(GUN, [{ level: 0, index: 2 }, { level: 1, index: 0 }]), [String(2).padStart(64, '0'), undefined]);
    t.deepEqual(await store.getLoggedDigests(GUN, ['v0', 'nope']), [`sha256:${'a'.repeat(64)}`, undefined]);

    // An append built on a stale size writes nothing, not even the files of its change.
    const stale = await t.throwsAsync(store.commit({ gun: GUN, expectedLatest: { root: 1 }, files: files(2), log: append(2, 1) }));
    t.true(stale instanceof StaleVersionError);
    t.is((stale as StaleVersionError).role, 'log');
    t.is((await store.getLatest(GUN, 'root'))?.version, 1);
    t.is(await store.getLogSize(GUN), 3);

    // A removal clears the tag's recorded digest.
    await store.commit({ gun: GUN, expectedLatest: { root: 1 }, files: files(2), log: { ...append(3, 1), tags: { v0: null } } });
    t.deepEqual(await store.getLoggedDigests(GUN, ['v0']), [undefined]);
    await store.appendAudit(GUN, { time: '2026-01-01T00:00:00.000Z', actor: 'ci', action: 'refused', refusal: { code: 'IMMUTABLE_TAG', message: 'no' } });
    t.deepEqual((await store.listAudit(GUN, 0, 10)).map((r) => [r.seq, r.action]), [[1, 'refused']]);

    store = await opened.reopen();
    t.is(await store.getLogSize(GUN), 4);
    t.true(await store.deleteCollection(GUN, { time: '2026-01-01T00:00:00.000Z', actor: 'admin', action: 'delete' }));
    t.is(await store.getLogSize(GUN), 4, 'the log, like the audit trail, outlives its collection');
    t.is((await store.getLogLeaves(GUN, 0, 10)).length, 4);
  });
}
