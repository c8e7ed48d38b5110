/**
 * `tagtrust admission` against a real tagtrust-server: AdmissionReview fixtures of every workload
 * kind, as the API server sends them, come back with a JSONPatch that, applied to the object, pins
 * every image (containers, init and ephemeral containers; docker.io short names; registries with
 * ports; tag@digest) to the digest its publisher signed. The patched objects and every response are
 * valid against the Kubernetes schemas.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SIGNED_TAGS_ANNOTATION } from '@tagtrust/client';
import { digestOf } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { checkReviewAnswer, imagesOf, loadFixture, patchOf, patched, signImages, startTestWebhook } from './helpers/admission.js';
import type { Json, TestWebhook } from './helpers/admission.js';

const SIGNED: Record<string, string> = {
  'registry.example.com/shop/web:1.0': digestOf('1'),
  'registry.example.com/shop/api:2.0': digestOf('2'),
  'docker.io/library/redis:7.2': digestOf('3'),
  'registry.example.com:8443/shop/migrate:5': digestOf('4'),
  'docker.io/library/busybox:latest': digestOf('5'),
  'registry.example.com/shop/proxy:2.1': digestOf('6'),
  'registry.example.com/shop/proxy:2.2': digestOf('7'),
  'registry.example.com/shop/metrics:0.9': digestOf('8'),
  'docker.io/library/fluent-bit:3.0': digestOf('9'),
  'docker.io/library/nginx:1.25': digestOf('b'),
  'localhost:5000/ops/node-agent:1.4': digestOf('c'),
  'registry.example.com/shop/db:16': digestOf('d'),
  'registry.example.com/shop/report:2026.12': digestOf('e'),
  'registry.example.com/shop/backup:1.1': digestOf('f'),
  'localhost:5000/tools/debug:v1': digestOf('0'),
};

const pin = (reference: string) => `${reference.slice(0, reference.lastIndexOf(':'))}@${SIGNED[reference]}`;

let server: TestServer;
let rootKeyId: string;
test.before(async () => {
  server = await startTestServer();
  rootKeyId = await signImages(server.url, SIGNED);
});
test.after.always(() => server?.close());

const policy = (extra = '') => `
server: ${server.url}
defaultAction: deny
rules:
  - name: shop
    images: ["registry.example.com/**", "registry.example.com:8443/**", "localhost:5000/**"]
    trust:
      tofu: false
      pins:
        - pattern: registry.example.com/shop/*
          rootKeyId: ${rootKeyId}
        - pattern: registry.example.com:8443/shop/*
          rootKeyId: ${rootKeyId}
        - pattern: localhost:5000/ops/*
          rootKeyId: ${rootKeyId}
        - pattern: localhost:5000/tools/*
          rootKeyId: ${rootKeyId}
  - name: docker-hub
    images: ["docker.io/library/*"]
${extra}`;

/** Sends a fixture, checks the answer and returns the patched object's pod spec and template metadata. */
async function admitFixture(t: ExecutionContext, webhook: TestWebhook, name: string, podPath: string[]): Promise<{ spec: Json; metadata: Json; response: Json }> {
  const review = await loadFixture(name);
  const response = checkReviewAnswer(t, await webhook.post(review), review.request.uid);
  t.true(response.allowed, JSON.stringify(response.status));
  const object = patched(t, review.request.object, response);
  let pod: Json = object;
  for (const key of podPath) pod = pod[key];
  return { spec: pod.spec, metadata: pod.metadata, response };
}

const signedTags = (metadata: Json) => JSON.parse(metadata.annotations[SIGNED_TAGS_ANNOTATION]) as Record<string, string>;

test('Pod: containers and initContainers, docker.io short names, a registry port, no tag meaning latest', async (t) => {
  const webhook = await startTestWebhook(t, policy());
  const { spec, metadata } = await admitFixture(t, webhook, 'pod-create.json', []);
  t.deepEqual(imagesOf(spec), {
    initContainers: [pin('registry.example.com:8443/shop/migrate:5'), pin('docker.io/library/busybox:latest')],
    containers: [pin('registry.example.com/shop/api:2.0'), pin('docker.io/library/redis:7.2')],
  });
  t.deepEqual(signedTags(metadata)[pin('docker.io/library/redis:7.2')], 'docker.io/library/redis:7.2');
  t.is(metadata.labels.app, 'shop-api', 'other metadata is untouched');
});

test('Deployment with five containers: every image pinned; the pod template records the signed tags', async (t) => {
  const webhook = await startTestWebhook(t, policy());
  const { spec, metadata } = await admitFixture(t, webhook, 'deployment-create.json', ['spec', 'template']);
  const expected = [
    'registry.example.com/shop/web:1.0',
    'registry.example.com/shop/proxy:2.1',
    'registry.example.com/shop/metrics:0.9',
    'docker.io/library/fluent-bit:3.0',
    'docker.io/library/nginx:1.25',
  ];
  t.deepEqual(imagesOf(spec).containers, expected.map(pin));
  t.deepEqual(signedTags(metadata), Object.fromEntries(expected.map((reference) => [pin(reference), reference])));
  const log = webhook.logs.find((entry) => entry.kind === 'Deployment')!;
  t.is(log.allowed, true);
  t.is((log.images as unknown[]).length, 5);
});

test('StatefulSet, DaemonSet, ReplicaSet, Job and CronJob: the pod template of each kind is pinned', async (t) => {
  const webhook = await startTestWebhook(t, policy());
  const sts = await admitFixture(t, webhook, 'statefulset-create.json', ['spec', 'template']);
  t.deepEqual(imagesOf(sts.spec).containers, [pin('registry.example.com/shop/db:16')], 'tag@digest matching the signed digest');
  const ds = await admitFixture(t, webhook, 'daemonset-create.json', ['spec', 'template']);
  t.deepEqual(imagesOf(ds.spec).containers, [pin('localhost:5000/ops/node-agent:1.4')]);
  const rs = await admitFixture(t, webhook, 'replicaset-create.json', ['spec', 'template']);
  t.deepEqual(imagesOf(rs.spec).containers, [pin('registry.example.com/shop/web:1.0')]);
  const job = await admitFixture(t, webhook, 'job-create.json', ['spec', 'template']);
  t.deepEqual(imagesOf(job.spec).containers, [pin('registry.example.com/shop/report:2026.12')]);
  t.truthy(job.metadata.annotations[SIGNED_TAGS_ANNOTATION], 'a template without metadata gets it');
  const cron = await admitFixture(t, webhook, 'cronjob-create.json', ['spec', 'jobTemplate', 'spec', 'template']);
  t.deepEqual(imagesOf(cron.spec), {
    initContainers: [pin('registry.example.com/shop/report:2026.12')],
    containers: [pin('registry.example.com/shop/backup:1.1')],
  });
});

test('ephemeral container (kubectl debug): the new image is pinned, the running ones are left alone', async (t) => {
  const webhook = await startTestWebhook(t, policy());
  const { spec, response } = await admitFixture(t, webhook, 'pod-ephemeral-update.json', []);
  t.deepEqual(imagesOf(spec).ephemeralContainers, [pin('localhost:5000/tools/debug:v1')]);
  t.deepEqual(
    patchOf(response).map((op) => op.path),
    ['/spec/ephemeralContainers/0/image', `/metadata/annotations/${SIGNED_TAGS_ANNOTATION.replace('/', '~1')}`],
  );
});

test('Deployment UPDATE: only the changed image is verified; the pinned one stays with its record', async (t) => {
  const webhook = await startTestWebhook(t, policy());
  const { spec, metadata } = await admitFixture(t, webhook, 'deployment-update.json', ['spec', 'template']);
  t.deepEqual(imagesOf(spec).containers, [pin('registry.example.com/shop/web:1.0'), pin('registry.example.com/shop/proxy:2.2')]);
  t.deepEqual(signedTags(metadata), {
    [pin('registry.example.com/shop/web:1.0')]: 'registry.example.com/shop/web:1.0',
    [pin('registry.example.com/shop/proxy:2.2')]: 'registry.example.com/shop/proxy:2.2',
  });
  const images = webhook.logs.find((entry) => entry.operation === 'UPDATE')!.images as { result: string }[];
  t.deepEqual(images.map((i) => i.result), ['unchanged', 'pinned']);
});

/** A Pod review made from a (patched) Deployment's template, as the ReplicaSet controller creates it. */
function podFromTemplate(template: Json, uid: string): Json {
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { ...structuredClone(template.metadata), generateName: 'web-5d8f7c6b9-', namespace: 'shop' }, spec: structuredClone(template.spec) },
      oldObject: null,
      dryRun: false,
    },
  };
}

test('Pods created from a pinned template are admitted unchanged; a digest-only image without a record, or with a forged one, is denied', async (t) => {
  const webhook = await startTestWebhook(t, policy());
  const deployment = await loadFixture('deployment-create.json');
  const response = checkReviewAnswer(t, await webhook.post(deployment), deployment.request.uid);
  const template = patched(t, deployment.request.object, response).spec.template as Json;

  const pod = podFromTemplate(template, 'c0ffee00-0000-4000-8000-000000000001');
  const admitted = checkReviewAnswer(t, await webhook.post(pod), pod.request.uid);
  t.true(admitted.allowed, JSON.stringify(admitted.status));
  t.deepEqual(patchOf(admitted), [], 'nothing to change');

  const bare = podFromTemplate(template, 'c0ffee00-0000-4000-8000-000000000002');
  delete bare.request.object.metadata.annotations;
  const denied = checkReviewAnswer(t, await webhook.post(bare), bare.request.uid);
  t.false(denied.allowed);
  t.regex(denied.status.message, /^tagtrust denied 5 images: container "web" image "registry\.example\.com\/shop\/web@sha256:1{64}": it is pinned by digest only, and tagtrust vouches for tags: use registry\.example\.com\/shop\/web:<tag>/);

  // The record names a tag whose signed digest is another one: the image is still refused.
  const forged = podFromTemplate(template, 'c0ffee00-0000-4000-8000-000000000003');
  forged.request.object.spec.containers[0].image = `registry.example.com/shop/web@${digestOf('6')}`;
  forged.request.object.metadata.annotations[SIGNED_TAGS_ANNOTATION] = JSON.stringify({ [`registry.example.com/shop/web@${digestOf('6')}`]: 'registry.example.com/shop/web:1.0' });
  const refused = checkReviewAnswer(t, await webhook.post(forged), forged.request.uid);
  t.false(refused.allowed);
  t.regex(refused.status.message, /registry\.example\.com\/shop\/web:1\.0 is signed for sha256:1{64}, not sha256:6{64}/);
});

test('an unsigned tag and a tag@digest that is not the signed digest are denied with a message a developer can act on', async (t) => {
  const webhook = await startTestWebhook(t, policy());
  const review = await loadFixture('pod-create.json');
  review.request.object.spec.containers[0].image = 'registry.example.com/shop/api:9.9';
  review.request.object.spec.containers[1].image = `redis:7.2@${digestOf('a')}`;
  const response = checkReviewAnswer(t, await webhook.post(review), review.request.uid);
  t.false(response.allowed);
  t.is(response.status.code, 403);
  t.is(response.patch, undefined, 'a denial patches nothing');
  t.regex(response.status.message, /^tagtrust denied 2 images: /);
  t.regex(response.status.message, /container "api" image "registry\.example\.com\/shop\/api:9\.9": registry\.example\.com\/shop\/api:9\.9 is not signed \(.*\): ask its publisher to run `tagtrust sign`, or check the tag/);
  t.regex(response.status.message, /container "cache" image "redis:7\.2@sha256:a{64}": docker\.io\/library\/redis:7\.2 is signed for sha256:3{64}, not sha256:a{64}/);
});

test('policy: defaultAction, rule actions, namespace exemptions, warn and audit modes', async (t) => {
  const review = await loadFixture('pod-create.json');
  review.request.object.spec.containers[1].image = 'quay.io/other/thing:1';
  const strict = await startTestWebhook(t, policy());
  const denied = checkReviewAnswer(t, await strict.post(review), review.request.uid);
  t.false(denied.allowed);
  t.regex(denied.status.message, /^tagtrust denied an image: container "cache" image "quay\.io\/other\/thing:1": no rule of the tagtrust policy covers quay\.io\/other\/thing and defaultAction is deny/);

  const allowQuay = await startTestWebhook(t, `${policy()}  - images: ["quay.io/**"]\n    action: allow\n`);
  const allowed = checkReviewAnswer(t, await allowQuay.post(review), review.request.uid);
  t.true(allowed.allowed);
  t.is(patched(t, review.request.object, allowed).spec.containers[1].image, 'quay.io/other/thing:1', 'allowed images are left as they are');

  const exempt = await startTestWebhook(t, `exemptNamespaces: [shop]\n${policy()}`);
  const skipped = checkReviewAnswer(t, await exempt.post(review), review.request.uid);
  t.true(skipped.allowed);
  t.is(skipped.patch, undefined);

  const unsigned = await loadFixture('pod-create.json');
  unsigned.request.object.spec.containers[0].image = 'registry.example.com/shop/api:9.9';
  const warnPolicy = policy().replace('  - name: shop\n', '  - name: shop\n    mode: warn\n');
  const warned = checkReviewAnswer(t, await (await startTestWebhook(t, warnPolicy)).post(unsigned), unsigned.request.uid);
  t.true(warned.allowed);
  t.is(warned.warnings.length, 1);
  t.regex(warned.warnings[0], /^tagtrust: container "api" image "registry\.example\.com\/shop\/api:9\.9": .* is not signed/);
  const object = patched(t, unsigned.request.object, warned);
  t.is(object.spec.containers[0].image, 'registry.example.com/shop/api:9.9', 'warn: the failed image is left as it is');
  t.is(object.spec.containers[1].image, pin('docker.io/library/redis:7.2'), 'warn: verified images are still pinned');

  const auditPolicy = policy().replace('  - name: shop\n', '  - name: shop\n    mode: audit\n');
  const audit = await startTestWebhook(t, auditPolicy);
  const audited = checkReviewAnswer(t, await audit.post(unsigned), unsigned.request.uid);
  t.true(audited.allowed);
  t.is(audited.warnings, undefined);
  const auditObject = patched(t, unsigned.request.object, audited);
  t.is(auditObject.spec.initContainers[0].image, 'registry.example.com:8443/shop/migrate:5', 'audit: nothing of its rule is patched');
  const logged = audit.logs.find((entry) => entry.uid === unsigned.request.uid)!.images as { result: string; mode?: string }[];
  t.deepEqual(logged.find((i) => i.result === 'failed')?.mode, 'audit', 'audit: the failure is logged');
});

test('a mirror mapped to its collection: verified in the collection, pinned at the mirror', async (t) => {
  const mirror = `
server: ${server.url}
rules:
  - images: ["mirror.internal:5000/**"]
    collection: { from: "mirror.internal:5000/", to: "registry.example.com/" }
`;
  const webhook = await startTestWebhook(t, mirror);
  const review = await loadFixture('replicaset-create.json');
  review.request.object.spec.template.spec.containers[0].image = 'mirror.internal:5000/shop/web:1.0';
  const response = checkReviewAnswer(t, await webhook.post(review), review.request.uid);
  t.true(response.allowed, JSON.stringify(response.status));
  t.is(patched(t, review.request.object, response).spec.template.spec.containers[0].image, `mirror.internal:5000/shop/web@${digestOf('1')}`);
});

test('spelling tricks do not slip past a rule, even with defaultAction allow: an upper-case registry host, an unparseable reference', async (t) => {
  const webhook = await startTestWebhook(t, policy().replace('defaultAction: deny', 'defaultAction: allow'));
  const review = await loadFixture('pod-create.json');
  review.request.object.spec.initContainers = [{ name: 'sha512', image: `registry.example.com/shop/api:2.0@sha512:${'a'.repeat(128)}` }];
  review.request.object.spec.containers = [
    { name: 'upper', image: 'REGISTRY.Example.com/shop/api:9.9' },
    { name: 'other', image: 'quay.io/other/thing:1' },
  ];
  const denied = checkReviewAnswer(t, await webhook.post(review), review.request.uid);
  t.false(denied.allowed);
  t.regex(denied.status.message, /^tagtrust denied 2 images: container "sha512" image .*: invalid image reference .*unsupported digest algorithm "sha512"/);
  // One registry, one spelling (docs/security-model.md): an upper-case host is refused, never mapped.
  t.regex(denied.status.message, /container "upper" image "REGISTRY\.Example\.com\/shop\/api:9\.9": invalid image reference .*is another spelling of "registry\.example\.com"/);
  t.notRegex(denied.status.message, /quay\.io/, 'images no rule covers are allowed');

  review.request.object.spec.initContainers = [];
  review.request.object.spec.containers[0].image = 'REGISTRY.Example.com/shop/api:2.0';
  const signedButMisspelt = checkReviewAnswer(t, await webhook.post(review), review.request.uid);
  t.false(signedButMisspelt.allowed, 'a signed tag under another spelling of its registry is denied, not admitted unpinned');
  t.regex(signedButMisspelt.status.message, /is another spelling of "registry\.example\.com" .*: write "registry\.example\.com"/);
});
