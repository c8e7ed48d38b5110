/**
 * Bad input to the admission webhook: bodies that are not reviews, reviews of the wrong version,
 * huge bodies, unknown kinds, malformed objects, wrong methods and paths; bad policy files. Each
 * gets one clear error (a denial echoing the uid when there is one), and the server keeps serving.
 * Also the real `tagtrust admission` process: it serves, logs JSON lines and stops on SIGTERM.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePolicy } from '@tagtrust/client';
import { issueSelfSignedCertificate } from '@tagtrust/server';
import { CLI, digestOf, runCli, tempHome } from './helpers/client.js';
import { startTestServer } from './helpers/server.js';
import { checkReviewAnswer, httpsCall, loadFixture, patched, signImages, startTestWebhook, webhookCertificate } from './helpers/admission.js';

const POLICY = `
server: http://127.0.0.1:9
rules:
  - images: ["registry.example.com/**"]
`;

test('health endpoints, wrong paths and methods', async (t) => {
  const webhook = await startTestWebhook(t, POLICY);
  t.is((await webhook.get('/healthz')).status, 200);
  t.is((await webhook.get('/readyz')).status, 200);
  const missing = await webhook.get('/validate');
  t.is(missing.status, 404);
  t.is(missing.json.error.code, 'NOT_FOUND');
  const get = await webhook.get('/mutate');
  t.is(get.status, 405);
  t.regex(get.json.error.message, /POST an AdmissionReview to \/mutate/);
});

test('a renewed certificate in the mounted files is served to new connections; a broken one is ignored', async (t) => {
  const webhook = await startTestWebhook(t, POLICY, { tlsReloadMs: 50 });
  const renewed = await issueSelfSignedCertificate({ hosts: ['127.0.0.1'] });
  await writeFile(join(webhook.home, 'key.pem'), 'not a key');
  const reported = () => webhook.logs.some((entry) => /do not load/.test(String(entry.message)));
  for (let i = 0; i < 100 && !reported(); i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
  t.true(reported(), 'a half-written pair is reported');
  t.is((await webhook.get('/healthz')).status, 200, 'and the old certificate still serves');
  await writeFile(join(webhook.home, 'cert.pem'), renewed.cert);
  await writeFile(join(webhook.home, 'key.pem'), renewed.key);
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    status = await httpsCall(`${webhook.url}/healthz`, 'GET', renewed.cert).then((answer) => answer.status, () => 0);
  }
  t.is(status, 200, 'a client trusting only the new certificate connects');
  t.true(webhook.logs.some((entry) => entry.message === 'reloaded the serving certificate'));
});

test('bodies that are not AdmissionReviews: 400 with a JSON error, or a denial echoing the uid', async (t) => {
  const webhook = await startTestWebhook(t, POLICY);
  const notJson = await webhook.post('{"kind": "AdmissionReview", ');
  t.is(notJson.status, 400);
  t.deepEqual(notJson.json.error, { code: 'INVALID_INPUT', message: 'not a valid AdmissionReview: the body is not JSON' });

  const noUid = await webhook.post({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: { group: '', version: 'v1', kind: 'Pod' } } });
  t.is(noUid.status, 400);
  t.regex(noUid.json.error.message, /request\.uid is missing/);

  const review = await loadFixture('pod-create.json');
  review.apiVersion = 'admission.k8s.io/v1beta1';
  const old = checkReviewAnswer(t, await webhook.post(review), review.request.uid);
  t.false(old.allowed);
  t.is(old.status.code, 400);
  t.regex(old.status.message, /not admission\.k8s\.io\/v1\/AdmissionReview: set admissionReviewVersions: \["v1"\]/);

  const badOperation = await loadFixture('pod-create.json');
  badOperation.request.operation = 'PATCH';
  t.regex(checkReviewAnswer(t, await webhook.post(badOperation), badOperation.request.uid).status.message, /request\.operation "PATCH" is not one of/);

  const noObject = await loadFixture('pod-create.json');
  noObject.request.object = null;
  t.regex(checkReviewAnswer(t, await webhook.post(noObject), noObject.request.uid).status.message, /request\.object is missing for CREATE/);
  t.is((await webhook.get('/healthz')).status, 200, 'still serving');
});

test('unknown kinds and malformed objects are denied with what to fix', async (t) => {
  const webhook = await startTestWebhook(t, POLICY);
  const service = await loadFixture('pod-create.json');
  service.request.kind = { group: '', version: 'v1', kind: 'Service' };
  const denied = checkReviewAnswer(t, await webhook.post(service), service.request.uid);
  t.false(denied.allowed);
  t.regex(denied.status.message, /^tagtrust: the webhook does not check v1\/Service: it checks v1\/Pod, .*batch\/v1\/CronJob; fix the rules of the MutatingWebhookConfiguration$/);

  const malformed = await loadFixture('deployment-create.json');
  malformed.request.object.spec.template.spec.containers = { name: 'web' };
  t.regex(
    checkReviewAnswer(t, await webhook.post(malformed), malformed.request.uid).status.message,
    /^tagtrust: the Deployment's \/spec\/template\/spec\/containers is not a list$/,
  );
  const badImage = await loadFixture('pod-create.json');
  badImage.request.object.spec.containers[0].image = 'Registry.Example.com/UPPER/case::1';
  const invalid = checkReviewAnswer(t, await webhook.post(badImage), badImage.request.uid);
  t.false(invalid.allowed);
  t.regex(invalid.status.message, /container "api" image "Registry\.Example\.com\/UPPER\/case::1": invalid image reference/);

  const crowded = await loadFixture('pod-create.json');
  crowded.request.object.spec.containers = Array.from({ length: 300 }, (_, i) => ({ name: `c${i}`, image: `registry.example.com/crowd/app-${i}:1` }));
  const tooMany = checkReviewAnswer(t, await webhook.post(crowded), crowded.request.uid);
  t.false(tooMany.allowed);
  t.regex(tooMany.status.message, /^tagtrust: the Pod lists 302 images; the webhook checks at most 256 per object$/);

  const deleted = await loadFixture('pod-create.json');
  deleted.request.operation = 'DELETE';
  deleted.request.oldObject = deleted.request.object;
  deleted.request.object = null;
  t.true(checkReviewAnswer(t, await webhook.post(deleted), deleted.request.uid).allowed, 'DELETE is not checked');
});

test('a body over the limit is refused with 413 without being read whole; the server keeps serving', async (t) => {
  const webhook = await startTestWebhook(t, POLICY, { bodyLimit: 64 * 1024 });
  const review = await loadFixture('pod-create.json');
  review.request.object.metadata.annotations = { big: 'x'.repeat(256 * 1024) };
  const answer = await webhook.post(review);
  t.is(answer.status, 413);
  t.is(answer.json.error.code, 'TOO_LARGE');
  t.regex(answer.json.error.message, /over the 65536 byte limit/);
  t.is((await webhook.get('/healthz')).status, 200);
});

test('policy files: unknown keys and bad values are refused with the line', (t) => {
  const refused = (text: string, message: RegExp) => t.throws(() => parsePolicy(text, 'policy.yaml'), { code: 'INVALID_INPUT', message } as never);
  refused('rules:\n  - images: ["registry.example.com/**"]\n    server: http://x\n    mdoe: warn\n', /^policy\.yaml:4: unknown key "mdoe" in rules\[0\] \(known: name, images, action, mode,/);
  refused('defualtAction: allow\nrules: []\n', /^policy\.yaml:1: unknown key "defualtAction" in the policy/);
  refused('server: http://x\nrules:\n  - images: ["registry.example.com/**"]\n    mode: block\n', /^policy\.yaml:4: rules\[0\]\.mode is "block"; use one of enforce, warn, audit$/);
  refused('rules:\n  - images: ["registry.example.com/**"]\n', /^policy\.yaml:2: rules\[0\] has no server: set server in the rule or at the top/);
  refused('server: http://x\nrules:\n  - images: ["team/*"]\n', /^policy\.yaml:3: image pattern "team\/\*" has no registry/);
  refused('server: http://x\nrequestTimeout: 45s\nrules: []\n', /^policy\.yaml:2: requestTimeout must be under the API server's 30s webhook limit/);
  refused(
    'server: http://x\nrules:\n  - images: ["**"]\n    trust:\n      pins:\n        - pattern: registry.example.com/*\n          rootKeyId: abc\n',
    /^policy\.yaml:6: .*pins\[0\]\.pattern "registry\.example\.com\/\*" reads as docker\.io\/library\/registry\.example\.com\/\*/,
  );
  refused('server: http://x\nrules:\n  - images: ["**"]\n    trust: { pins: [{ pattern: registry.example.com/team/*, rootKeyId: abc }] }\n', /^policy\.yaml:4: .*rootKeyId: root key ID "abc" must be 64 lowercase hex/);
  refused('rules: [\n', /^policy\.yaml:2: not valid YAML/);
  const policy = parsePolicy('server: http://x\nrules:\n  - images: [nginx, "docker.io/library/*"]\n', 'policy.yaml');
  t.deepEqual(policy.rules[0]!.images, ['docker.io/library/nginx', 'docker.io/library/*'], 'names without wildcards are normalised');
  t.is(policy.defaultAction, 'deny');
  t.is(policy.requestTimeoutMs, 8_000);
});

test('the tagtrust admission process serves HTTPS, logs JSON lines and stops on SIGTERM', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  await signImages(server.url, { 'registry.example.com/cli/app:1': digestOf('c') });
  const home = await tempHome();
  const tls = await webhookCertificate();
  await writeFile(join(home, 'cert.pem'), tls.cert);
  await writeFile(join(home, 'key.pem'), tls.key);
  await writeFile(join(home, 'policy.yaml'), `rules:\n  - images: ["registry.example.com/**"]\n`);
  const check = await runCli(['admission', '--policy', join(home, 'policy.yaml'), '--check'], { TAGTRUST_SERVER: server.url });
  t.is(check.code, 0, check.stderr);
  t.regex(check.stdout, /1 rule\(s\), defaultAction deny, requestTimeout 8s\n {2}rule 1: registry\.example\.com\/\*\* -> verify \(enforce\) at http/);
  const missing = await runCli(['admission', '--policy', join(home, 'policy.yaml')], { TAGTRUST_SERVER: server.url });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^tagtrust: --tls-cert FILE and --tls-key FILE are required/);

  const child = spawn(
    process.execPath,
    [CLI, 'admission', '--policy', join(home, 'policy.yaml'), '--tls-cert', join(home, 'cert.pem'), '--tls-key', join(home, 'key.pem'), '--listen', '127.0.0.1:0', '--home', home],
    { env: { PATH: process.env.PATH, TAGTRUST_SERVER: server.url }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.teardown(() => void child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${stdout}`)), 20_000);
    child.stdout.on('data', () => {
      const match = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  const review = await loadFixture('replicaset-create.json');
  review.request.object.spec.template.spec.containers[0].image = 'registry.example.com/cli/app:1';
  const response = checkReviewAnswer(t, await httpsCall(`${url}/mutate`, 'POST', tls.cert, review), review.request.uid);
  t.is(patched(t, review.request.object, response).spec.template.spec.containers[0].image, `registry.example.com/cli/app@${digestOf('c')}`);
  child.kill('SIGTERM');
  t.is(await exited, 0);
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const decision = lines.find((line) => line.uid === review.request.uid)!;
  t.like(decision, { level: 'info', operation: 'CREATE', kind: 'ReplicaSet', namespace: 'shop', name: 'web-5d8f7c6b9', allowed: true });
  t.regex(lines.at(-1)!.message as string, /^SIGTERM: finishing open requests/);
});
