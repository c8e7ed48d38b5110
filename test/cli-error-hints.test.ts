/**
 * Errors that point at the fix (issue 15): each failure a new user meets early is one line that says
 * what is wrong and what to do, with the exit code of its class, through the real CLI.
 */
import test from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, runCli, tempHome } from './helpers/client.js';
import { runServerCli } from './helpers/admin.js';
import { startProxy } from './helpers/proxy.js';

const GUN = 'registry.example.com/team/app';

/** A server that answers every request with `status`, `contentType`, `body` and `headers`: not tagtrust. */
async function foreignServer(t: import('ava').ExecutionContext, status: number, contentType: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': contentType, ...headers });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const ROOT_PATH = `/v2/${GUN}/_trust/tuf/root.json`;

for (const [what, contentType, body, answer] of [
  ['an HTML page', 'text/html', '<!doctype html><html><body>Welcome to nginx!</body></html>', 'an HTML page'],
  ['JSON of another service', 'application/json', '{"status":"ok","version":"2.1"}', 'JSON that is not TUF metadata'],
  ['plain text', 'text/plain', 'hello', 'text that is not JSON'],
] as const) {
  test(`a --server that answers ${what} is not a tagtrust server (exit 9), not forged metadata`, async (t) => {
    const url = await foreignServer(t, 200, contentType, body);
    for (const command of [['resolve', `${GUN}:v1`], ['list', GUN]]) {
      const result = await runCli([...command, '--server', url, '--home', await tempHome()]);
      t.is(result.code, 9, result.stderr);
      t.is(result.stderr, `tagtrust: the server at ${url} does not look like a tagtrust server: it answered ${answer} for ${ROOT_PATH}; check --server or TAGTRUST_SERVER\n`);
    }
  });
}

for (const [what, status, contentType, body, headers, answer] of [
  ['a 404 HTML page', 404, 'text/html', '<html><body><h1>404 Not Found</h1></body></html>', {}, 'an HTML page (HTTP 404 text/html)'],
  ['a 404 in plain text', 404, 'text/plain; charset=utf-8', '404 page not found', {}, 'text that is not JSON (HTTP 404 text/plain)'],
  ["a registry's JSON 404", 404, 'application/json', '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}', {}, 'JSON that is not a tagtrust error (HTTP 404 application/json)'],
  ['a redirect', 302, 'text/html', '<a href="https://login.example.com/">Found</a>', { location: 'https://login.example.com/' }, 'a redirect to https://login.example.com/ (HTTP 302 text/html)'],
] as const) {
  test(`a --server that answers ${what} is not a tagtrust server (exit 9), not a missing collection`, async (t) => {
    const url = await foreignServer(t, status, contentType, body, headers);
    for (const command of [['resolve', `${GUN}:v1`], ['list', GUN]]) {
      const result = await runCli([...command, '--server', url, '--home', await tempHome()]);
      t.is(result.code, 9, result.stderr);
      t.is(result.stderr, `tagtrust: the server at ${url} does not look like a tagtrust server: it answered ${answer} for ${ROOT_PATH}; check --server or TAGTRUST_SERVER\n`);
    }
    // Publishing commands go through the server API: the same line, after what failed.
    const init = await runCli(['init', GUN, '--server', url, '--home', await tempHome()]);
    t.is(init.code, 9, init.stderr);
    t.is(
      init.stderr,
      `tagtrust: fetching the snapshot key of ${GUN} failed: the server at ${url} does not look like a tagtrust server: it answered ${answer} for /v2/${GUN}/_trust/tuf/snapshot.key; check --server or TAGTRUST_SERVER\n`,
    );
  });
}

test('publishing and history commands name a --server that answers 200 with JSON of another service, not a bad key or an internal error', async (t) => {
  const url = await foreignServer(t, 200, 'application/json', '{"status":"ok","version":"2.1"}');
  for (const [command, what, path] of [
    [['init', GUN], `fetching the snapshot key of ${GUN}`, `/v2/${GUN}/_trust/tuf/snapshot.key`],
    [['history', GUN], `reading the history of ${GUN}`, `/v2/${GUN}/_trust/changefeed?after=0&limit=500`],
  ] as const) {
    const result = await runCli([...command, '--server', url, '--home', await tempHome()]);
    t.is(result.code, 9, result.stderr);
    t.is(
      result.stderr,
      `tagtrust: ${what} failed: the server at ${url} does not look like a tagtrust server: it answered JSON that is not a tagtrust answer (HTTP 200 application/json) for ${path}; check --server or TAGTRUST_SERVER\n`,
    );
  }
});

test('a wrong --server for a home that already trusts the collection is named too, not a missing timestamp', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  await publisherFor(server.url, await tempHome()).init(GUN);
  const home = await tempHome();
  t.is((await runCli(['list', GUN, '--server', server.url, '--home', home])).code, 0);
  const url = await foreignServer(t, 404, 'text/html', '<html>Not Found</html>');
  const result = await runCli(['list', GUN, '--server', url, '--home', home]);
  t.is(result.code, 9, result.stderr);
  t.is(
    result.stderr,
    `tagtrust: the server at ${url} does not look like a tagtrust server: it answered an HTML page (HTTP 404 text/html) for /v2/${GUN}/_trust/tuf/timestamp.json; check --server or TAGTRUST_SERVER\n`,
  );
});

test('a tagtrust server answering 404 for an unknown collection still says the collection does not exist (exit 5)', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  for (const command of [['resolve', `${GUN}:v1`], ['list', GUN]]) {
    const result = await runCli([...command, '--server', server.url, '--home', await tempHome()]);
    t.is(result.code, 5, result.stderr);
    t.is(result.stderr, `tagtrust: collection ${GUN} does not exist on ${server.url}: check the name, or create it with \`tagtrust init ${GUN}\`\n`);
  }
});

test('a 500 on first contact is a server error (exit 9), not a missing file or bad metadata', async (t) => {
  const url = await foreignServer(t, 500, 'text/plain', 'Internal Server Error');
  const result = await runCli(['resolve', `${GUN}:v1`, '--server', url, '--home', await tempHome()]);
  t.is(result.code, 9, result.stderr);
  t.is(
    result.stderr,
    `tagtrust: the server at ${url} failed (HTTP 500) reading the root of ${GUN}: a server error, not a problem with the metadata; retry later, and tell the operator if it persists\n`,
  );
});

test('a missing argument is a usage error (exit 2): sign without --digest, --manifest or --oci-layout', async (t) => {
  const result = await runCli(['sign', `${GUN}:v1`, '--server', 'http://127.0.0.1:9', '--home', await tempHome()]);
  t.is(result.code, 2);
  t.is(result.stderr, 'tagtrust: give exactly one of --digest, --manifest or --oci-layout\n');
  const noReference = await runCli(['sign', '--digest', digestOf('a'), '--server', 'http://127.0.0.1:9', '--home', await tempHome()]);
  t.is(noReference.code, 2);
  t.regex(noReference.stderr, /^tagtrust: wrong number of arguments; usage: tagtrust sign <gun>:<tag>/);
});

test('trust in a collection that was deleted and re-created with new keys suggests `trust forget` (exit 25), then works', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const first = publisherFor(server.url, await tempHome());
  const firstInit = await first.init(GUN);
  await first.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 1 });
  const pullerHome = await tempHome();
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: pullerHome };
  t.is((await runCli(['resolve', `${GUN}:v1`], env)).code, 0);

  const deleted = await runServerCli(['collections', 'delete', GUN], { TAGTRUST_SERVER: server.url, TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN });
  t.is(deleted.code, 0, deleted.stderr);
  const second = publisherFor(server.url, await tempHome());
  const init = await second.init(GUN);
  await second.sign(`${GUN}:v1`, { digest: digestOf('b'), size: 1 });

  const stale = await runCli(['resolve', `${GUN}:v1`], env);
  t.is(stale.code, 25, stale.stderr);
  t.is(
    stale.stderr,
    `tagtrust: the server's root of ${GUN} (v1, root keys ${init.rootKeyId.slice(0, 8)}) is not the root this home trusts (v1, root keys ${firstInit.rootKeyId.slice(0, 8)}): ` +
      `the collection was deleted and re-created, or the server impersonates it; refusing it. If its owner confirms a re-creation, run \`tagtrust trust forget ${GUN}\` (and pin the new root)\n`,
  );
  t.is((await runCli(['trust', 'forget', GUN], env)).code, 0);
  const fresh = await runCli(['resolve', `${GUN}:v1`], env);
  t.is(fresh.code, 0, fresh.stderr);
  t.is(fresh.stdout, `${GUN}@${digestOf('b')}\n`);
});

test('a 5xx for a later file, from a load balancer in front of a real server, is a server error (exit 9), not a missing file', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 1 });
  const proxy = await startProxy(server.url);
  t.teardown(() => proxy.close());
  proxy.failures.set('.snapshot.json', 502);
  const result = await runCli(['resolve', `${GUN}:v1`, '--server', proxy.url, '--home', await tempHome()]);
  t.is(result.code, 9, result.stderr);
  t.regex(
    result.stderr,
    new RegExp(`\\ntagtrust: downloading snapshot of ${GUN.replaceAll('.', '\\.')} failed: the server answered HTTP 502 \\(a server error, not a problem with the metadata\\); retry later, and tell the operator if it persists\\n$`),
  );
  t.notRegex(result.stderr, /lacks a file|do not pull|forg/);
});
