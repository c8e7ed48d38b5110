/**
 * Request IDs. Every request gets one: the caller's `X-Request-Id` when it is sane (1 to 64 of
 * `A-Z a-z 0-9 . _ -`, and not a tagtrust token `tt_…`), else a new random one (a UUID). It is returned in the `X-Request-Id` header and in
 * JSON error bodies, and every log entry made while the request is handled carries it: the request
 * runs inside an AsyncLocalStorage context, so a line logged deep in the repository (a renewal that
 * failed, a storage fault) names the request too.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

const context = new AsyncLocalStorage<string>();
const ids = new WeakMap<IncomingMessage, string>();

/** The request's ID, chosen on first call (the caller's when sane, else a new one). */
export function requestIdOf(req: IncomingMessage): string {
  let id = ids.get(req);
  if (id === undefined) {
    const offered = req.headers[REQUEST_ID_HEADER];
    // A tagtrust token (tt_…) sent there by mistake is not echoed into the log.
    id = typeof offered === 'string' && SANE_REQUEST_ID.test(offered) && !offered.startsWith('tt_') ? offered : randomUUID();
    ids.set(req, id);
  }
  return id;
}

/** Runs `handle` with `requestId` as the ID of everything it logs, including asynchronously. */
export function runWithRequestId<T>(requestId: string, handle: () => T): T {
  return context.run(requestId, handle);
}

/** The ID of the request being handled, if any. */
export function currentRequestId(): string | undefined {
  return context.getStore();
}
