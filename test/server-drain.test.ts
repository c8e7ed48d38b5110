/**
 * SIGTERM drains (issue 14), on the real server process: a publish whose body is still arriving when
 * the signal comes is finished, acknowledged and on disk after a restart; new connections are refused
 * at once and a request arriving on an open connection is answered 503 with `Connection: close`
 * (also /readyz); the process exits 0. A
 * request still in flight after --drain-timeout makes it exit 1 with a line naming that request.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tufBasePath } from '@tagtrust/shared';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { startServerProcess } from './helpers/server-process.js';
import type { ServerProcess } from './helpers/server-process.js';
import { ADMIN_TOKEN } from './helpers/server.js';

const GUN = 'registry.example.com/drain/app';

/**
 * A proxy that forwards everything, except that a publish body goes to the server in two halves with
 * `between()` awaited in the middle: the publish is in flight meanwhile.
 * @returns its URL and the status the server answered the publish with
 */
async function slowPublishProxy(upstream: string, between: () => Promise<void>) {
  let publishAnswered: (status: number) => void = () => {};
  const publishStatus = new Promise<number>((resolve) => (publishAnswered = resolve));
  const proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const isPublish = req.method === 'POST' && req.url === `${tufBasePath(GUN)}/`;
    const headers = { ...req.headers, 'content-length': String(body.length) };
    delete headers.host;
    const forwarded = request(`${upstream}${req.url}`, { method: req.method, headers, agent: false }, (answer) => {
      if (isPublish) publishAnswered(answer.statusCode ?? 0);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', (err) => res.writeHead(502).end(err.message));
    if (!isPublish) {
      forwarded.end(body);
      return;
    }
    forwarded.write(body.subarray(0, body.length >> 1));
    await between();
    forwarded.end(body.subarray(body.length >> 1));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, publishStatus, close: () => new Promise<void>((resolve) => proxy.close(() => resolve())) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a new TCP connection to `url` is refused. */
function connectionRefused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** Everything the server sends on `socket` until it closes it. */
function readUntilClosed(socket: Socket): Promise<string> {
  let text = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return new Promise((resolve) => socket.once('close', () => resolve(text)));
}

async function serverOn(t: { teardown(fn: () => Promise<void>): void }, args: string[]): Promise<{ dataDir: string; server: () => ServerProcess; start(): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tagtrust-drain-'));
  let current = await startServerProcess(dataDir, args);
  t.teardown(async () => {
    await current.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    dataDir,
    server: () => current,
    async start() {
      current = await startServerProcess(dataDir, args);
    },
  };
}

test('SIGTERM during a publish: it is acknowledged and stored, new connections are refused, exit 0', async (t) => {
  t.timeout(60_000);
  const run = await serverOn(t, ['--drain-timeout', '20s']);
  const first = run.server();
  const home = await tempHome();
  await publisherFor(first.url, home).init(GUN);

  let refusedWhileDraining = false;
  let openConnection = '';
  const proxy = await slowPublishProxy(first.url, async () => {
    // An open connection that has sent part of a request: it is not served once draining.
    const early = connect(Number(new URL(first.url).port), '127.0.0.1');
    await new Promise((resolve) => early.once('connect', resolve));
    early.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const earlyAnswer = readUntilClosed(early);
    await sleep(300); // the first half of the body is at the server: the publish is in flight
    first.child.kill('SIGTERM');
    await sleep(300);
    refusedWhileDraining = await connectionRefused(first.url);
    early.write('\r\n');
    openConnection = await earlyAnswer;
    await sleep(500); // still draining: the publish waits for the rest of its body
  });
  t.teardown(() => proxy.close());

  const signing = publisherFor(proxy.url, home).sign(`${GUN}:v2`, { digest: digestOf('b'), size: 2 });
  t.is(await proxy.publishStatus, 200, 'the publish in flight was answered 200');
  await signing.catch(() => undefined); // what the client does after its publish may meet a stopped server
  t.is(await first.exited, 0, first.stderr());
  t.true(refusedWhileDraining, 'a new connection is refused once draining');
  // Node counts a connection whose request head is arriving as busy: it stays open, and is answered 503.
  t.regex(openConnection, /^HTTP\/1\.1 503 [^]*connection: close[^]*"code":"SERVER","message":"the server is shutting down[^]*"requestId"/i);
  t.regex(first.stderr(), /SIGTERM: draining: refusing new connections, waiting for 1 request\(s\) in flight/);
  t.regex(first.stderr(), /"msg":"drained: every request answered, renewal stopped, store closed"/);

  await run.start();
  t.is((await pullerFor(run.server().url, await tempHome()).resolve(`${GUN}:v2`)).digest, digestOf('b'), 'the drained publish is on disk');
});

test('a request still in flight after --drain-timeout: exit 1, naming it', async (t) => {
  t.timeout(30_000);
  const run = await serverOn(t, ['--drain-timeout', '1s']);
  const server = run.server();
  const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  // A publish whose body never completes (the request timeout, 30 s, is longer than the drain timeout).
  socket.write(`POST ${tufBasePath(GUN)}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nX-Request-Id: stuck-publish\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"targets":`);
  await sleep(300);
  const signalled = Date.now();
  server.child.kill('SIGTERM');
  t.is(await server.exited, 1, server.stderr());
  t.true(Date.now() - signalled >= 900, 'it waited for the drain timeout');
  t.regex(server.stderr(), new RegExp(`drain timeout of 1 s passed with 1 request\\(s\\) still in flight: POST ${tufBasePath(GUN).replaceAll('.', '\\.')}/ \\(requestId stuck-publish, for `));
});
