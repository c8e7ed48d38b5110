/**
 * Concurrent publishers on one collection (issue 11): with publish leases they queue first come,
 * first served, so 100 concurrent signers of distinct tags all land within the default 30 s deadline
 * with one attempt each, instead of O(N²) attempts and timeouts. Two signers moving the same tag end
 * in one of the two, both recorded in the audit trail. A lease whose holder died expires; a deadline
 * that passes while waiting for the lease says "contention", not "slow server".
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TimeoutError, readHistory } from '@tagtrust/client';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { PASSPHRASES, digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { KeyStore } from '../client/src/keystore.js';

const digest = (i: number) => `sha256:${createHash('sha256').update(`manifest ${i}`).digest('hex')}`;

/** Another machine of the same publisher: a new home holding copies of the private keys. */
async function copyKeys(fromHome: string): Promise<string> {
  const home = await tempHome();
  await mkdir(join(home, 'keys'), { recursive: true, mode: 0o700 });
  for (const name of await readdir(join(fromHome, 'keys'))) await copyFile(join(fromHome, 'keys', name), join(home, 'keys', name));
  return home;
}

/** Takes the publish lease of `gun` directly and never releases it (a publisher that died). */
async function takeLease(url: string, gun: string): Promise<string> {
  const response = await fetch(`${url}/v2/${gun}/_trust/lease`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return ((await response.json()) as { lease: string }).lease;
}

test.serial('100 concurrent library publishers of distinct tags all land within the default deadline, one attempt each', async (t) => {
  t.timeout(120_000);
  const server = await startTestServer();
  t.teardown(() => server.close());
  const gun = 'registry.example.com/contention/hundred';
  const firstHome = await tempHome();
  await publisherFor(server.url, firstHome).init(gun);
  const homes = [firstHome, ...(await Promise.all(Array.from({ length: 9 }, () => copyKeys(firstHome))))];
  // Ten machines with ten signers each: a machine decrypts its key once (a shared KeyStore), as 100
  // signers on their own machines would not spend this machine's 2 cores on 100 scrypt runs.
  const keyStores = homes.map((home) => new KeyStore(home, async () => PASSPHRASES.targets));
  const publishers = Array.from({ length: 100 }, (_, i) => publisherFor(server.url, homes[i % homes.length]!, { keyStore: keyStores[i % homes.length] }));

  const start = Date.now();
  const results = await Promise.all(publishers.map((publisher, i) => publisher.sign(`${gun}:t${String(i).padStart(3, '0')}`, { digest: digest(i), size: 1000 + i })));
  const elapsed = Date.now() - start;
  t.log(`100 concurrent signs in ${elapsed} ms; attempts: max ${Math.max(...results.map((r) => r.attempts))}`);

  t.true(elapsed < 30_000);
  t.deepEqual(
    results.map((r) => r.targetsVersion).sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => i + 2),
  );
  t.true(results.every((r) => r.attempts === 1), 'the lease makes every publish succeed at its first attempt');
  const listed = await pullerFor(server.url, await tempHome()).list(gun);
  t.is(listed.length, 100);
  t.deepEqual(
    listed.map((tag) => [tag.tag, tag.digest]),
    results.map((_, i) => [`t${String(i).padStart(3, '0')}`, digest(i)]),
  );
});

test.serial('two signers moving the same tag: it ends at one of the two, and the audit trail has both', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const gun = 'registry.example.com/contention/same-tag';
  const home = await tempHome();
  await publisherFor(server.url, home).init(gun);
  const other = await copyKeys(home);
  await Promise.all([
    publisherFor(server.url, home).sign(`${gun}:latest`, { digest: digestOf('a'), size: 10 }),
    publisherFor(server.url, other).sign(`${gun}:latest`, { digest: digestOf('b'), size: 10 }),
  ]);
  const final = (await pullerFor(server.url, await tempHome()).resolve(`${gun}:latest`)).digest;
  t.true([digestOf('a'), digestOf('b')].includes(final));
  const history = await readHistory(`${gun}:latest`, { server: server.url, home: await tempHome() });
  const digests = history.flatMap((record) => (record.tags ?? []).map((change) => change.to));
  t.deepEqual([...digests].sort(), [digestOf('a'), digestOf('b')]);
  t.is(digests.at(-1), final, 'the last recorded change is what is served');
});

test.serial('a lease whose holder died expires; a deadline passed in the queue blames contention, not the server', async (t) => {
  const server = await startTestServer({ publishLeaseTtl: 3_000 });
  t.teardown(() => server.close());
  const gun = 'registry.example.com/contention/dead-holder';
  const home = await tempHome();
  await publisherFor(server.url, home).init(gun);

  await takeLease(server.url, gun);
  const late = await t.throwsAsync(publisherFor(server.url, home, { timeoutMs: 1_000 }).sign(`${gun}:v1`, { digest: digestOf('a'), size: 10 }), { instanceOf: TimeoutError });
  t.regex(late.message, /did not finish within 1s: it was still waiting for its turn to publish to registry\.example\.com\/contention\/dead-holder; .*\(contention, not a slow server\); retry, or raise --timeout/);
  t.notRegex(late.message, /slow-retrieval|overload/);

  const start = Date.now();
  await takeLease(server.url, gun);
  const result = await publisherFor(server.url, home).sign(`${gun}:v1`, { digest: digestOf('a'), size: 10 });
  t.is(result.attempts, 1);
  t.true(Date.now() - start >= 2_000, 'waited for the dead holder’s lease to expire');

  // The successful publish released the lease: the next publisher's turn comes at once.
  const next = Date.now();
  await takeLease(server.url, gun);
  t.true(Date.now() - next < 1_500, 'the lease was free after the publish');
});

test.serial('8 concurrent CLI signers of distinct tags all exit 0', async (t) => {
  t.timeout(120_000);
  const server = await startTestServer();
  t.teardown(() => server.close());
  const gun = 'registry.example.com/contention/cli';
  const home = await tempHome();
  await publisherFor(server.url, home).init(gun);
  const runs = await Promise.all(
    Array.from({ length: 8 }, (_, i) => runCli(['sign', `${gun}:c${i}`, '--digest', digest(i), '--size', '10'], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home })),
  );
  for (const run of runs) t.is(run.code, 0, run.stderr);
  t.is((await pullerFor(server.url, await tempHome()).list(gun)).length, 8);
});
