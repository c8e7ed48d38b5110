/**
 * The first answer of a server, before any trust exists: a wrong --server URL (a web site, a registry,
 * a proxy's error page) answers HTML or JSON that is no TUF metadata. Saying so, with what to check,
 * beats calling it a forged root; either way nothing is trusted.
 */
import { ServerError } from '@tagtrust/shared';

/** What kind of answer `text` is, when it is not a TUF metadata document; undefined when it is one. */
function notMetadata(text: string): string | undefined {
  const start = text.trimStart().slice(0, 200).toLowerCase();
  if (start.startsWith('<')) return 'an HTML page';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'an answer that is not JSON';
  }
  const doc = json as { signed?: unknown; signatures?: unknown } | null;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || typeof doc.signed !== 'object' || doc.signed === null || !Array.isArray(doc.signatures)) {
    return 'JSON that is not TUF metadata';
  }
  return undefined;
}

/**
 * Refuses a first-contact root download that is not TUF metadata at all.
 * @throws ServerError naming the server and --server
 */
export function checkLooksLikeTagtrust(text: string, server: string, gun: string): void {
  const answer = notMetadata(text);
  if (answer === undefined) return;
  throw new ServerError(`the server at ${server} does not look like a tagtrust server: it answered ${answer} for the root of ${gun}; check --server`);
}

/** A 5xx on the first download: the server failed, the metadata is not to blame. */
export function serverFailed(status: number, server: string, gun: string, cause: unknown): ServerError {
  return new ServerError(`the server at ${server} failed (HTTP ${status}) reading the root of ${gun}: a server error, not a problem with the metadata; retry later, and tell the operator if it persists`, {
    cause,
  });
}
