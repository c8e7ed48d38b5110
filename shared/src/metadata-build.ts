/**
 * Builders for new metadata and helpers shared by server and client: expiry formatting, file
 * descriptions (length + sha256) for snapshot/timestamp meta, and lifetimes.
 */
import { createHash } from 'node:crypto';
import type {
  MetaFileInfo,
  RootSigned,
  SnapshotSigned,
  TargetsSigned,
  TimestampSigned,
  TopLevelRoleName,
  TufKey,
} from './tuf-types.js';
import { SPEC_VERSION, TIMESTAMP_SIGNED_AT } from './tuf-types.js';

/** Default lifetimes, in milliseconds. */
export const DEFAULT_LIFETIMES: Readonly<Record<TopLevelRoleName, number>> = {
  root: 365 * 24 * 3600_000,
  targets: 90 * 24 * 3600_000,
  snapshot: 7 * 24 * 3600_000,
  timestamp: 6 * 3600_000,
};

/** `now + lifetimeMs` as a TUF expiry string (whole seconds, UTC). */
export function expiresAfter(now: Date, lifetimeMs: number): string {
  return new Date(Math.floor((now.getTime() + lifetimeMs) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Length and sha256 of exact file bytes, as snapshot/timestamp `meta` entries list them. */
export function describeFile(bytes: Uint8Array, version: number): MetaFileInfo {
  return { version, length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } };
}

export interface NewRootOptions {
  version: number;
  expires: string;
  keys: Record<TopLevelRoleName, { keys: Record<string, TufKey>; threshold: number }>;
}

export function buildRoot(options: NewRootOptions): RootSigned {
  const keys: Record<string, TufKey> = {};
  const roles = {} as RootSigned['roles'];
  for (const [role, spec] of Object.entries(options.keys) as [TopLevelRoleName, NewRootOptions['keys']['root']][]) {
    Object.assign(keys, spec.keys);
    roles[role] = { keyids: Object.keys(spec.keys), threshold: spec.threshold };
  }
  return {
    _type: 'root',
    spec_version: SPEC_VERSION,
    version: options.version,
    expires: options.expires,
    consistent_snapshot: true,
    keys,
    roles,
  };
}

export function buildTargets(version: number, expires: string, targets: TargetsSigned['targets'] = {}): TargetsSigned {
  return { _type: 'targets', spec_version: SPEC_VERSION, version, expires, targets };
}

export function buildSnapshot(version: number, expires: string, meta: Record<string, MetaFileInfo>): SnapshotSigned {
  return { _type: 'snapshot', spec_version: SPEC_VERSION, version, expires, meta };
}

/** A timestamp; `signedAt` (the signing time) lets pullers enforce a max age (TIMESTAMP_SIGNED_AT). */
export function buildTimestamp(version: number, expires: string, snapshot: MetaFileInfo, signedAt?: Date): TimestampSigned {
  const signed: TimestampSigned = { _type: 'timestamp', spec_version: SPEC_VERSION, version, expires, meta: { 'snapshot.json': snapshot } };
  if (signedAt) signed[TIMESTAMP_SIGNED_AT] = expiresAfter(signedAt, 0);
  return signed;
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86400_000 };

/** Parses `90s`, `30m`, `6h`, `7d` into milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * (UNIT_MS[match[2]!] ?? 0);
  return ms > 0 ? ms : undefined;
}

/** A short human form of a duration: `5h59m`, `6d23h`, `42s`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ''}`;
}
