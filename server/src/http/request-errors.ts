/**
 * What the server log says about a request that failed with an unexpected error: one line for a
 * request the client abandoned (closed connection, request timeout), the stack for a real bug.
 */
import type { Context } from 'koa';

/** Errors a request body stream raises when the client went away or the server timed it out. */
const ABORTED = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_HTTP_REQUEST_TIMEOUT']);

export function isAbortedRequest(err: unknown, ctx?: Pick<Context, 'req'>): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  // HPE_*: Node's HTTP parser, e.g. the connection ended in the middle of the body.
  return (code !== undefined && (ABORTED.has(code) || code.startsWith('HPE_'))) || (err as Error | undefined)?.message === 'aborted' || ctx?.req.destroyed === true;
}

/**
 * The handler for Koa's app 'error': one line per request. A request the client abandoned can fail
 * twice (reading its body, then writing the answer to the closed socket): only the first is logged.
 */
export function requestErrorLogger(log: (line: string) => void): (err: Error, ctx?: Context) => void {
  const reported = new WeakSet<object>();
  return (err, ctx) => {
    if (ctx && isAbortedRequest(err, ctx)) {
      if (reported.has(ctx.req)) return;
      reported.add(ctx.req);
    }
    log(requestErrorLine(err, ctx));
  };
}

/** The log line for an error Koa reports through app 'error'. */
export function requestErrorLine(err: Error, ctx?: Pick<Context, 'req' | 'method' | 'path'>): string {
  const where = ctx ? `${ctx.method} ${ctx.path}` : 'a request';
  if (isAbortedRequest(err, ctx)) {
    return `tagtrust-server: ${where} aborted: the client closed the connection, sent an incomplete request or was too slow (${(err as { code?: string }).code ?? err.message})`;
  }
  return `tagtrust-server: internal error in ${where}: ${err.stack ?? err.message}`;
}
