/**
 * What the server log says about a request that failed with an unexpected error: nothing more for a
 * request the client abandoned (closed connection, request timeout), the stack for a real bug.
 */
import type { Context } from 'koa';
import type { Logger } from '../logging/logger.js';

/** Errors a request body stream raises when the client went away or the server timed it out. */
const ABORTED = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_HTTP_REQUEST_TIMEOUT']);

export function isAbortedRequest(err: unknown, ctx?: Pick<Context, 'req'>): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  // HPE_*: Node's HTTP parser, e.g. the connection ended in the middle of the body.
  return (code !== undefined && (ABORTED.has(code) || code.startsWith('HPE_'))) || (err as Error | undefined)?.message === 'aborted' || ctx?.req.destroyed === true;
}

/**
 * The handler for Koa's app 'error': an internal error is logged with its stack (in the entry, one
 * line). A request the client abandoned is not logged here: its request entry says so, once
 * (logging/request-log.ts).
 */
export function requestErrorLogger(logger: Logger): (err: Error, ctx?: Context) => void {
  return (err, ctx) => {
    if (isAbortedRequest(err, ctx)) return;
    logger.error({ err }, `internal error in ${ctx ? `${ctx.method} ${ctx.path}` : 'a request'}: ${err.message}`);
  };
}
