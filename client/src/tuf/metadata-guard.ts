/**
 * Trust rules tagtrust adds around tuf-js's client workflow (spec 5.3-5.6). No I/O: the fetcher hands
 * every downloaded file to `checkDownload` before tuf-js sees it, and the update calls `checkTrusted`
 * on the final verified state before committing it. Time is passed in.
 *
 * Rules:
 * - Every metadata file is strict JSON (no repeated object key) and valid TUF 1.x metadata of its role
 *   (`validateMetadata` as a reader: a signature entry that cannot verify, e.g. an empty `sig`, only
 *   fails to count; target `custom` values may be any JSON). This closes gaps in tuf-js, which accepts e.g. an `expires` that is not a
 *   date (and then never expires), a fractional or negative version, or uppercase/garbage-tailed hex
 *   signatures.
 * - One key counts once: a root, and the delegations of every targets role, list each key under its
 *   own key ID (sha256 of the whole key object) and no key material twice (one key written two ways),
 *   so tuf-js, which counts key IDs, counts distinct keys, and a pin by key ID cannot be met by another
 *   key (keys/key-identity.ts). Checked on every download and on the final state (files cached earlier).
 * - One update accepts at most `maxRootRotations` new roots (tuf-js would stop silently at its limit).
 * - A collection's targets name only tags of that collection (cross-repository substitution).
 * - With `maxAgeMs`, the final timestamp must have been signed at most that long ago (freeze attacks
 *   within the timestamp's lifetime); the server records the signing time in TIMESTAMP_SIGNED_AT.
 */
import { signedKeyMapsProblem } from '@tagtrust/keys';
import {
  ExpiredMetadataError,
  MalformedMetadataError,
  SubstitutionError,
  TIMESTAMP_SIGNED_AT,
  UntrustedRootError,
  formatDuration,
  isTargetInCollection,
  validateMetadata,
} from '@tagtrust/shared';
import type { AnySigned, Metadata, MetadataType } from '@tagtrust/shared';
import { parseStrictJson } from './strict-json.js';
import type { TrustedMetadata } from './trusted-types.js';

export interface GuardPolicy {
  /** The collection (or, for a generic TUF repository, a label for messages). */
  gun: string;
  /**
   * Which target names the repository may sign: by default only tags of `gun` (cross-repository
   * substitution); the tuf-conformance client accepts every name.
   */
  acceptTargetName?: (name: string) => boolean;
  /** Version of the root the update starts from. */
  trustedRootVersion: number;
  /** Most new root versions one update accepts. */
  maxRootRotations: number;
  /** Oldest signing time of the final timestamp the puller accepts, in ms; undefined: expiry only. */
  maxAgeMs?: number;
}

/** A metadata file named in a URL: `timestamp.json`, `3.snapshot.json`, `2.root.json`. */
export interface MetadataFile {
  role: string;
  version?: number;
}

const FILE_NAME = /^(?:(\d+)\.)?(.+)\.json$/;

/** The role and version a metadata URL (or file name) asks for; undefined for other URLs. */
export function parseMetadataFile(url: string): MetadataFile | undefined {
  const last = url.slice(url.lastIndexOf('/') + 1);
  const match = FILE_NAME.exec(last);
  if (!match) return undefined;
  const role = decodeURIComponent(match[2]!);
  return match[1] === undefined ? { role } : { role, version: Number(match[1]) };
}

function metadataType(role: string): MetadataType {
  return role === 'root' || role === 'timestamp' || role === 'snapshot' ? role : 'targets';
}

export class MetadataGuard {
  constructor(private readonly policy: GuardPolicy) {}

  /**
   * Checks one downloaded file before tuf-js verifies it.
   * @throws MalformedMetadataError, UntrustedRootError (root chain too long), SubstitutionError
   */
  checkDownload(file: MetadataFile, bytes: Uint8Array): void {
    const { gun } = this.policy;
    const what = `${file.role}${file.version === undefined ? '' : ` v${file.version}`} of ${gun}`;
    let json: unknown;
    try {
      json = parseStrictJson(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    } catch (err) {
      throw new MalformedMetadataError(`${what} is not valid JSON (${(err as Error).message}): refusing it; the server or the network sent corrupt or crafted metadata; do not pull, and tell the operator of the server`, { cause: err });
    }
    let metadata: Metadata;
    try {
      metadata = validateMetadata(json, metadataType(file.role), file.role, { reading: true });
    } catch (err) {
      throw new MalformedMetadataError(`${what}: ${(err as Error).message}; refusing it (the server or the network sent invalid metadata); do not pull, and tell the operator of the server`, { cause: err });
    }
    if (file.role === 'root') this.checkRootChainLength(metadata.signed.version);
    checkKeyMaps(metadata.signed, file.role, gun);
    if (metadataType(file.role) === 'targets') this.checkTargetNames(metadata.signed as TrustedMetadata['targets']['signed'], file.role);
  }

  /**
   * Checks the verified state an update ends with, before it is committed.
   * @throws ExpiredMetadataError when the timestamp is older than maxAge; SubstitutionError
   */
  checkTrusted(metadata: TrustedMetadata, now: Date): void {
    checkKeyMaps(metadata.root.signed, 'root', this.policy.gun);
    checkKeyMaps(metadata.targets.signed, 'targets', this.policy.gun);
    this.checkTargetNames(metadata.targets.signed, 'targets');
    const maxAgeMs = this.policy.maxAgeMs;
    if (maxAgeMs === undefined) return;
    const timestamp = metadata.timestamp.signed;
    const signedAt = timestamp[TIMESTAMP_SIGNED_AT];
    const limit = formatDuration(maxAgeMs);
    if (signedAt === undefined) {
      throw new ExpiredMetadataError(
        `timestamp v${timestamp.version} of ${this.policy.gun} does not say when it was signed, so max age ${limit} cannot be enforced: ` +
          'upgrade the server, or drop --max-age to rely on the timestamp expiry only',
      );
    }
    const age = now.getTime() - Date.parse(signedAt);
    if (age > maxAgeMs) {
      throw new ExpiredMetadataError(
        `timestamp v${timestamp.version} of ${this.policy.gun} was signed at ${signedAt}, ${formatDuration(age)} ago, longer ago than your max age ${limit} ` +
          `(it expires at ${timestamp.expires}): the server or a mirror may be withholding newer metadata (freeze attack); retry later, ` +
          'or raise --max-age if the server re-signs less often',
      );
    }
  }

  private checkTargetNames(targets: TrustedMetadata['targets']['signed'], role: string): void {
    const { gun, acceptTargetName = (name: string) => isTargetInCollection(name, gun) } = this.policy;
    for (const name of Object.keys(targets.targets)) {
      if (!acceptTargetName(name)) {
        throw new SubstitutionError(
          `${role} v${targets.version} served for ${gun} signs "${name.slice(0, 200)}", which is not a tag of ${gun}: ` +
            'the server or the network substituted another collection\'s metadata; refusing it; do not pull, and check --server',
        );
      }
    }
  }

  private checkRootChainLength(version: number): void {
    const { gun, trustedRootVersion, maxRootRotations } = this.policy;
    if (version > trustedRootVersion + maxRootRotations) {
      throw new UntrustedRootError(
        `the root chain of ${gun} is longer than this client accepts in one update: trusted root v${trustedRootVersion}, the server offers v${version} and more, ` +
          `limit ${maxRootRotations} rotations; check the current root out of band and pin it with \`tagtrust trust pin\` (or raise maxRootRotations)`,
      );
    }
  }
}

/**
 * Refuses metadata whose key maps list a key under a foreign ID or one key twice (module rules).
 * @throws MalformedMetadataError
 */
export function checkKeyMaps(signed: AnySigned, role: string, gun: string): void {
  const problem = signedKeyMapsProblem(signed);
  if (problem === undefined) return;
  throw new MalformedMetadataError(
    `${role} v${signed.version} of ${gun} ${problem}: ` +
      'a key listed under a foreign or second ID could fake a signature threshold or a pin; refusing it; do not pull, and tell the operator of the server',
  );
}
