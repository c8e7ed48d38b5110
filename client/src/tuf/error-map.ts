/**
 * Maps failures inside tuf-js to tagtrust's typed errors. tuf-js exports no error classes and
 * wraps snapshot/targets failures in RuntimeErrors carrying the cause only as text, so the mapping
 * reads class names and messages along the cause chain. test/tuf-error-map.test.ts pins each rule
 * to a real failure, so a tuf-js upgrade that changes a message fails a test rather than a user.
 */
import {
  ExpiredMetadataError,
  MalformedMetadataError,
  MismatchError,
  NotFoundError,
  RollbackError,
  ServerError,
  SignatureError,
  TagTrustError,
  TooLargeError,
  UntrustedRootError,
} from '@tagtrust/shared';
import type { Deadline } from '../deadline.js';
import type { DeadlineFetcher } from './fetcher.js';

interface Rule {
  test: RegExp;
  make: (detail: string, gun: string) => TagTrustError;
}

const RULES: Rule[] = [
  {
    test: /HTTP \d{3} for /,
    make: (d, gun) => new ServerError(`downloading metadata of ${gun} failed (${d}): the server is missing a file it lists; ask the operator`),
  },
  {
    test: /Max length reached|DownloadLengthMismatchError/,
    make: (d, gun) => new TooLargeError(`metadata of ${gun} is larger than allowed (${d}); the server may be malicious or misconfigured`),
  },
  {
    test: /is expired/,
    make: (d, gun) => new ExpiredMetadataError(`metadata of ${gun} has expired (${d}): the server is stale or replaying old metadata (freeze attack); try again later or ask the operator`),
  },
  {
    test: /is less than current version/,
    make: (d, gun) => new RollbackError(`metadata of ${gun} is older than the version this client already trusts (${d}): refusing a rollback; the server or network replays old metadata`),
  },
  {
    test: /does not match snapshot version|Snapshot version doesn't match timestamp|LengthOrHashMismatchError|hash|length/i,
    make: (d, gun) => new MismatchError(`metadata of ${gun} does not match what its parent role lists (${d}): mix-and-match or corrupted download`),
  },
  {
    test: /Expected version \d+, got/,
    make: (d, gun) => new UntrustedRootError(`the root chain of ${gun} is broken (${d}): a root version is missing or out of order`),
  },
  {
    test: /signed by \d+\/\d+ keys|UnsignedMetadataError/,
    make: (d, gun) => new SignatureError(`metadata of ${gun} is not signed by enough trusted keys (${d}): refusing it`),
  },
  {
    test: /Expected '\w+', got|Unexpected token|JSON|TypeError|ValueError|is not|must be|Missing|invalid|Invalid/,
    make: (d, gun) => new MalformedMetadataError(`metadata of ${gun} is malformed (${d}): refusing it`),
  },
];

function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth += 1) {
    const e = current as Error;
    parts.push(`${e.constructor?.name ?? 'Error'}: ${e.message ?? String(e)}`);
    current = e.cause;
  }
  return parts.join(' <- ');
}

export function mapTufError(err: unknown, gun: string, deadline: Deadline, fetcher: DeadlineFetcher): TagTrustError {
  if (deadline.expired) return deadline.error();
  if (err instanceof TagTrustError) return err;
  if (fetcher.lastError) return fetcher.lastError;
  const statusCode = (err as { statusCode?: number }).statusCode;
  if (statusCode === 404) {
    return new NotFoundError(`collection ${gun} has no metadata on the server: check the name, or initialise it with \`tagtrust init ${gun}\``);
  }
  const text = describe(err);
  const detail = text.replace(/^(RuntimeError|Error): /, '').slice(0, 300);
  for (const rule of RULES) if (rule.test.test(text)) return rule.make(detail, gun);
  return new MalformedMetadataError(`verifying metadata of ${gun} failed: ${detail}`, { cause: err });
}
