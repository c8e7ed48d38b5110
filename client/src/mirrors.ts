/**
 * Mirrors: static copies of the server's metadata (`tagtrust-server export`), tried in order after
 * the server when an update from it fails. TUF metadata verifies itself, so a mirror needs no
 * trust: every rule (signatures, versions, expiry, `--max-age`, rollback against this client's
 * trusted state, which is kept per collection whatever the source) applies to it unchanged, and a
 * stale or tampered mirror is refused like a bad server.
 *
 * Rules:
 * - Sources are the server (when one is set), then each mirror, in the order given; with no server
 *   set, the mirrors alone.
 * - The next source is tried only when an update failed for a reason a different source may not
 *   have: network, server, not found, access, refused metadata (expired, rollback, signature, ...).
 *   Answers (a tag is not signed, a digest mismatch), usage errors and the overall deadline stop.
 * - Tokens go to the server only, never to a mirror.
 */
import { InvalidInputError, InvalidReferenceError, MismatchError, NotSignedError, TagTrustError, TimeoutError, UsageError } from '@tagtrust/shared';

/** The mirror list from an option or TAGTRUST_MIRRORS (comma-separated), validated. */
export function parseMirrors(given: readonly string[] | undefined, env: string | undefined): string[] {
  const list = given ?? (env ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return list.map((mirror) => {
    let url: URL;
    try {
      url = new URL(mirror);
    } catch {
      throw new UsageError(`mirror "${mirror}" is not a URL: use e.g. https://mirror.example.com/tagtrust`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`mirror "${mirror}" must start with http:// or https://`);
    if (url.username || url.password || url.search || url.hash) throw new UsageError(`mirror "${mirror}" must be a plain base URL (no credentials, query or fragment)`);
    return url.toString().replace(/\/+$/, '');
  });
}

/** Whether an update that failed with `err` may succeed from the next source. */
export function worthTryingNext(err: unknown): boolean {
  if (!(err instanceof TagTrustError)) return false;
  return !(
    err instanceof UsageError ||
    err instanceof InvalidInputError ||
    err instanceof InvalidReferenceError ||
    err instanceof NotSignedError ||
    err instanceof MismatchError ||
    err instanceof TimeoutError
  );
}
