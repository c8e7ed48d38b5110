/**
 * The webhook's HTTPS server: `POST /mutate` takes an AdmissionReview and answers one;
 * `GET /healthz` (alive) and `GET /readyz` (serving, not shutting down) are for the kubelet.
 *
 * Rules:
 * - Bodies over `bodyLimit` are refused (413) without being buffered whole; a body that is not a
 *   review answers 400 with a JSON error, or, when its uid can be read, a denial that echoes it.
 * - Any unexpected error answers 500 with a generic body and is logged: the API server then applies
 *   the webhook's failurePolicy (Fail: denied).
 * - Every decision is logged as one JSON line (no secrets: image names, rules, outcomes).
 */
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidInputError, UsageError } from '@tagtrust/shared';
import type { TagTrustError } from '@tagtrust/shared';
import type { Admitter } from './admit.js';
import type { AdmissionRequest } from './review.js';
import { deny, parseAdmissionReview, reviewResponse, uidOf } from './review.js';

/** An AdmissionReview holds the object and the old object (each up to ~3 MiB in etcd). */
export const DEFAULT_BODY_LIMIT = 7 * 1024 * 1024;

export interface AdmissionServerOptions {
  admitter: Admitter;
  /** PEM certificate chain and key. */
  tls: { cert: string | Buffer; key: string | Buffer };
  /**
   * Re-reads the certificate every `intervalMs` and serves a changed one to new connections (a
   * renewed Secret is updated in the mounted files); a pair that does not load is logged and ignored.
   */
  reloadTls?: { load: () => Promise<{ cert: Buffer; key: Buffer }>; intervalMs: number };
  /** `HOST:PORT` (default 0.0.0.0:8443). */
  listen?: string;
  bodyLimit?: number;
  /** One line per decision and per failure. */
  log: (entry: Record<string, unknown>) => void;
}

export interface RunningAdmissionServer {
  url: string;
  /** Marks the server not ready (readyz 503), then stops it after open requests end. */
  close(): Promise<void>;
}

export async function startAdmissionServer(options: AdmissionServerOptions): Promise<RunningAdmissionServer> {
  const { host, port } = parseListen(options.listen ?? '0.0.0.0:8443');
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  let ready = true;
  const server: Server = createHttpsServer({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.log({ level: 'error', message: `internal error: ${(err as Error).stack ?? String(err)}` });
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error; see the webhook log' } });
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' || ready;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'shutting down\n');
      return;
    }
    if (path !== '/mutate') return sendError(res, 404, 'NOT_FOUND', `no such endpoint ${JSON.stringify(path)}: the webhook serves POST /mutate, GET /healthz and GET /readyz`);
    if (req.method !== 'POST') return sendError(res, 405, 'USAGE', 'POST an AdmissionReview to /mutate');
    const body = await readBody(req, bodyLimit);
    if (body === undefined) {
      // Stop reading the rest: the connection closes once the answer is sent.
      res.setHeader('connection', 'close');
      res.on('finish', () => req.socket.destroy());
      return sendError(res, 413, 'TOO_LARGE', `the AdmissionReview is over the ${bodyLimit} byte limit: raise --body-limit if such objects are legitimate`);
    }
    let review: unknown;
    try {
      review = JSON.parse(body.toString('utf8'));
    } catch {
      return sendError(res, 400, 'INVALID_INPUT', 'not a valid AdmissionReview: the body is not JSON');
    }
    let request: AdmissionRequest;
    try {
      request = parseAdmissionReview(review);
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err;
      const uid = uidOf(review);
      options.log({ level: 'warn', message: err.message, ...(uid ? { uid } : {}) });
      if (uid === undefined) return sendError(res, 400, err.code, err.message);
      return sendJson(res, 200, reviewResponse(deny(uid, `tagtrust: ${err.message}`, 400)));
    }
    const started = performance.now();
    const decision = await options.admitter.review(request);
    options.log({
      level: 'info',
      uid: request.uid,
      operation: request.operation,
      kind: request.kind.kind,
      namespace: request.namespace ?? null,
      name: request.name ?? objectName(request.object) ?? null,
      ...(request.dryRun ? { dryRun: true } : {}),
      allowed: decision.response.allowed,
      ms: Math.round((performance.now() - started) * 10) / 10,
      images: decision.images,
    });
    sendJson(res, 200, reviewResponse(decision.response));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const reload = options.reloadTls;
  let current: { cert: Buffer; key: Buffer } = { cert: Buffer.from(options.tls.cert), key: Buffer.from(options.tls.key) };
  const timer = reload
    ? setInterval(() => {
        reload.load().then(
          (next) => {
            if (next.cert.equals(current.cert) && next.key.equals(current.key)) return;
            try {
              server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
              current = next;
              options.log({ level: 'info', message: 'reloaded the serving certificate' });
            } catch (err) {
              options.log({ level: 'error', message: `the serving certificate files changed but do not load (${(err as Error).message}); still serving the previous one` });
            }
          },
          (err: Error) => options.log({ level: 'error', message: `cannot re-read the serving certificate (${err.message}); still serving the previous one` }),
        );
      }, reload.intervalMs)
    : undefined;
  timer?.unref();
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `https://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        ready = false;
        clearInterval(timer);
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** The body, or undefined when it is larger than `limit` (reading stops there). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function objectName(object: Record<string, unknown> | undefined): string | undefined {
  const metadata = object?.metadata as Record<string, unknown> | undefined;
  const name = metadata?.name ?? metadata?.generateName;
  return typeof name === 'string' ? name : undefined;
}

function sendError(res: ServerResponse, status: number, code: TagTrustError['code'] | 'INTERNAL', message: string): void {
  sendJson(res, status, { error: { code, message } });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
  res.end(bytes);
}

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) throw new UsageError(`--listen "${listen}" must be HOST:PORT, e.g. 0.0.0.0:8443`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}
