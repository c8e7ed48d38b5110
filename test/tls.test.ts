/**
 * tagtrust-server over TLS: the library and the CLI publish and resolve over https when they trust
 * the server's certificate (`ca` option, `--ca FILE`, NODE_EXTRA_CA_CERTS), and refuse it otherwise.
 */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NetworkError } from '@tagtrust/client';
import { issueSelfSignedCertificate } from '@tagtrust/server';
import type { TlsMaterial } from '@tagtrust/server';
import { startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';

const GUN = 'registry.example.com/team/tls';

let material: Promise<TlsMaterial> | undefined;
const certificate = () => (material ??= issueSelfSignedCertificate({ hosts: ['127.0.0.1'] }));

test('the library publishes and resolves over https with the ca option', async (t) => {
  const tls = await certificate();
  const server = await startTestServer({ tls });
  t.teardown(() => server.close());
  t.regex(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const publisher = publisherFor(server.url, await tempHome(), { ca: tls.cert });
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  const resolution = await pullerFor(server.url, await tempHome(), { ca: tls.cert }).resolve(`${GUN}:v1`);
  t.is(resolution.digest, digestOf('a'));
});

test('a client that does not trust the certificate gets a NetworkError', async (t) => {
  const tls = await certificate();
  const server = await startTestServer({ tls });
  t.teardown(() => server.close());
  const err = await t.throwsAsync(pullerFor(server.url, await tempHome()).resolve(`${GUN}:v1`));
  t.true(err instanceof NetworkError, String(err));
  t.is((err as NetworkError).code, 'NETWORK');
  t.regex(err!.message, /certificate/i);
});

test('the CLI takes --ca FILE or NODE_EXTRA_CA_CERTS; without them, or over http://, one line says what to do', async (t) => {
  const tls = await certificate();
  const server = await startTestServer({ tls });
  t.teardown(() => server.close());
  const dir = await tempHome();
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, tls.cert);
  const env = { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() };
  const init = await runCli(['init', GUN, '--ca', caFile], env);
  t.is(init.code, 0, init.stderr);
  const sign = await runCli(['sign', `${GUN}:v1`, '--digest', digestOf('b'), '--size', '7', '--ca', caFile], env);
  t.is(sign.code, 0, sign.stderr);
  const resolve = await runCli(['resolve', `${GUN}:v1`], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome(), NODE_EXTRA_CA_CERTS: caFile });
  t.is(resolve.code, 0, resolve.stderr);
  t.is(resolve.stdout, `${GUN}@${digestOf('b')}\n`);
  const untrusted = await runCli(['resolve', `${GUN}:v1`], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: await tempHome() });
  t.is(untrusted.code, 9);
  t.regex(untrusted.stderr, /^tagtrust: cannot download .*: https:\/\/127\.0\.0\.1:\d+ presents a certificate this client does not trust \(\w+\): pass its CA with --ca FILE \(or NODE_EXTRA_CA_CERTS\)\n$/);
  const plain = await runCli(['resolve', `${GUN}:v1`], { TAGTRUST_SERVER: server.url.replace('https:', 'http:'), TAGTRUST_HOME: await tempHome() });
  t.is(plain.code, 9);
  t.regex(plain.stderr, /^tagtrust: cannot download .*: http:\/\/127\.0\.0\.1:\d+ closed the connection: if it serves HTTPS, use https:\/\/\n$/);
});

test('https:// against a plain-HTTP server says so in one line', async (t) => {
  const server = await startTestServer();
  t.teardown(() => server.close());
  const wrong = await runCli(['resolve', `${GUN}:v1`], { TAGTRUST_SERVER: server.url.replace('http:', 'https:'), TAGTRUST_HOME: await tempHome() });
  t.is(wrong.code, 9);
  t.regex(wrong.stderr, /^tagtrust: cannot download .*: https:\/\/127\.0\.0\.1:\d+ does not speak TLS: use http:\/\/ for a server without --tls-cert, or check the port\n$/);
});

test('tagtrust-server tls self-signed writes a certificate and a private key file', async (t) => {
  const { execFile } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const { readFile, stat } = await import('node:fs/promises');
  const bin = fileURLToPath(new URL('../server/dist/bin.js', import.meta.url));
  const out = join(await tempHome(), 'tls');
  const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(process.execPath, [bin, 'tls', 'self-signed', '--out', out, '--host', '127.0.0.1'], (error, stdout) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
    );
  });
  t.is(result.code, 0);
  t.regex(await readFile(join(out, 'cert.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/);
  t.regex(await readFile(join(out, 'key.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  t.is((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600);
});

test('a client idle past the server keep-alive timeout still works (idle sockets are not reused stale)', async (t) => {
  const tls = await certificate();
  const server = await startTestServer({ tls });
  t.teardown(() => server.close());
  const home = await tempHome();
  const publisher = publisherFor(server.url, home, { ca: tls.cert });
  await publisher.init(GUN);
  await publisher.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  // Node servers close idle connections after 5 s; wait across that edge.
  await new Promise((resolve) => setTimeout(resolve, 5_100));
  await publisher.sign(`${GUN}:v2`, { digest: digestOf('b'), size: 10 });
  t.is((await pullerFor(server.url, await tempHome(), { ca: tls.cert }).resolve(`${GUN}:v2`)).digest, digestOf('b'));
});
