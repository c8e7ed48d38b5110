/**
 * What the tag transparency log holds (docs/immutability.md): one leaf per tag change of a
 * collection, and the signed tree head that binds the log to the metadata pullers verify.
 *
 * - A leaf is the canonical JSON of {tag, digest (`sha256:<hex>`, null for a removal), role (the
 *   role whose new version made the change), version (that role's version), time (ISO, seconds)}.
 * - The tree head `{size, root_hash}` is an extra signed field of the timestamp
 *   (`x-tagtrust-log`), signed by the online timestamp key with the rest of the timestamp, so every
 *   update a puller runs also verifies the head it sees.
 */
import { canonicalBytes } from '../canonical.js';
import { MalformedMetadataError } from '../errors.js';
import type { TimestampSigned } from '../tuf-types.js';
import { leafHash } from './merkle.js';

export const LOG_HEAD_FIELD = 'x-tagtrust-log';
/** Most entries or proof hashes one log request returns. */
export const LOG_PAGE_LIMIT = 1000;

export interface LogLeaf {
  tag: string;
  digest: string | null;
  role: string;
  version: number;
  time: string;
}

export interface LogHead {
  size: number;
  /** Hex SHA-256 Merkle root. */
  root_hash: string;
}

/** A leaf as the log endpoints send it: its index and the exact leaf. */
export interface LogEntry extends LogLeaf {
  index: number;
}

/** Printable ASCII without `"` and `\`: strings that JSON.stringify and canonical JSON write alike. */
const PLAIN = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * The canonical JSON of a leaf. Every publish logs leaves, so the common case skips the generic
 * canonicaliser: when every string is plain (PLAIN) and the version a safe integer, JSON.stringify
 * of the keys in sorted order writes the same bytes (test/tag-log-merkle.test.ts compares both).
 */
export function leafBytes(leaf: LogLeaf): Uint8Array {
  const { tag, digest, role, version, time } = leaf;
  const plain = (s: string | null) => s === null || (typeof s === 'string' && PLAIN.test(s));
  if (plain(digest) && plain(role) && plain(tag) && plain(time) && Number.isSafeInteger(version)) {
    return Buffer.from(JSON.stringify({ digest, role, tag, time, version }), 'utf8');
  }
  return canonicalBytes({ tag, digest, role, version, time });
}

export function hashLeaf(leaf: LogLeaf): Buffer {
  return leafHash(leafBytes(leaf));
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The log head a timestamp carries; undefined for a server without a log. @throws MalformedMetadataError */
export function logHeadOf(timestamp: TimestampSigned): LogHead | undefined {
  const head = timestamp[LOG_HEAD_FIELD] as unknown;
  if (head === undefined) return undefined;
  const { size, root_hash } = (head ?? {}) as Partial<LogHead>;
  if (typeof head !== 'object' || !Number.isSafeInteger(size) || size! < 0 || typeof root_hash !== 'string' || !HEX64.test(root_hash)) {
    throw new MalformedMetadataError(`timestamp v${timestamp.version} ${LOG_HEAD_FIELD} must be {size: <integer>, root_hash: <64 hex>}`);
  }
  return { size: size!, root_hash };
}
