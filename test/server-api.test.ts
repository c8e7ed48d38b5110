/**
 * The HTTP contract of tagtrust-server, driven over real HTTP: metadata files and their cache
 * headers, online keys and their authorisation, the JSON error envelope, and request bodies
 * (malformed, over the limit by declaration or by streaming). Every refused request leaves the
 * stored metadata unchanged.
 */
import test from 'ava';
import { request as httpRequest } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LevelStore } from '@tagtrust/server';
import { tufBasePath } from '@tagtrust/shared';
import type { Metadata, RootSigned, TufKey } from '@tagtrust/shared';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';
import { digestOf, publisherFor, tempHome } from './helpers/client.js';
import type { HttpResult } from './helpers/metadata.js';
import { apiError, assertUnchanged, getTufFile, latestMetadata, publishRaw, servedState } from './helpers/metadata.js';

const BODY_LIMIT = 64 * 1024;
const GUN = 'registry.example.com/api/app';

let server: TestServer;
test.before(async () => {
  server = await startTestServer({ bodyLimit: BODY_LIMIT });
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
});
test.after.always(async () => {
  await server?.close();
});

function assertApiError(t: import('ava').ExecutionContext, result: HttpResult, status: number, code: string): string {
  t.is(result.status, status, result.text);
  t.regex(result.headers.get('content-type') ?? '', /^application\/json/);
  const error = apiError(result);
  t.is(error.code, code as never);
  t.true(error.message.length > 0);
  t.false(error.message.includes('\n'));
  return error.message;
}

test('GET /healthz and /readyz answer ok with the storage and renewal state', async (t) => {
  for (const path of ['/healthz', '/readyz']) {
    const response = await fetch(`${server.url}${path}`);
    t.is(response.status, 200);
    t.deepEqual(await response.json(), { status: 'ok', storage: { writable: true }, renewal: { failing: 0, collections: [] } });
  }
});

test('latest metadata is served for revalidation, exact versions as immutable', async (t) => {
  const latest = await getTufFile(server.url, GUN, 'targets.json');
  t.is(latest.status, 200);
  t.regex(latest.headers.get('content-type') ?? '', /^application\/json/);
  t.is(latest.headers.get('cache-control'), 'no-cache');
  const etag = latest.headers.get('etag');
  t.regex(etag ?? '', /^"[A-Za-z0-9_-]+"$/);
  const version = (latest.json as Metadata).signed.version;
  t.is(version, 2);

  const exact = await getTufFile(server.url, GUN, `${version}.targets.json`);
  t.is(exact.status, 200);
  t.is(exact.text, latest.text, 'N.targets.json is the same bytes as the latest targets.json');
  t.is(exact.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.is(exact.headers.get('etag'), etag);

  const older = await getTufFile(server.url, GUN, '1.targets.json');
  t.is(older.status, 200);
  t.is((older.json as Metadata).signed.version, 1);
  t.not(older.headers.get('etag'), etag);

  for (const role of ['root', 'snapshot', 'timestamp']) {
    const file = await getTufFile(server.url, GUN, `${role}.json`);
    t.is(file.status, 200, role);
    const n = (file.json as Metadata).signed.version;
    t.is((await getTufFile(server.url, GUN, `${n}.${role}.json`)).text, file.text, role);
  }
});

test('If-None-Match with the current ETag answers 304 without a body', async (t) => {
  const gun = 'registry.example.com/api/etag';
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(gun);
  const first = await getTufFile(server.url, gun, 'targets.json');
  const etag = first.headers.get('etag')!;

  const notModified = await getTufFile(server.url, gun, 'targets.json', { 'if-none-match': etag });
  t.is(notModified.status, 304);
  t.is(notModified.text, '');
  t.is(notModified.headers.get('etag'), etag);
  const exactNotModified = await getTufFile(server.url, gun, '1.targets.json', { 'if-none-match': etag });
  t.is(exactNotModified.status, 304);

  await publisher.sign(`${gun}:v1`, { digest: digestOf('b'), size: 10 });
  const changed = await getTufFile(server.url, gun, 'targets.json', { 'if-none-match': etag });
  t.is(changed.status, 200);
  t.not(changed.headers.get('etag'), etag);
  t.is((changed.json as Metadata).signed.version, 2);
});

test('missing collections, versions and files are 404 NOT_FOUND', async (t) => {
  assertApiError(t, await getTufFile(server.url, 'registry.example.com/api/nothing-here', 'root.json'), 404, 'NOT_FOUND');
  assertApiError(t, await getTufFile(server.url, 'registry.example.com/api/nothing-here', '1.root.json'), 404, 'NOT_FOUND');
  assertApiError(t, await getTufFile(server.url, GUN, '99.targets.json'), 404, 'NOT_FOUND');
  assertApiError(t, await getTufFile(server.url, GUN, '0.root.json'), 404, 'NOT_FOUND');
  assertApiError(t, await getTufFile(server.url, GUN, 'mirrors.json'), 404, 'NOT_FOUND');
  assertApiError(t, await getTufFile(server.url, GUN, 'root.key'), 404, 'NOT_FOUND');
  const endpoint = await fetch(`${server.url}/v1/whatever`);
  assertApiError(t, { status: endpoint.status, headers: endpoint.headers, text: '', json: await endpoint.json() }, 404, 'NOT_FOUND');
});

test('collection names must be valid and normalised', async (t) => {
  const shortName = await fetch(`${server.url}/v2/ubuntu/_trust/tuf/root.json`);
  const body = await shortName.text();
  const message = assertApiError(t, { status: shortName.status, headers: shortName.headers, text: body, json: JSON.parse(body) }, 400, 'INVALID_REFERENCE');
  t.regex(message, /docker\.io\/library\/ubuntu/);
  const invalid = await fetch(`${server.url}/v2/registry.example.com/Bad_Name/_trust/tuf/root.json`);
  const invalidText = await invalid.text();
  assertApiError(t, { status: invalid.status, headers: invalid.headers, text: invalidText, json: JSON.parse(invalidText) }, 400, 'INVALID_REFERENCE');
});

test('online keys: fetching needs the push token, and a key stays the same once created', async (t) => {
  const gun = 'registry.example.com/api/keys';
  const keyUrl = (role: string) => `${server.url}${tufBasePath(gun)}/${role}.key`;
  const get = async (role: string, headers: Record<string, string> = {}): Promise<HttpResult> => {
    const response = await fetch(keyUrl(role), { headers });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: JSON.parse(text) };
  };

  const anonymous = assertApiError(t, await get('timestamp'), 401, 'UNAUTHORIZED');
  t.false(anonymous.includes(ADMIN_TOKEN));
  const wrong = assertApiError(t, await get('timestamp', { authorization: 'Bearer not-the-token' }), 401, 'UNAUTHORIZED');
  t.false(wrong.includes('not-the-token'));
  assertApiError(t, await get('timestamp', { authorization: 'Basic dXNlcjpwYXNz' }), 401, 'UNAUTHORIZED');

  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const timestamp = await get('timestamp', auth);
  t.is(timestamp.status, 200);
  const key = timestamp.json as TufKey;
  t.is(key.keytype, 'ed25519');
  t.is(key.scheme, 'ed25519');
  t.regex(key.keyval.public, /^[0-9a-f]{64}$/);
  t.deepEqual((await get('timestamp', auth)).json, key);
  const snapshot = (await get('snapshot', auth)).json as TufKey;
  t.notDeepEqual(snapshot, key);

  // The published root of a collection lists exactly these online keys.
  const root = await latestMetadata<Metadata<RootSigned>>(server.url, GUN, 'root');
  const served = (await Promise.all(['snapshot', 'timestamp'].map((role) => fetch(`${server.url}${tufBasePath(GUN)}/${role}.key`, { headers: auth }).then((r) => r.json())))) as TufKey[];
  t.deepEqual(root.signed.roles.snapshot.keyids.map((id) => root.signed.keys[id]), [served[0]]);
  t.deepEqual(root.signed.roles.timestamp.keyids.map((id) => root.signed.keys[id]), [served[1]]);
});

test('a key request without the push token creates no key', async (t) => {
  const own = await startTestServer();
  t.teardown(() => rm(own.dataDir, { recursive: true, force: true }));
  const gun = 'registry.example.com/api/no-key';
  const response = await fetch(`${own.url}${tufBasePath(gun)}/snapshot.key`);
  t.is(response.status, 401);
  await response.body?.cancel();
  await own.server.close();
  const store = await LevelStore.open(join(own.dataDir, 'db'));
  try {
    t.is(await store.getServerKey(gun, 'snapshot'), undefined);
    t.is(await store.getServerKey(gun, 'timestamp'), undefined);
  } finally {
    await store.close();
  }
});

test('publishing without a valid token is 401 and stores nothing', async (t) => {
  const before = await servedState(server.url, GUN);
  const targets = await latestMetadata(server.url, GUN, 'targets');
  assertApiError(t, await publishRaw(server.url, GUN, { targets }, null), 401, 'UNAUTHORIZED');
  assertApiError(t, await publishRaw(server.url, GUN, { targets }, 'wrong-token'), 401, 'UNAUTHORIZED');
  await assertUnchanged(t, server.url, GUN, before);
});

test('malformed publish bodies are 400 and store nothing', async (t) => {
  const before = await servedState(server.url, GUN);
  const targets = await latestMetadata(server.url, GUN, 'targets');
  const cases: [string, unknown, string][] = [
    ['not JSON', '{"targets": ', 'INVALID_INPUT'],
    ['empty', '', 'INVALID_INPUT'],
    ['a JSON array', [targets], 'INVALID_INPUT'],
    ['a JSON string', '"targets"', 'INVALID_INPUT'],
    ['an empty object', {}, 'INVALID_INPUT'],
    ['a server-signed role', { snapshot: targets }, 'INVALID_INPUT'],
    ['an unknown role', { targets, mirrors: {} }, 'INVALID_INPUT'],
    ['targets without signed', { targets: { signatures: [] } }, 'MALFORMED_METADATA'],
    ['targets of the wrong _type', { targets: { ...targets, signed: { ...targets.signed, _type: 'root' } } }, 'MALFORMED_METADATA'],
    ['targets with a float version', { targets: { ...targets, signed: { ...targets.signed, version: 2.5 } } }, 'MALFORMED_METADATA'],
    ['signatures that are not hex', { targets: { ...targets, signatures: [{ keyid: 'zz', sig: 'zz' }] } }, 'MALFORMED_METADATA'],
  ];
  for (const [what, body, code] of cases) {
    const result = await publishRaw(server.url, GUN, body);
    t.is(result.status, 400, `${what}: ${result.text}`);
    t.is(apiError(result).code, code as never, what);
  }
  await assertUnchanged(t, server.url, GUN, before);
});

interface RawResponse {
  status: number;
  body: string;
  connection?: string;
}

/**
 * POSTs with the given headers, writing `chunk` repeatedly (up to `maxBytes`) without ever ending
 * the request, and resolves with the response the server sends meanwhile. A server that waited
 * for the whole body would never answer: that fails after `timeoutMs`.
 */
function postWithoutEnding(path: string, headers: Record<string, string>, chunk: Buffer, maxBytes: number, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.url);
    const req = httpRequest(url, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...headers } });
    let sent = 0;
    let done = false;
    const finish = (outcome: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      outcome();
      req.destroy();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no response after ${timeoutMs} ms and ${sent} bytes sent`))), timeoutMs);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (data: string) => (body += data));
      res.on('end', () => finish(() => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection })));
      res.on('error', (err) => finish(() => reject(err)));
    });
    req.on('error', (err) => finish(() => reject(new Error(`request failed after ${sent} bytes: ${err.message}`))));
    const pump = () => {
      while (!done && sent < maxBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    req.flushHeaders();
    pump();
  });
}

test('a declared Content-Length over the limit is 413 before the body is read', async (t) => {
  const before = await servedState(server.url, GUN);
  const response = await postWithoutEnding(
    `${tufBasePath(GUN)}/`,
    { 'content-length': String(BODY_LIMIT + 1) },
    Buffer.from('{"targets":'),
    11,
  );
  t.is(response.status, 413, response.body);
  const error = (JSON.parse(response.body) as { error: { code: string; message: string } }).error;
  t.is(error.code, 'TOO_LARGE');
  t.regex(error.message, new RegExp(String(BODY_LIMIT)));
  t.is(response.connection, 'close');
  await assertUnchanged(t, server.url, GUN, before);
  t.is((await fetch(`${server.url}/healthz`)).status, 200);
});

test('a chunked body that grows past the limit is 413 without reading it whole', async (t) => {
  const before = await servedState(server.url, GUN);
  const response = await postWithoutEnding(
    `${tufBasePath(GUN)}/`,
    { 'transfer-encoding': 'chunked' },
    Buffer.alloc(16 * 1024, 0x20),
    BODY_LIMIT * 64,
  );
  t.is(response.status, 413, response.body);
  t.is((JSON.parse(response.body) as { error: { code: string } }).error.code, 'TOO_LARGE');
  t.is(response.connection, 'close');
  await assertUnchanged(t, server.url, GUN, before);
  t.is((await fetch(`${server.url}/healthz`)).status, 200);
});

test('a body just under the limit is read and judged on its content', async (t) => {
  const before = await servedState(server.url, GUN);
  const padding = ' '.repeat(BODY_LIMIT - 100);
  const result = await publishRaw(server.url, GUN, `${padding}{"snapshot": {}}`);
  assertApiError(t, result, 400, 'INVALID_INPUT');
  await assertUnchanged(t, server.url, GUN, before);
});
