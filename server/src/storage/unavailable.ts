/**
 * Tells a database that cannot be reached (down, restarting, connection dropped) from other
 * failures, so requests fail with a 503 that says to retry instead of a generic 500.
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATE: class 08 (connection exception), 57P01-57P03 (shutting down, crashed, starting up). */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123])$/;
const DROPPED_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|not queryable|Cannot use a pool after calling end/;

/** A one-line reason when `err` (or an error it wraps) says the database is unavailable; else undefined. */
export function databaseUnavailable(err: unknown): string | undefined {
  for (let cause = err, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return code;
    if (DROPPED_MESSAGE.test(cause.message)) return 'connection dropped';
  }
  return undefined;
}
