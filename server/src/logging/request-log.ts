/**
 * One log entry per request, replacing the old hand-written access log:
 * `{"level":"info","time":…,"requestId":…,"method":"POST","path":"/v2/…/_trust/tuf/","status":200,"durationMs":12.3,"bytes":345,"msg":"POST /v2/…/_trust/tuf/ 200 12.3ms"}`.
 *
 * Levels: a 5xx answer is `error`; a request the client abandoned or that timed out is `warn`
 * (once, with the reason); writes (anything but GET and HEAD) and refused tokens (401, 403) are
 * `info`; every other read is `debug`, or `info` with `accessLog` (so the default log holds every
 * publish and every failure, and not one line per pull). The path never holds the query string
 * (`?token=` would be a secret), and no header is logged.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Level } from 'pino';
import type { Logger } from './logger.js';
import { REQUEST_ID_HEADER, requestIdOf, runWithRequestId } from './request-context.js';

export interface RequestLogOptions {
  logger: Logger;
  /** Log every request at info, reads included. */
  accessLog: boolean;
}

/** The longest path logged; longer ones are cut (Node allows 16 KiB of headers). */
const MAX_PATH = 512;

export const ABORTED_MESSAGE = 'the client closed the connection, sent an incomplete request or was too slow';

export function logRequests(listener: RequestListener, options: RequestLogOptions): RequestListener {
  const { logger, accessLog } = options;
  return (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const start = process.hrtime.bigint();
    let failure: string | undefined;
    req.on('error', (err: NodeJS.ErrnoException) => (failure ??= err.code ?? err.message));
    let finished = false;
    res.once('finish', () => {
      finished = true;
      const level = levelOf(req.method, res.statusCode, accessLog);
      if (!logger.isLevelEnabled(level)) return;
      const fields = requestFields(req, res, start, requestId);
      logger[level]({ ...fields, status: res.statusCode }, `${fields.method} ${fields.path} ${res.statusCode} ${fields.durationMs}ms`);
    });
    res.once('close', () => {
      // Not `writableFinished`: an answer ended into a socket the client already closed never finishes.
      if (finished) return;
      // The body stream reports why (timeout, reset) right after the response closes.
      setImmediate(() => {
        const fields = requestFields(req, res, start, requestId);
        logger.warn({ ...fields, aborted: true, reason: failure ?? 'closed' }, `${fields.method} ${fields.path} aborted: ${ABORTED_MESSAGE} (${failure ?? 'closed'})`);
      });
    });
    runWithRequestId(requestId, () => listener(req, res));
  };
}

function levelOf(method: string | undefined, status: number, accessLog: boolean): Level {
  if (status >= 500) return 'error';
  if (accessLog || (method !== 'GET' && method !== 'HEAD') || status === 401 || status === 403) return 'info';
  return 'debug';
}

function requestFields(req: IncomingMessage, res: ServerResponse, start: bigint, requestId: string) {
  const bytes = res.getHeader('content-length');
  return {
    requestId,
    method: req.method ?? '',
    path: pathOf(req.url),
    durationMs: Math.round(Number(process.hrtime.bigint() - start) / 1e3) / 1e3,
    ...(bytes === undefined ? {} : { bytes: Number(bytes) }),
  };
}

/** The path of a request URL: query strings may carry secrets (`?token=`) and are never logged. */
export function pathOf(url: string | undefined): string {
  const path = url ?? '';
  const query = path.indexOf('?');
  const bare = query < 0 ? path : path.slice(0, query);
  return bare.length > MAX_PATH ? `${bare.slice(0, MAX_PATH)}…` : bare;
}
