/**
 * Pushes through the gate (opt-in, `tagtrust gate --allow-push`): the OCI push endpoints relayed to the
 * upstream, streaming. Pushing changes nothing the gate serves by tag: a pushed tag is served only once
 * its publishers sign it.
 *
 * Rules:
 * - Relayed: blob uploads (POST `blobs/uploads/`, monolithic with `?digest=`, cross-repository mounts
 *   with `?mount=&from=`; PATCH, PUT, GET and DELETE of an upload session) and manifest PUT. Deleting a
 *   manifest or a blob is never relayed (see the gate: DENIED).
 * - The pusher's Authorization goes to the upstream as it is; the upstream's answers (a 401 with its
 *   WWW-Authenticate challenge included) come back as they are, but for the Location header: one on the
 *   upstream's origin is rewritten to a path on the gate, so the upload continues through it.
 * - Bounded: a request body larger than the limit (manifests: 4 MiB; blob uploads: `maxUploadBytes`) is
 *   refused (when announced) or cut (when it runs past it); the pusher silent, or the upstream not
 *   reading, for `timeoutMs` ends the request; after the body, the upstream answers within `timeoutMs`,
 *   with at most 64 KiB.
 * - Every push request opens its own upstream connection: a streamed body cannot be sent again, so a
 *   kept-alive connection the upstream closed meanwhile must not be risked.
 */
import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_MANIFEST_BYTES } from '../registry/manifest-format.js';
import type { RegistryClient } from '../registry/registry-client.js';
import { GateRefusal } from './oci-errors.js';
import type { Relay } from './verified-manifests.js';

const FORWARDED_REQUEST_HEADERS = ['content-type', 'content-length', 'content-range'];
const RELAYED_RESPONSE_HEADERS = ['location', 'range', 'docker-upload-uuid', 'docker-content-digest', 'content-type', 'www-authenticate', 'oci-chunk-min-length'];
const MAX_ANSWER_BYTES = 64 * 1024;

export interface PushRelayOptions {
  upstream: RegistryClient;
  timeoutMs: number;
  /** Largest body of one blob upload request (a chunk, or a whole monolithic upload). */
  maxUploadBytes: number;
  log: (line: string) => void;
}

export interface PushRequest {
  name: string;
  /** The path below `/v2/<name>/`, e.g. `blobs/uploads/` or `manifests/v1`. */
  rest: string;
  /** The request's query string, `?...` or empty. */
  query: string;
}

/** @throws GateRefusal before anything was sent to the pusher */
export async function relayPush(options: PushRelayOptions, push: PushRequest, req: IncomingMessage, res: ServerResponse, relay: Relay): Promise<void> {
  const manifest = push.rest.startsWith('manifests/');
  const limit = manifest ? MAX_MANIFEST_BYTES : options.maxUploadBytes;
  const what = `${req.method} /v2/${push.name}/${push.rest}`;
  const announced = Number(req.headers['content-length'] ?? 0);
  if (announced > limit) throw tooLarge(what, limit, manifest);

  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expire = (reason: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new GateRefusal('UNAVAILABLE', `${what}: ${reason} for ${options.timeoutMs} ms; try again`)), options.timeoutMs);
  };
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  if (relay?.authorization) headers.authorization = relay.authorization;
  const target = new URL(`/v2/${push.name}/${push.rest}${push.query}`, options.upstream.url);
  const outgoing = send(target, { method: req.method!, headers, signal: controller.signal, ca: options.upstream.ca });
  let hasAnswer = false;
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    outgoing.once('response', (answer: IncomingMessage) => {
      hasAnswer = true;
      resolve(answer);
    });
    outgoing.once('error', reject);
  });
  let received = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, next) {
      received += chunk.length;
      if (received > limit) return next(tooLarge(what, limit, manifest));
      expire('the pusher sent nothing, or the upstream took nothing,');
      next(null, chunk);
    },
  });
  expire('the pusher sent nothing, or the upstream took nothing,');
  // Not pipeline(req, ...): it would destroy the pusher's connection when the upstream answers early
  // (e.g. 401) and closes, before that answer is relayed.
  req.once('close', () => {
    if (!req.complete) counter.destroy(new GateRefusal('UNAVAILABLE', `${what}: the pusher went away before sending the whole body`));
  });
  req.pipe(counter);
  void pipeline(counter, outgoing).then(
    () => expire('the upstream did not answer'),
    (err: unknown) => {
      if (!hasAnswer) controller.abort(err instanceof GateRefusal ? err : new GateRefusal('UNAVAILABLE', `${what}: the upstream closed the connection while taking the body`));
    },
  );
  try {
    const answer = await answered;
    expire('the upstream did not finish its answer');
    const body = await readAnswer(answer, what);
    sendAnswer(res, answer, body, options.upstream.url);
    if (manifest || push.query.includes('mount=')) options.log(`push: ${what}${push.query ? '?…' : ''} relayed to the upstream: HTTP ${answer.statusCode}`);
  } catch (err) {
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : err;
    if (reason instanceof GateRefusal) throw reason;
    const code = (reason as NodeJS.ErrnoException).code ?? (reason as Error).message;
    if (code === 'EPIPE' || code === 'ECONNRESET') {
      // node drops an answer the upstream sent before closing on a body it would not take (e.g. a 401).
      throw new GateRefusal('UNAVAILABLE', `${what}: the upstream closed the connection before taking the whole body (${code}); it may have refused the request (e.g. expired credentials): retry`);
    }
    throw new GateRefusal('UNAVAILABLE', `${what}: cannot reach the upstream ${options.upstream.url} (${code})`);
  } finally {
    clearTimeout(timer);
  }
}

function tooLarge(what: string, limit: number, manifest: boolean): GateRefusal {
  return new GateRefusal('SIZE_INVALID', `${what}: the body is larger than the ${limit} bytes the gate relays${manifest ? ' for a manifest' : ' in one upload request (--push-max-mb); upload in chunks'}`);
}

function send(target: URL, options: { method: string; headers: Record<string, string>; signal: AbortSignal; ca: string | Buffer | undefined }): ClientRequest {
  const common = { method: options.method, headers: options.headers, signal: options.signal, agent: false as const };
  return target.protocol === 'https:' ? httpsRequest(target, { ...common, ...(options.ca === undefined ? {} : { ca: options.ca }) }) : httpRequest(target, common);
}

async function readAnswer(answer: IncomingMessage, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of answer as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES) {
      answer.destroy();
      throw new GateRefusal('UNAVAILABLE', `${what}: the upstream answered with more than ${MAX_ANSWER_BYTES} bytes; refusing to relay it`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function sendAnswer(res: ServerResponse, answer: IncomingMessage, body: Buffer, upstreamOrigin: string): void {
  const headers: Record<string, string> = {};
  for (const name of RELAYED_RESPONSE_HEADERS) {
    const value = first(answer.headers, name);
    if (value !== undefined) headers[name] = name === 'location' ? onGate(value, upstreamOrigin) : value;
  }
  headers['content-length'] = String(body.length);
  res.writeHead(answer.statusCode ?? 502, headers);
  res.end(body);
}

/** An upstream URL as a path on the gate (the same path: the gate serves the upstream's names). */
function onGate(location: string, upstreamOrigin: string): string {
  let url: URL;
  try {
    url = new URL(location, `${upstreamOrigin}/`);
  } catch {
    return location;
  }
  return url.origin === upstreamOrigin ? `${url.pathname}${url.search}` : location;
}

function first(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
