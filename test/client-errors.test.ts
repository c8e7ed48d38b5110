/**
 * Bad inputs through the client library against the real server: each gets its own error class
 * and code, messages carry no secrets, and nothing stored changes.
 */
import test from 'ava';
import { readdir } from 'node:fs/promises';
import {
  InvalidInputError,
  InvalidReferenceError,
  KeyNotFoundError,
  NetworkError,
  NotFoundError,
  NotSignedError,
  UnauthorizedError,
  UsageError,
  WrongPassphraseError,
} from '@tagtrust/client';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import type { ServedState } from './helpers/metadata.js';
import { assertUnchanged, servedState } from './helpers/metadata.js';

const GUN = 'registry.example.com/errors/app';
let server: TestServer;
let home: string;
let before: ServedState;

test.before(async () => {
  server = await startTestServer();
  home = await tempHome();
  const publisher = publisherFor(server.url, home);
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  before = await servedState(server.url, GUN);
});
test.after.always(async () => {
  await server?.close();
});

test('malformed references are InvalidReferenceError', async (t) => {
  const publisher = publisherFor(server.url, home);
  const puller = pullerFor(server.url, await tempHome());
  for (const reference of [GUN, `${GUN}:`, `${GUN}:bad tag`, `${GUN}:-v1`, 'Registry.example.com/Errors/App:v1', `${GUN}:v1\nv2`, `${'a'.repeat(300)}:v1`]) {
    const signErr = await t.throwsAsync(publisher.sign(reference, { digest: digestOf('b'), size: 1 }), { instanceOf: InvalidReferenceError }, reference);
    t.is(signErr?.code, 'INVALID_REFERENCE');
    t.false(signErr?.message.includes('\n'));
    const unsignErr = await t.throwsAsync(publisher.unsign(reference), { instanceOf: InvalidReferenceError }, reference);
    t.is(unsignErr?.code, 'INVALID_REFERENCE');
    const resolveErr = await t.throwsAsync(puller.resolve(reference), { instanceOf: InvalidReferenceError }, reference);
    t.is(resolveErr?.code, 'INVALID_REFERENCE');
  }
  const listErr = await t.throwsAsync(puller.list(`${GUN}:v1`), { instanceOf: InvalidReferenceError });
  t.is(listErr.code, 'INVALID_REFERENCE');
  await assertUnchanged(t, server.url, GUN, before);
});

test('bad digests and sizes are refused before anything is published', async (t) => {
  const publisher = publisherFor(server.url, home);
  for (const digest of ['', 'sha256:abc', `sha256:${'A'.repeat(64)}`, `sha512:${'a'.repeat(128)}`, `md5:${'a'.repeat(32)}`, 'a'.repeat(64)]) {
    const err = await t.throwsAsync(publisher.sign(`${GUN}:v2`, { digest, size: 10 }), { instanceOf: InvalidReferenceError }, digest);
    t.is(err?.code, 'INVALID_REFERENCE');
  }
  const inReference = await t.throwsAsync(publisher.sign(`${GUN}:v2@sha256:${'z'.repeat(64)}`, { size: 10 }), { instanceOf: InvalidReferenceError });
  t.is(inReference.code, 'INVALID_REFERENCE');
  const conflicting = await t.throwsAsync(publisher.sign(`${GUN}:v2@${digestOf('b')}`, { digest: digestOf('c'), size: 10 }), { instanceOf: InvalidInputError });
  t.is(conflicting.code, 'INVALID_INPUT');
  for (const size of [undefined, 0, -1, 1.5, Number.NaN]) {
    const err = await t.throwsAsync(publisher.sign(`${GUN}:v2`, { digest: digestOf('b'), size }), { instanceOf: InvalidInputError }, String(size));
    t.is(err?.code, 'INVALID_INPUT');
  }
  await assertUnchanged(t, server.url, GUN, before);
});

test('a wrong passphrase is WrongPassphraseError and is never shown', async (t) => {
  const wrong = 'not-the-passphrase-4f9c2a';
  const publisher = publisherFor(server.url, home, { passphrases: async () => wrong });
  const err = await t.throwsAsync(publisher.sign(`${GUN}:v2`, { digest: digestOf('b'), size: 10 }), { instanceOf: WrongPassphraseError });
  t.is(err.code, 'WRONG_PASSPHRASE');
  t.false(err.message.includes(wrong));
  await assertUnchanged(t, server.url, GUN, before);
});

test('a home without the targets key is KeyNotFoundError', async (t) => {
  const publisher = publisherFor(server.url, await tempHome());
  const err = await t.throwsAsync(publisher.sign(`${GUN}:v2`, { digest: digestOf('b'), size: 10 }), { instanceOf: KeyNotFoundError });
  t.is(err.code, 'KEY_NOT_FOUND');
  await assertUnchanged(t, server.url, GUN, before);
});

test('publishing without a valid token is UnauthorizedError, and the token is never shown', async (t) => {
  const noToken = publisherFor(server.url, home, { token: undefined });
  const missing = await t.throwsAsync(noToken.sign(`${GUN}:v2`, { digest: digestOf('b'), size: 10 }), { instanceOf: UnauthorizedError });
  t.is(missing.code, 'UNAUTHORIZED');
  const token = 'wrong-token-7d1e0b';
  const wrongToken = publisherFor(server.url, home, { token });
  const wrong = await t.throwsAsync(wrongToken.unsign(`${GUN}:v1`), { instanceOf: UnauthorizedError });
  t.is(wrong.code, 'UNAUTHORIZED');
  t.false(wrong.message.includes(token));
  const init = await t.throwsAsync(noToken.init('registry.example.com/errors/no-token'), { instanceOf: UnauthorizedError });
  t.is(init.code, 'UNAUTHORIZED');
  await assertUnchanged(t, server.url, GUN, before);
  await assertUnchanged(t, server.url, 'registry.example.com/errors/no-token', { root: undefined, targets: undefined, snapshot: undefined, timestamp: undefined });
});

test('an unknown collection is NotFoundError and is not created', async (t) => {
  const gun = 'registry.example.com/errors/unknown';
  const publisher = publisherFor(server.url, home);
  const puller = pullerFor(server.url, await tempHome());
  for (const [what, attempt] of [
    ['sign', () => publisher.sign(`${gun}:v1`, { digest: digestOf('b'), size: 10 })],
    ['unsign', () => publisher.unsign(`${gun}:v1`)],
    ['resolve', () => puller.resolve(`${gun}:v1`)],
    ['list', () => puller.list(gun)],
  ] as const) {
    const err = await t.throwsAsync(attempt(), { instanceOf: NotFoundError }, what);
    t.is(err?.code, 'NOT_FOUND', what);
  }
  await assertUnchanged(t, server.url, gun, { root: undefined, targets: undefined, snapshot: undefined, timestamp: undefined });
});

test('unsigning a tag that is not signed is NotSignedError', async (t) => {
  const err = await t.throwsAsync(publisherFor(server.url, home).unsign(`${GUN}:nope`), { instanceOf: NotSignedError });
  t.is(err.code, 'NOT_SIGNED');
  await assertUnchanged(t, server.url, GUN, before);
});

test('initialising an existing collection is UsageError and changes nothing, not even the home', async (t) => {
  const otherHome = await tempHome();
  const err = await t.throwsAsync(publisherFor(server.url, otherHome).init(GUN), { instanceOf: UsageError });
  t.is(err.code, 'USAGE');
  t.regex(err.message, /already exists \(root v1\)/);
  await assertUnchanged(t, server.url, GUN, before);
  t.deepEqual(await readdir(otherHome), []);
});

test('an unreachable server is NetworkError', async (t) => {
  const err = await t.throwsAsync(pullerFor('http://127.0.0.1:1', await tempHome()).resolve(`${GUN}:v1`), { instanceOf: NetworkError });
  t.is(err.code, 'NETWORK');
});
