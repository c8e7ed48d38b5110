/**
 * TagVerifier, the in-memory verified-state core of the gate and the admission webhook, against a
 * real server behind a recording proxy: answers are reused while fresh, a burst of lookups costs at
 * most two updates of a collection, a moved tag is seen after the refresh interval, and a failed
 * update fails every lookup closed until the next refresh.
 */
import test from 'ava';
import { MismatchError, NotSignedError, RollbackError } from '@tagtrust/client';
import { TagVerifier } from '@tagtrust/client';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { startProxy } from './helpers/proxy.js';
import type { Proxy } from './helpers/proxy.js';
import { digestOf, publisherFor, tempHome } from './helpers/client.js';

let server: TestServer;
let proxy: Proxy;
test.before(async () => {
  server = await startTestServer();
  proxy = await startProxy(server.url);
});
test.after.always(async () => {
  await proxy?.close();
  await server?.close();
});

const timestampReads = (gun: string) => proxy.requests.filter((r) => r.path.includes(gun) && r.path.endsWith('/timestamp.json')).length;

class ManualClock {
  ms = Date.now();
  now = () => this.ms;
}

test('answers from memory while fresh; a burst of lookups shares at most two updates', async (t) => {
  const gun = 'registry.example.com/verifier/burst';
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(gun);
  for (const [tag, char] of [['v1', 'a'], ['v2', 'b'], ['v3', 'c']] as const) await publisher.sign(`${gun}:${tag}`, { digest: digestOf(char), size: 10 });
  const clock = new ManualClock();
  const verifier = new TagVerifier({ server: proxy.url, home: await tempHome(), warn: () => {}, now: clock.now, refreshIntervalMs: 5_000 });

  const burst = await Promise.all(['v1', 'v2', 'v3', 'v1', 'v2', 'v3'].map((tag) => verifier.resolve(`${gun}:${tag}`)));
  t.deepEqual(burst.map((r) => r.digest), [digestOf('a'), digestOf('b'), digestOf('c'), digestOf('a'), digestOf('b'), digestOf('c')]);
  t.true(timestampReads(gun) <= 2, `${timestampReads(gun)} updates for a burst of 6`);

  const before = timestampReads(gun);
  for (let i = 0; i < 50; i += 1) t.is((await verifier.resolve(`${gun}:v2`)).digest, digestOf('b'));
  t.is(timestampReads(gun), before, 'fresh answers come from memory');
  await t.throwsAsync(verifier.resolve(`${gun}:v2@${digestOf('a')}`), { instanceOf: MismatchError });
});

test('a moved tag is seen once the refresh interval has passed', async (t) => {
  const gun = 'registry.example.com/verifier/moved';
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(gun);
  await publisher.sign(`${gun}:latest`, { digest: digestOf('a'), size: 10 });
  const clock = new ManualClock();
  const verifier = new TagVerifier({ server: proxy.url, home: await tempHome(), warn: () => {}, now: clock.now, refreshIntervalMs: 5_000 });
  t.is((await verifier.resolve(`${gun}:latest`)).digest, digestOf('a'));
  await publisher.sign(`${gun}:latest`, { digest: digestOf('b'), size: 10 });
  t.is((await verifier.resolve(`${gun}:latest`)).digest, digestOf('a'), 'within the interval: the answer verified 0 s ago');
  clock.ms += 5_000;
  t.is((await verifier.resolve(`${gun}:latest`)).digest, digestOf('b'));
  await t.throwsAsync(verifier.resolve(`${gun}:v9`), { instanceOf: NotSignedError });
});

test('a failed update fails every lookup of the collection closed until the next refresh', async (t) => {
  const gun = 'registry.example.com/verifier/rollback';
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 10 });
  const oldTimestamp = await (await fetch(`${server.url}/v2/${gun}/_trust/tuf/timestamp.json`)).text();
  await publisher.sign(`${gun}:v2`, { digest: digestOf('b'), size: 10 });
  const clock = new ManualClock();
  const verifier = new TagVerifier({ server: proxy.url, home: await tempHome(), warn: () => {}, now: clock.now, refreshIntervalMs: 5_000 });
  t.is((await verifier.resolve(`${gun}:v1`)).digest, digestOf('a'));

  proxy.overrides.set(`/${gun}/_trust/tuf/timestamp.json`, oldTimestamp);
  try {
    clock.ms += 5_000;
    await t.throwsAsync(verifier.resolve(`${gun}:v1`), { instanceOf: RollbackError });
    const before = timestampReads(gun);
    await t.throwsAsync(verifier.resolve(`${gun}:v2`), { instanceOf: RollbackError });
    t.is(timestampReads(gun), before, 'the failure is remembered, not retried per lookup');
  } finally {
    proxy.overrides.delete(`/${gun}/_trust/tuf/timestamp.json`); // only this test's: tests of this file run concurrently
  }
  clock.ms += 5_000;
  t.is((await verifier.resolve(`${gun}:v2`)).digest, digestOf('b'));
});

test('refresh ahead: a lookup close to staleness is answered from memory and refreshes in the background', async (t) => {
  const gun = 'registry.example.com/verifier/ahead';
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(gun);
  await publisher.sign(`${gun}:latest`, { digest: digestOf('a'), size: 10 });
  const clock = new ManualClock();
  const verifier = new TagVerifier({ server: proxy.url, home: await tempHome(), warn: () => {}, now: clock.now, refreshIntervalMs: 5_000, refreshAheadMs: 1_000 });
  t.is((await verifier.resolve(`${gun}:latest`)).digest, digestOf('a'));
  await publisher.sign(`${gun}:latest`, { digest: digestOf('b'), size: 10 });
  const before = timestampReads(gun);
  clock.ms += 3_000;
  t.is((await verifier.resolve(`${gun}:latest`)).digest, digestOf('a'), '3 s old: not due yet');
  t.is(timestampReads(gun), before);
  clock.ms += 1_500;
  t.is((await verifier.resolve(`${gun}:latest`)).digest, digestOf('a'), '4.5 s old: still the answer in memory, while the refresh runs');
  // The background refresh (due between 4 and 4.5 s, by the collection's name) replaces the answer once it ends.
  for (let i = 0; i < 100 && timestampReads(gun) === before; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  let digest = digestOf('a');
  for (let i = 0; i < 100 && digest === digestOf('a'); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    digest = (await verifier.resolve(`${gun}:latest`)).digest;
  }
  t.is(digest, digestOf('b'));
  clock.ms += 2_000;
  const reads = timestampReads(gun);
  t.is((await verifier.resolve(`${gun}:latest`)).digest, digestOf('b'), '6.5 s after the first update, 2 s after the background one: fresh');
  t.is(timestampReads(gun), reads);
});

test('list: one listing in flight, reused while fresh, refreshed after the interval, failed closed', async (t) => {
  const gun = 'registry.example.com/verifier/list';
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 10 });
  const oldTimestamp = await (await fetch(`${server.url}/v2/${gun}/_trust/tuf/timestamp.json`)).text();
  const clock = new ManualClock();
  const verifier = new TagVerifier({ server: proxy.url, home: await tempHome(), warn: () => {}, now: clock.now, refreshIntervalMs: 5_000 });
  const burst = await Promise.all([1, 2, 3, 4].map(() => verifier.list(gun)));
  t.deepEqual(burst[3]!.map((s) => s.tag), ['v1']);
  t.is(timestampReads(gun), 1, 'a burst of listings shares one update');
  await publisher.sign(`${gun}:v2`, { digest: digestOf('b'), size: 10 });
  t.deepEqual((await verifier.list(gun)).map((s) => s.tag), ['v1'], 'fresh: from memory');
  clock.ms += 5_000;
  t.deepEqual((await verifier.list(gun)).map((s) => s.tag), ['v1', 'v2']);

  proxy.overrides.set(`/${gun}/_trust/tuf/timestamp.json`, oldTimestamp);
  try {
    clock.ms += 5_000;
    await t.throwsAsync(verifier.list(gun), { instanceOf: RollbackError });
    const before = timestampReads(gun);
    await t.throwsAsync(verifier.list(gun), { instanceOf: RollbackError });
    t.is(timestampReads(gun), before, 'the failure is remembered until the next refresh');
  } finally {
    proxy.overrides.delete(`/${gun}/_trust/tuf/timestamp.json`); // only this test's: tests of this file run concurrently
  }
});
