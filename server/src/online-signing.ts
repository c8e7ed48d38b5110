/**
 * Builds and signs the metadata the server signs with its online keys: snapshot (listing the exact
 * length and sha256 of every targets file) and timestamp (listing the exact snapshot file).
 * Listing lengths and hashes, not only versions, makes clients refuse any file whose bytes differ
 * from what was published (mix-and-match). Hashed bins (succinct_roles) are the exception: their
 * entries carry only the version, so a snapshot of 1,000 bins stays a few KB gzipped for every
 * warm client (the trade-off is in docs/security-model.md, "Hashed bins").
 * Each is signed by every key in `keys`: one normally, the old and the new key in the one publish
 * that switches a role to a rotated key (so clients mid-update under either root accept it).
 */
import type { KeyPair } from '@tagtrust/keys';
import { signMetadata } from '@tagtrust/keys';
import type { LogHead, MetaFileInfo, SnapshotSigned } from '@tagtrust/shared';
import { LOG_HEAD_FIELD, buildSnapshot, buildTimestamp, describeFile, expiresAfter, isBinRoleName } from '@tagtrust/shared';
import type { StoredFile } from './storage/store.js';

export interface OnlineLifetimes {
  snapshot: number;
  timestamp: number;
}

/** The stored text of a metadata object, as served. */
export function serialise(metadata: unknown): string {
  return JSON.stringify(metadata);
}

/**
 * A new snapshot: the previous one's entries, with `changed` roles replaced by their new files.
 * @param changed role -> the role's newly stored file
 */
export function signSnapshot(
  previous: SnapshotSigned | undefined,
  changed: StoredFile[],
  keys: KeyPair[],
  now: Date,
  lifetimeMs: number,
): StoredFile {
  const meta: Record<string, MetaFileInfo> = { ...previous?.meta };
  for (const file of changed) {
    meta[`${file.role}.json`] = isBinRoleName(file.role) ? { version: file.version } : describeFile(Buffer.from(file.text), file.version);
  }
  const version = (previous?.version ?? 0) + 1;
  const snapshot = signMetadata(buildSnapshot(version, expiresAfter(now, lifetimeMs), meta), keys);
  return { role: 'snapshot', version, text: serialise(snapshot) };
}

/** A new timestamp listing the given snapshot file and, when given, the tag log's head (tag-log/tag-log.ts). */
export function signTimestamp(previousVersion: number, snapshot: StoredFile, keys: KeyPair[], now: Date, lifetimeMs: number, logHead?: LogHead): StoredFile {
  const version = previousVersion + 1;
  // The signing time lets pullers refuse timestamps older than their maxAge (freeze attacks).
  const signed = buildTimestamp(version, expiresAfter(now, lifetimeMs), describeFile(Buffer.from(snapshot.text), snapshot.version), now);
  if (logHead) signed[LOG_HEAD_FIELD] = { size: logHead.size, root_hash: logHead.root_hash };
  return { role: 'timestamp', version, text: serialise(signMetadata(signed, keys)) };
}
