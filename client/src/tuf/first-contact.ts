/**
 * The first answer of a server, before any trust exists: a wrong --server URL (a web site, a registry,
 * a proxy's error page) answers HTML or JSON that is no TUF metadata. Saying so, with what to check,
 * beats calling it a forged root; either way nothing is trusted.
 */
import { ServerError } from '@tagtrust/shared';
import { describeBody, notTagtrustServer } from '../http/foreign-server.js';

function isMetadataDocument(value: unknown): boolean {
  const doc = value as { signed?: unknown; signatures?: unknown } | null;
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc) && typeof doc.signed === 'object' && doc.signed !== null && Array.isArray(doc.signatures);
}

/**
 * Refuses a first-contact root download (`path` under `server`) that is not TUF metadata at all.
 * @throws ServerError naming the server and --server (--mirror for a mirror)
 */
export function checkLooksLikeTagtrust(text: string, server: string, path: string, mirror = false): void {
  const answer = describeBody(text, isMetadataDocument, 'JSON that is not TUF metadata');
  if (answer !== undefined) throw notTagtrustServer(server, path, answer, { mirror });
}

/** A 5xx on the first download: the server failed, the metadata is not to blame. */
export function serverFailed(status: number, server: string, gun: string, cause: unknown): ServerError {
  return new ServerError(`the server at ${server} failed (HTTP ${status}) reading the root of ${gun}: a server error, not a problem with the metadata; retry later, and tell the operator if it persists`, {
    cause,
  });
}
