import test from 'ava';
import { getMetricsFromIterator } from 'prom2javascript';
import type { PromMetric, PromMetrics } from 'prom2javascript';
import { ExpiryIndex, routeLabel } from '@tagtrust/server';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { api } from './helpers/admin.js';

const GUN = 'registry.example.com/team/app';

/** Scrapes /metrics and parses the text format with a real parser. */
async function scrape(url: string, token?: string): Promise<PromMetrics> {
  const response = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  t0ContentType(response.headers.get('content-type'));
  return getMetricsFromIterator((await response.text()).split('\n')[Symbol.iterator]());
}

function t0ContentType(type: string | null): void {
  if (!type?.startsWith('text/plain; version=0.0.4')) throw new Error(`/metrics has content type ${type}`);
}

type Sample = { labels: Record<string, string>; value?: number; count?: number; buckets?: Record<string, number> };
const samples = (family: PromMetric | undefined): Sample[] => (family?.data ?? []) as Sample[];
const sample = (family: PromMetric | undefined, labels: Record<string, string>) =>
  samples(family).find((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v));
const value = (metrics: PromMetrics, name: string, labels: Record<string, string> = {}) => sample(metrics[name], labels)?.value;

test('metrics: requests by route pattern and status, publishes by outcome, renewal runs, per-role expiry', async (t) => {
  const server = await startTestServer({ renewInterval: 100 });
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  await pullerFor(server.url, await tempHome()).resolve(`${GUN}:v1`);
  t.is((await api(server.url, 'GET', `/v2/${GUN}/_trust/tuf/9.targets.json`, undefined)).status, 404);
  // A stale publish: targets v2 again (the server is at v2) answers 409 and counts as a conflict.
  const stale = await api(server.url, 'GET', `/v2/${GUN}/_trust/tuf/2.targets.json`, undefined);
  t.is((await api(server.url, 'POST', `/v2/${GUN}/_trust/tuf/`, ADMIN_TOKEN, { targets: stale.body })).status, 409);
  await new Promise((resolve) => setTimeout(resolve, 350));

  const metrics = await scrape(server.url);
  const requests = metrics.tagtrust_http_request_duration_seconds!;
  t.is(requests.type, 'histogram');
  const routes = new Set(samples(requests).map((m) => m.labels.route!));
  t.true(routes.has('/v2/{gun}/_trust/tuf/{role}.json'));
  t.true(routes.has('/v2/{gun}/_trust/tuf/{version}.{role}.json'));
  t.true(routes.has('/v2/{gun}/_trust/tuf/'));
  for (const route of routes) t.false(route.includes('registry.example.com'), `no collection name in route label ${route}`);
  // The 9.targets.json above, and the puller's probes for a next root.
  t.true(sample(requests, { method: 'GET', route: '/v2/{gun}/_trust/tuf/{version}.{role}.json', status: '404' })!.count! >= 2);
  t.truthy(sample(requests, { method: 'POST', route: '/v2/{gun}/_trust/tuf/', status: '200' }));
  t.truthy(sample(requests, { method: 'POST', route: '/v2/{gun}/_trust/tuf/', status: '409' }));

  const publishes = metrics.tagtrust_publish_duration_seconds;
  t.is(sample(publishes, { outcome: 'published' })?.count, 2);
  t.is(sample(publishes, { outcome: 'conflict' })?.count, 1);

  t.true(value(metrics, 'tagtrust_renewal_runs_total')! >= 2);
  t.is(value(metrics, 'tagtrust_renewal_failures_total'), 0);
  t.true(value(metrics, 'tagtrust_renewal_last_success_timestamp_seconds')! > Date.now() / 1000 - 60);

  const timestampLeft = value(metrics, 'tagtrust_role_expiry_seconds', { role: 'timestamp' })!;
  t.true(timestampLeft > 6 * 3600 - 120 && timestampLeft <= 6 * 3600, `timestamp expires in ${timestampLeft}s`);
  t.true(value(metrics, 'tagtrust_role_expiry_seconds', { role: 'root' })! > 364 * 86400);
  t.true(value(metrics, 'tagtrust_role_expiry_seconds', { role: 'targets' })! > 89 * 86400);
  t.is(sample(metrics.tagtrust_collection_expiry_seconds, { role: 'snapshot' })?.labels.gun, GUN);

  // 4h later (past the renewal point, half of 6h): the background run re-signed the timestamp.
  server.clock.advance(4 * 3600_000);
  const before = value(await scrape(server.url), 'tagtrust_renewed_collections_total')!;
  await new Promise((resolve) => setTimeout(resolve, 350));
  const after = await scrape(server.url);
  t.true(value(after, 'tagtrust_renewed_collections_total')! > before || before >= 1);
  t.true(value(after, 'tagtrust_role_expiry_seconds', { role: 'timestamp' })! > 6 * 3600 - 120);
});

test('metrics: the nearest-to-expiry list is bounded and soonest first; a restarted server knows every expiry', async (t) => {
  const server = await startTestServer({ renewInterval: 3600_000 });
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  const guns = Array.from({ length: 11 }, (_, i) => `registry.example.com/team/app-${String(i).padStart(2, '0')}`);
  for (const gun of guns) {
    await publisher.init(gun);
    server.clock.advance(60_000);
  }
  await server.restart();
  // Expiries are read once at start, in the background.
  let metrics = await scrape(server.url);
  for (let i = 0; i < 100 && value(metrics, 'tagtrust_collections_tracked', { role: 'targets' }) !== 11; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    metrics = await scrape(server.url);
  }
  t.is(value(metrics, 'tagtrust_collections_tracked', { role: 'targets' }), 11);
  const listed = samples(metrics.tagtrust_collection_expiry_seconds).filter((m) => m.labels.role === 'timestamp');
  t.deepEqual(
    listed.map((m) => m.labels.gun),
    guns.slice(0, 10),
    'the ten initialised first expire first, soonest first; the eleventh is left out',
  );
});

test('metrics: admin-only when reads need a token; a separate --metrics-listen serves them instead', async (t) => {
  const strict = await startTestServer({ requirePullScope: true });
  t.teardown(() => strict.close());
  t.is((await api(strict.url, 'GET', '/metrics', undefined)).status, 401);
  t.truthy((await scrape(strict.url, ADMIN_TOKEN)).tagtrust_http_request_duration_seconds);

  const separate = await startTestServer({ metricsListen: '127.0.0.1:0' });
  t.teardown(() => separate.close());
  t.is((await api(separate.url, 'GET', '/metrics', undefined)).status, 404);
  t.regex(separate.server.metricsUrl!, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.truthy((await scrape(separate.server.metricsUrl!)).tagtrust_collections_tracked);
});

test('metrics: route labels never carry what a client chose', (t) => {
  t.is(routeLabel('/v2/registry.example.com/team/app/_trust/tuf/timestamp.json?x=1'), '/v2/{gun}/_trust/tuf/{role}.json');
  t.is(routeLabel('/v2/a/b/_trust/tuf/12.targets/ci.json'), '/v2/{gun}/_trust/tuf/{version}.{role}.json');
  t.is(routeLabel('/_admin/tokens/ci-team-a'), '/_admin/tokens/{name}');
  t.is(routeLabel('/anything/else/secret'), 'other');
});

test('metrics: the expiry index stays at 100,000 collections', (t) => {
  const index = new ExpiryIndex();
  for (let i = 0; i <= 100_000; i += 1) index.set(`registry.example.com/c/${i}`, 'timestamp', 1_000_000 + i);
  t.is(index.size('timestamp'), 100_000);
  t.deepEqual(
    index.nearest('timestamp', 3).map((n) => n.gun),
    ['registry.example.com/c/1', 'registry.example.com/c/2', 'registry.example.com/c/3'],
  );
});

test('metrics: the scan at start never overwrites a newer expiry nor brings back a deleted collection', (t) => {
  const index = new ExpiryIndex();
  const text = (expires: string) => JSON.stringify({ signatures: [], signed: { expires } });
  index.set('registry.example.com/a', 'targets', Date.parse('2030-01-01T00:00:00Z'));
  index.setFromText('registry.example.com/a', 'targets', text('2029-01-01T00:00:00Z'), true);
  t.is(index.nearest('targets', 1)[0]!.expiresMs, Date.parse('2030-01-01T00:00:00Z'));
  index.delete('registry.example.com/a');
  index.setFromText('registry.example.com/a', 'targets', text('2029-01-01T00:00:00Z'), true);
  t.is(index.size('targets'), 0);
  index.setFromText('registry.example.com/a', 'targets', text('2031-01-01T00:00:00Z'));
  t.is(index.size('targets'), 1, 'a publish re-creates it');
});
