/**
 * The one error middleware: tagtrust errors become `{error: {code, message, requestId}}` with the status from
 * the shared code table (a StorageUnavailableError, code SERVER, is a 503 that says why); a read while
 * the database is being reopened is a 503 too; anything else is a 500 with a generic body, logged
 * through app 'error' (one line when the client aborted the request: request-errors.ts).
 */
import type { Context, Next } from 'koa';
import { HTTP_STATUS_BY_CODE, TagTrustError, TooLargeError, VersionConflictError } from '@tagtrust/shared';
import type { ApiErrorBody } from '@tagtrust/shared';
import { isStorageClosed } from '../storage/storage-fault.js';
import { databaseUnavailable } from '../storage/unavailable.js';
import { requestIdOf } from '../logging/request-context.js';

export async function errorMiddleware(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    if (err instanceof TagTrustError && HTTP_STATUS_BY_CODE[err.code] !== undefined) {
      const body: ApiErrorBody = { error: { code: err.code, message: err.message, requestId: requestIdOf(ctx.req) } };
      if (err instanceof VersionConflictError) {
        body.error.role = err.role;
        body.error.currentVersion = err.currentVersion;
      }
      ctx.status = HTTP_STATUS_BY_CODE[err.code]!;
      ctx.body = body;
      // The rest of an oversized or refused body is never read: close the connection once the answer is sent.
      if (err instanceof TooLargeError || !ctx.req.complete) ctx.set('Connection', 'close');
      return;
    }
    if (isStorageClosed(err)) {
      ctx.status = 503;
      ctx.body = { error: { code: 'SERVER', message: 'the server is reopening its database after a write failure: retry in a few seconds', requestId: requestIdOf(ctx.req) } } satisfies ApiErrorBody;
      return;
    }
    const unavailable = databaseUnavailable(err);
    if (unavailable) {
      // Nothing was half-written: every write is one transaction. Clients retry.
      ctx.status = 503;
      ctx.set('Retry-After', '1');
      ctx.body = { error: { code: 'SERVER', message: `the database is unavailable (${unavailable}): retry in a moment`, requestId: requestIdOf(ctx.req) } } satisfies ApiErrorBody;
      ctx.app.emit('error', new Error(`the database is unavailable (${unavailable})`), ctx);
      return;
    }
    ctx.status = 500;
    ctx.body = { error: { code: 'SERVER', message: 'internal server error; the server log has details (look for its requestId)', requestId: requestIdOf(ctx.req) } } satisfies ApiErrorBody;
    ctx.app.emit('error', err, ctx);
  }
}

/** Routes that matched nothing answer a JSON 404 too. */
export function notFound(ctx: Context): void {
  ctx.status = 404;
  ctx.body = { error: { code: 'NOT_FOUND', message: `no such endpoint: ${ctx.method} ${ctx.path}`, requestId: requestIdOf(ctx.req) } } satisfies ApiErrorBody;
}
