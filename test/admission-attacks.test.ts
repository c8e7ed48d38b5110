/**
 * Attacks on the metadata behind the admission webhook, from the attack harness (a simulated
 * repository served by a malicious server): rollback, freeze, a mapping signed by the wrong key, a
 * root not signed by the pinned key, and a server that never answers. Each ends in a denial that
 * names the attack; no attacked request is ever admitted or patched.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { generateKeyPair } from '@tagtrust/keys';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import type { AttackFixture } from './harness/fixture.js';
import { checkReviewAnswer, loadFixture, patched, startTestWebhook } from './helpers/admission.js';
import type { Json, TestWebhook } from './helpers/admission.js';

const policy = (fx: AttackFixture, trust = '', requestTimeout = '8s') => `
server: ${fx.evil.url}
refreshInterval: 0s
requestTimeout: ${requestTimeout}
rules:
  - name: team
    images: ["registry.example.com/team/**"]
${trust}`;

let counter = 0;
/** The Pod fixture with one container running `<gun>:v1`. */
async function podReview(fx: AttackFixture): Promise<Json> {
  const review = await loadFixture('pod-create.json');
  review.request.uid = `a77ac4e0-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
  review.request.object.spec.containers = [{ name: 'app', image: fx.ref }];
  delete review.request.object.spec.initContainers;
  return review;
}

async function assertPinned(t: ExecutionContext, webhook: TestWebhook, fx: AttackFixture, digest: string): Promise<void> {
  const review = await podReview(fx);
  const response = checkReviewAnswer(t, await webhook.post(review), review.request.uid);
  t.true(response.allowed, JSON.stringify(response.status));
  t.is(patched(t, review.request.object, response).spec.containers[0].image, `${fx.gun}@${digest}`);
}

/** The attack ends in a denial with `message` and error code `code` in the decision log; nothing is patched. */
async function assertDenied(t: ExecutionContext, webhook: TestWebhook, fx: AttackFixture, code: string, message: RegExp): Promise<void> {
  const review = await podReview(fx);
  const response = checkReviewAnswer(t, await webhook.post(review), review.request.uid);
  t.false(response.allowed);
  t.is(response.patch, undefined);
  t.is(response.status.code, 403);
  t.regex(response.status.message, new RegExp(`^tagtrust denied an image: container "app" image "${fx.ref.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}": `));
  t.regex(response.status.message, message);
  const logged = webhook.logs.find((entry) => entry.uid === review.request.uid)!;
  t.is(logged.allowed, false);
  t.is((logged.images as Json[])[0]!.errorCode, code);
}

test('rollback: an older, genuinely signed set of metadata is refused after the webhook saw a newer one', async (t) => {
  const fx = await attackFixture(t);
  const webhook = await startTestWebhook(t, policy(fx));
  await assertPinned(t, webhook, fx, digestOf('a'));
  const old = fx.sim.capture();
  fx.sim.addTarget('v1', digestOf('b'), 100);
  fx.sim.publishTargets();
  await assertPinned(t, webhook, fx, digestOf('b'));
  fx.evil.serve(fx.gun, old);
  await assertDenied(t, webhook, fx, 'ROLLBACK', /refusing a rollback/);
  fx.evil.serve(fx.gun, (file) => fx.sim.fetch(file));
  await assertPinned(t, webhook, fx, digestOf('b'));
});

test('freeze: an expired timestamp is refused', async (t) => {
  const fx = await attackFixture(t);
  const webhook = await startTestWebhook(t, policy(fx));
  await assertPinned(t, webhook, fx, digestOf('a'));
  fx.sim.timestamp.version += 1;
  fx.sim.timestamp.expires = fx.sim.expired();
  fx.sim.commit('timestamp');
  await assertDenied(t, webhook, fx, 'EXPIRED', /timestamp v3 of registry\.example\.com\/team\/app expired at .*freeze attack/);
});

test('wrong keys: a tag moved by targets signed with a key the root does not list is refused', async (t) => {
  const fx = await attackFixture(t);
  const webhook = await startTestWebhook(t, policy(fx));
  await assertPinned(t, webhook, fx, digestOf('a'));
  const attacker = await generateKeyPair('ed25519');
  fx.sim.addTarget('v1', digestOf('e'), 100);
  fx.sim.targets.version += 1;
  fx.sim.commit('targets', [attacker]);
  fx.sim.updateSnapshot();
  await assertDenied(t, webhook, fx, 'BAD_SIGNATURE', /targets v3 of .* is not signed by enough of the keys root v1 trusts for it/);
});

test('wrong keys: with the collection pinned by root key, a server presenting another root is refused on first sight', async (t) => {
  const fx = await attackFixture(t, { trusted: false });
  const other = await generateKeyPair('ed25519');
  const webhook = await startTestWebhook(t, policy(fx, `    trust:\n      tofu: false\n      pins:\n        - pattern: registry.example.com/team/*\n          rootKeyId: ${other.keyId}\n`));
  await assertDenied(t, webhook, fx, 'UNTRUSTED_ROOT', /is not signed by a root key pinned for registry\.example\.com\/team\/\*/);
});

test('without TOFU and without a pin, an unknown collection is refused', async (t) => {
  const fx = await attackFixture(t, { trusted: false });
  const webhook = await startTestWebhook(t, policy(fx, '    trust:\n      tofu: false\n'));
  await assertDenied(t, webhook, fx, 'UNTRUSTED_ROOT', /is not pinned and trust on first use is off/);
});

test('slow retrieval: a server that never answers ends in a denial within the request deadline', async (t) => {
  const fx = await attackFixture(t);
  // 3 s: enough for the honest first update on a busy machine, short enough to show the deadline.
  const webhook = await startTestWebhook(t, policy(fx, '', '3s'));
  await assertPinned(t, webhook, fx, digestOf('a'));
  fx.evil.override(fx.gun, 'timestamp.json', { hang: true });
  const started = performance.now();
  await assertDenied(t, webhook, fx, 'TIMEOUT', /did not finish within/);
  const elapsed = performance.now() - started;
  t.true(elapsed >= 2_900 && elapsed < 5_000, `denied after ${Math.round(elapsed)} ms`);
});
