/**
 * Telling a tagtrust server from something else at the `--server` URL: a web site, a registry, a
 * proxy's error page, a redirect. Every error a tagtrust server sends is JSON `{error: {code,
 * message}}` (server/src/http/errors.ts), so an error status without that body is not its answer.
 * Saying "does not look like a tagtrust server; check --server" beats calling it a missing
 * collection, or forged metadata.
 *
 * Rules:
 * - 401/403 and 5xx stay what they are (a token is missing; the server failed), whatever the body:
 *   an authenticating proxy or a load balancer in front of a real server answers those.
 * - Any other non-2xx answer without a tagtrust error body, redirects included, is a foreign server.
 * - At most ERROR_BODY_BYTES of an error body are read.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { ServerError } from '@tagtrust/shared';
import type { HttpResponse } from './transport.js';

/** Most bytes of an error answer read to tell what it is. */
const ERROR_BODY_BYTES = 4096;

/**
 * What kind of answer `text` is, in a few words ("an HTML page", "text that is not JSON", ...), when
 * it is not JSON that `json` accepts (then `jsonKind`); undefined when it is.
 */
export function describeBody(text: string, json: (value: unknown) => boolean, jsonKind: string): string | undefined {
  if (text.trimStart().startsWith('<')) return 'an HTML page';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text.trim() === '' ? 'an empty body' : 'text that is not JSON';
  }
  return json(value) ? undefined : jsonKind;
}

/** Whether `value` is the error body a tagtrust server sends. */
export function isTagtrustErrorBody(value: unknown): boolean {
  const error = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error === 'object' && error !== null && typeof error.code === 'string' && typeof error.message === 'string';
}

/**
 * The error for an answer a tagtrust server would not give.
 * @param server the base URL the client was given; `path` the request path under it
 */
export function notTagtrustServer(server: string, path: string, answer: string, http: { status?: number; contentType?: string; mirror?: boolean } = {}): ServerError {
  const { status, contentType, mirror } = http;
  const shown = status === undefined ? '' : ` (HTTP ${status}${contentType ? ` ${contentType.split(';')[0]!.trim()}` : ''})`;
  const check = mirror ? '--mirror or TAGTRUST_MIRRORS' : '--server or TAGTRUST_SERVER';
  return new ServerError(`the ${mirror ? 'mirror' : 'server'} at ${server} does not look like a tagtrust ${mirror ? 'mirror' : 'server'}: it answered ${answer}${shown} for ${path}; check ${check}`);
}

/**
 * What an error answer (not 2xx) with body `text` is, when no tagtrust server would give it
 * ("an HTML page", "a redirect to ..."); undefined when a tagtrust server would (see the rules).
 */
export function foreignKind(status: number, headers: IncomingHttpHeaders, text: string): string | undefined {
  if (status === 401 || status === 403 || status >= 500) return undefined;
  if (status >= 300 && status < 400 && headers.location) return `a redirect to ${headers.location.slice(0, 200)}`;
  return describeBody(text, isTagtrustErrorBody, 'JSON that is not a tagtrust error');
}

/**
 * Reads the start of the error answer `response` (not 2xx) from `path` under `server`, and returns
 * the error to report when no tagtrust server would give it; undefined otherwise. Consumes the body.
 */
export async function foreignAnswer(response: HttpResponse, server: string, path: string): Promise<ServerError | undefined> {
  if (foreignKind(response.status, response.headers, '') === undefined) {
    // 401/403/5xx: what they say does not depend on the body.
    response.body.resume();
    return undefined;
  }
  const kind = foreignKind(response.status, response.headers, (await readStart(response.body)).toString('utf8'));
  return kind === undefined ? undefined : notTagtrustServer(server, path, kind, { status: response.status, contentType: response.headers['content-type'] });
}

/** The first ERROR_BODY_BYTES of `body`; the rest is discarded. A broken connection ends it early. */
async function readStart(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= ERROR_BODY_BYTES) break;
    }
  } catch {
    // What arrived is enough to tell.
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES);
}
