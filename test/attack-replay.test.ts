/**
 * Attack 5, replay of a stale tag signature, against a real tagtrust-server: `v1` moved from digest A
 * to B; the attacker replays the complete, still-unexpired older set where `v1` -> A.
 * - A client that has seen the newer set refuses it (rollback).
 * - A client that has never seen the collection cannot tell the sets apart: it accepts v1 -> A until
 *   the old timestamp expires (the server's timestamp lifetime, 6 h by default), or until the old
 *   timestamp is older than the puller's maxAge. docs/security-model.md documents this window.
 */
import test from 'ava';
import { ExpiredMetadataError, RollbackError } from '@tagtrust/client';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import { MaliciousServer } from './harness/malicious-server.js';
import { captureCollection } from './harness/real-collection.js';
import { EXIT, assertRefused, trustState } from './harness/attack.js';

const GUN = 'registry.example.com/team/app';
const REF = `${GUN}:v1`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('replay_of_stale_tag_signature: seen-newer clients refuse it; fresh clients are protected once it expires', async (t) => {
  const lifetimeMs = 6000;
  const server = await startTestServer({ timestampLifetime: lifetimeMs });
  const evil = await MaliciousServer.start();
  t.teardown(async () => {
    await evil.close();
    await server.close();
  });
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(REF, { digest: digestOf('a'), size: 10 });
  const staleSet = await captureCollection(server.url, GUN);
  const capturedAt = Date.now();
  await publisher.sign(REF, { digest: digestOf('b'), size: 10 });

  // A client that has seen v1 -> B.
  const seenHome = await tempHome();
  t.is((await pullerFor(server.url, seenHome).resolve(REF)).digest, digestOf('b'));
  evil.serve(GUN, staleSet);
  const before = await trustState(seenHome, GUN);
  await assertRefused(t, pullerFor(evil.url, seenHome).resolve(REF), RollbackError, 'ROLLBACK', /offers timestamp v\d+ of .*, older than v\d+ which this client already trusts/);
  // The window: a fresh client accepts the complete older set while its timestamp is valid...
  const freshHome = await tempHome();
  t.is((await pullerFor(evil.url, freshHome).resolve(REF)).digest, digestOf('a'));
  // (the CLI of the client that saw the newer set refuses it as well)
  const seenCli = await runCli(['resolve', REF], { TAGTRUST_SERVER: evil.url, TAGTRUST_HOME: seenHome });
  t.is(seenCli.code, EXIT.ROLLBACK, seenCli.stderr);
  t.deepEqual(await trustState(seenHome, GUN), before);
  // ...unless its maxAge is shorter than the replayed timestamp's age.
  await sleep(Math.max(0, 1100 - (Date.now() - capturedAt)));
  await assertRefused(t, pullerFor(evil.url, await tempHome(), { maxAgeMs: 1000 }).resolve(REF), ExpiredMetadataError, 'EXPIRED', /longer ago than your max age/);
  // Once the old timestamp expires, fresh clients refuse the set.
  await sleep(Math.max(0, lifetimeMs + 200 - (Date.now() - capturedAt)));
  const lateHome = await tempHome();
  await assertRefused(t, pullerFor(evil.url, lateHome).resolve(REF), ExpiredMetadataError, 'EXPIRED', /^timestamp v\d+ of .* expired at /);
  const lateCli = await runCli(['resolve', REF], { TAGTRUST_SERVER: evil.url, TAGTRUST_HOME: lateHome });
  t.is(lateCli.code, EXIT.EXPIRED, lateCli.stderr);
  t.deepEqual(await trustState(lateHome, GUN), {});
  // The client fooled during the window moves on as soon as it reaches the honest server.
  t.is((await pullerFor(server.url, freshHome).resolve(REF)).digest, digestOf('b'));
});
