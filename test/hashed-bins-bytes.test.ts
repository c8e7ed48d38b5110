/**
 * What hashed bins save: bytes a publisher uploads and downloads to sign one more tag into a
 * 5,000-tag collection (BINS_TAGS=100000 for the size), flat vs in 256 succinct bins, and
 * what a warm puller downloads to resolve a tag after an unrelated tag changed, counted on the wire
 * (gzip as the client asks for it) by a recording proxy in front of the real server. The numbers
 * are logged (`npx ava test/hashed-bins-bytes.test.ts --verbose`) and quoted in
 * docs/performance.md ("Hashed bins").
 */
import test from 'ava';
import { signMetadata } from '@tagtrust/keys';
import { binRoleForTarget, buildTargets, expiresAfter } from '@tagtrust/shared';
import { defaultBitLength } from '@tagtrust/client';
import { startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { collectionKeys, publishRaw } from './helpers/metadata.js';
import { startProxy } from './helpers/proxy.js';
import type { RecordedRequest } from './helpers/proxy.js';

const GUN = 'registry.example.com/team/app';
/** BINS_TAGS=100000 measures a larger collection (the server's body limit is raised for the bulk load). */
const TAGS = Number(process.env.BINS_TAGS ?? 5000);

function traffic(requests: RecordedRequest[]): { uploaded: number; downloaded: number; requests: number } {
  return {
    uploaded: requests.reduce((sum, r) => sum + r.body.length, 0),
    downloaded: requests.reduce((sum, r) => sum + r.responseBytes, 0),
    requests: requests.length,
  };
}

test(`one more tag into a ${TAGS}-tag collection: flat vs 256 hashed bins; a warm puller after an unrelated change`, async (t) => {
  t.timeout(600_000);
  const server = await startTestServer({ bodyLimit: 64 * 1024 * 1024 });
  t.teardown(() => server.close());
  const proxy = await startProxy(server.url);
  t.teardown(() => proxy.close());
  const home = await tempHome();
  const owner = publisherFor(proxy.url, home, { binsThreshold: 0 }); // flat first, bins by hand below
  await owner.init(GUN);

  // A flat collection of TAGS tags, published directly with the collection's targets key.
  const keys = await collectionKeys(home, GUN);
  const entries = Object.fromEntries(
    Array.from({ length: TAGS }, (_, i) => [`${GUN}:1.${Math.floor(i / 100)}.${i % 100}`, { length: 1000 + i, hashes: { sha256: i.toString(16).padStart(64, '0') } }]),
  );
  const flat = await publishRaw(server.url, GUN, { targets: signMetadata(buildTargets(2, expiresAfter(new Date(), 30 * 24 * 3600_000), entries), [keys.targets]) });
  t.is(flat.status, 200, flat.text);

  await owner.sign(`${GUN}:warm`, { digest: digestOf('a'), size: 1 }); // the publisher's trusted state is current
  let mark = proxy.requests.length;
  let started = performance.now();
  await owner.sign(`${GUN}:flat-next`, { digest: digestOf('b'), size: 2 });
  const flatMs = performance.now() - started;
  const flatTraffic = traffic(proxy.requests.slice(mark));
  const flatPost = proxy.requests.slice(mark).find((r) => r.method === 'POST' && !r.path.endsWith('/_trust/lease'))!;
  t.log(`flat POST (through the proxy): ${flatPost.durationMs.toFixed(1)} ms`);

  mark = proxy.requests.length;
  started = performance.now();
  const enabled = await owner.enableBins(GUN, { bins: 256 });
  const migrateMs = performance.now() - started;
  const migrateTraffic = traffic(proxy.requests.slice(mark));
  t.is(enabled.moved, TAGS + 2);
  t.log(`default layout for ${TAGS} tags: ${2 ** defaultBitLength(TAGS)} bins (this test uses 256)`);

  // A warm puller: it resolved a tag before, so it holds the snapshot, targets and that tag's bin.
  const puller = pullerFor(proxy.url, await tempHome());
  const watched = `${GUN}:1.7.3`;
  t.is((await puller.resolve(watched)).digest, `sha256:${(703).toString(16).padStart(64, '0')}`);

  await owner.sign(`${GUN}:warm-2`, { digest: digestOf('c'), size: 3 });
  mark = proxy.requests.length;
  started = performance.now();
  const signed = await owner.sign(`${GUN}:binned-next`, { digest: digestOf('d'), size: 4 });
  const binnedMs = performance.now() - started;
  const binnedTraffic = traffic(proxy.requests.slice(mark));
  t.regex(signed.role, /^bins-[0-9a-f]{2}$/);

  t.log(`flat:     one tag uploads ${flatTraffic.uploaded} B, downloads ${flatTraffic.downloaded} B in ${flatTraffic.requests} requests, ${flatMs.toFixed(0)} ms`);
  t.log(`migrate:  uploads ${migrateTraffic.uploaded} B, downloads ${migrateTraffic.downloaded} B, ${migrateMs.toFixed(0)} ms`);
  t.log(`binned:   one tag uploads ${binnedTraffic.uploaded} B, downloads ${binnedTraffic.downloaded} B in ${binnedTraffic.requests} requests, ${binnedMs.toFixed(0)} ms`);
  for (const r of proxy.requests.slice(mark)) t.log(`  ${r.method} ${r.path.replace(/^.*\/_trust\/tuf\//, '')} up ${r.body.length} B down ${r.responseBytes} B ${r.durationMs.toFixed(1)} ms`);
  // The goal: one tag uploads less than 1% of the whole tag set's metadata (the flat targets).
  const flatTargetsBytes = flatPost.body.length;
  t.log(`binned upload is ${((100 * binnedTraffic.uploaded) / flatTargetsBytes).toFixed(2)}% of the whole tag set's metadata (${flatTargetsBytes} B)`);
  t.true(binnedTraffic.uploaded * 100 < flatTargetsBytes, `binned upload ${binnedTraffic.uploaded} B`);

  // The warm puller resolves its tag again after that unrelated change (another bin).
  t.not(binRoleForTarget({ bit_length: 8, name_prefix: 'bins' }, `${GUN}:binned-next`), binRoleForTarget({ bit_length: 8, name_prefix: 'bins' }, watched));
  mark = proxy.requests.length;
  started = performance.now();
  t.is((await puller.resolve(watched)).digest, `sha256:${(703).toString(16).padStart(64, '0')}`);
  const warmMs = performance.now() - started;
  const warmTraffic = traffic(proxy.requests.slice(mark));
  t.log(`warm puller after an unrelated change: downloads ${warmTraffic.downloaded} B (on the wire) in ${warmTraffic.requests} requests, ${warmMs.toFixed(0)} ms`);
  for (const r of proxy.requests.slice(mark)) t.log(`  ${r.method} ${r.path.replace(/^.*\/_trust\/tuf\//, '')} down ${r.responseBytes} B`);
  t.true(warmTraffic.downloaded < 10_000, `warm puller downloaded ${warmTraffic.downloaded} B`);

  const posts: string[] = [];
  for (let i = 0; i < 5; i += 1) {
    const at = proxy.requests.length;
    await owner.sign(`${GUN}:more-${i}`, { digest: digestOf('e'), size: 5 });
    posts.push(proxy.requests.slice(at).find((r) => r.method === 'POST' && !r.path.endsWith('/_trust/lease'))!.durationMs.toFixed(1));
  }
  t.log(`binned POSTs of 5 more tags: ${posts.join(', ')} ms`);

  // Every tag still resolves for a new puller, and list sees them all.
  const fresh = pullerFor(server.url, await tempHome());
  t.is((await fresh.resolve(`${GUN}:1.7.3`)).digest, `sha256:${(703).toString(16).padStart(64, '0')}`);
  t.is((await fresh.resolve(`${GUN}:binned-next`)).digest, digestOf('d'));
  started = performance.now();
  const listed = await fresh.list(GUN);
  t.log(`list of ${listed.length} binned tags by a new puller: ${(performance.now() - started).toFixed(0)} ms`);
  t.is(listed.length, TAGS + 9);
  t.log(`test process RSS (server, clients and test data together): ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
});
