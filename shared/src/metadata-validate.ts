/**
 * Structural validation of TUF metadata JSON (spec 1.0 section 4) on plain objects.
 * Rules:
 * - The document is exactly `{signed, signatures}`, each signature exactly `{keyid, sig}` (unsigned-fields.ts).
 * - `_type` must be the expected role type, `spec_version` major must be 1, `version` an integer >= 1,
 *   `expires` an RFC 3339 UTC time without fractions that round-trips (`2030-01-01T00:00:00Z`, utc-time.ts).
 * - Signatures are `{keyid, sig}` hex strings; one signature per keyid (duplicates are refused). A
 *   client reading metadata (`reading`) keeps an entry whose `sig` decodes to nothing (empty, not hex):
 *   it cannot verify, so it only fails to count, and the other signatures may still meet the threshold.
 *   A non-canonical encoding of a real signature (upper-case hex, garbage after the hex) is still
 *   refused: tuf-js would decode and count it, so one signature would have many byte forms.
 * - Target `custom` values are strings or integers (what tagtrust publishes); a client reading
 *   metadata accepts any JSON value there (other TUF repositories put objects in it).
 * - Root roles list existing keys, thresholds are integers >= 1.
 * Cryptographic checks (signatures, thresholds) live in @tagtrust/keys; policy (versions, expiry,
 * which targets a collection may hold) lives with the caller.
 * @throws MalformedMetadataError naming the role and the offending field.
 */
import { MalformedMetadataError } from './errors.js';
import type {
  AnySigned,
  DelegatedRoleInfo,
  Delegations,
  MetaFileInfo,
  Metadata,
  RoleKeys,
  RootSigned,
  SnapshotSigned,
  TargetFileInfo,
  TargetsSigned,
  TimestampSigned,
  TufKey,
} from './tuf-types.js';
import { TIMESTAMP_SIGNED_AT, TOP_LEVEL_ROLES } from './tuf-types.js';
import { unsignedFieldProblem } from './unsigned-fields.js';
import { isStrictUtcTime } from './utc-time.js';

type SignedByType = {
  root: RootSigned;
  targets: TargetsSigned;
  snapshot: SnapshotSigned;
  timestamp: TimestampSigned;
};
export type MetadataType = keyof SignedByType;

const HEX = /^[0-9a-f]+$/;
const MAX_INT = Number.MAX_SAFE_INTEGER;

class Checker {
  constructor(private readonly role: string) {}

  fail(field: string, problem: string): never {
    throw new MalformedMetadataError(`${this.role} metadata is malformed: ${field} ${problem}`);
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, 'must be a JSON object');
    return value as Record<string, unknown>;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string') this.fail(field, 'must be a string');
    return value;
  }

  hex(value: unknown, field: string): string {
    const text = this.string(value, field);
    if (!HEX.test(text)) this.fail(field, 'must be lowercase hex');
    return text;
  }

  integer(value: unknown, field: string, min: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_INT) {
      this.fail(field, `must be an integer >= ${min}`);
    }
    return value;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') this.fail(field, 'must be true or false');
    return value;
  }

  stringArray(value: unknown, field: string): string[] {
    if (!Array.isArray(value)) this.fail(field, 'must be an array of strings');
    const seen = new Set<string>();
    for (const [i, item] of value.entries()) {
      this.string(item, `${field}[${i}]`);
      if (seen.has(item)) this.fail(field, `lists "${item}" twice`);
      seen.add(item);
    }
    return value as string[];
  }
}

export interface ValidateOptions {
  /**
   * Targets only: true for an entry the caller already trusts as valid (e.g. equal to the entry of the
   * same name in the current, verified version); its structure is then not checked again.
   */
  knownTarget?: (name: string, info: unknown) => boolean;
  /** The caller only reads and verifies the metadata (a client): see the signature and `custom` rules above. */
  reading?: boolean;
}

/** Parses the `{signed, signatures}` envelope and the common fields, then the role-specific ones. */
export function validateMetadata<T extends MetadataType>(
  json: unknown,
  type: T,
  roleName: string = type,
  options: ValidateOptions = {},
): Metadata<SignedByType[T]> {
  const c = new Checker(roleName);
  const top = c.object(json, 'the document');
  const unsigned = unsignedFieldProblem(top);
  if (unsigned) c.fail(...unsigned);
  const signed = c.object(top.signed, 'signed');
  if (!Array.isArray(top.signatures)) c.fail('signatures', 'must be an array');
  const keyids = new Set<string>();
  for (const [i, entry] of (top.signatures as unknown[]).entries()) {
    const sig = c.object(entry, `signatures[${i}]`);
    const keyid = options.reading ? c.string(sig.keyid, `signatures[${i}].keyid`) : c.hex(sig.keyid, `signatures[${i}].keyid`);
    const value = c.string(sig.sig, `signatures[${i}].sig`);
    if (!(options.reading && Buffer.from(value, 'hex').length === 0)) c.hex(value, `signatures[${i}].sig`);
    if (keyids.has(keyid)) c.fail('signatures', `hold two signatures by key ${keyid.slice(0, 8)}`);
    keyids.add(keyid);
  }
  if (signed._type !== type) c.fail('signed._type', `must be "${type}", got ${JSON.stringify(signed._type)}`);
  const spec = c.string(signed.spec_version, 'signed.spec_version');
  const [major] = spec.split('.');
  if (!/^\d+\.\d+(\.\d+)?$/.test(spec) || major !== '1') {
    c.fail('signed.spec_version', `"${spec}" is not supported (tagtrust reads TUF spec 1.x)`);
  }
  c.integer(signed.version, 'signed.version', 1);
  const expires = c.string(signed.expires, 'signed.expires');
  if (!isStrictUtcTime(expires)) {
    c.fail('signed.expires', `${JSON.stringify(expires.slice(0, 40))} is not a UTC time of a real date written like 2030-01-01T00:00:00Z`);
  }
  VALIDATORS[type](c, signed, options);
  return top as unknown as Metadata<SignedByType[T]>;
}

const VALIDATORS: Record<MetadataType, (c: Checker, signed: Record<string, unknown>, options: ValidateOptions) => void> = {
  root(c, signed) {
    c.boolean(signed.consistent_snapshot, 'signed.consistent_snapshot');
    const keys = validateKeys(c, signed.keys, 'signed.keys');
    const roles = c.object(signed.roles, 'signed.roles');
    for (const name of TOP_LEVEL_ROLES) {
      validateRoleKeys(c, roles[name], `signed.roles.${name}`, keys);
    }
  },
  targets(c, signed, { knownTarget, reading }) {
    const targets = c.object(signed.targets, 'signed.targets');
    for (const name of Object.keys(targets)) {
      const info = targets[name];
      if (knownTarget?.(name, info) !== true) validateTargetFile(c, info, `signed.targets["${name}"]`, reading === true);
    }
    if (signed.delegations !== undefined) validateDelegations(c, signed.delegations);
  },
  snapshot(c, signed) {
    const meta = c.object(signed.meta, 'signed.meta');
    for (const [name, info] of Object.entries(meta)) validateMetaFile(c, info, `signed.meta["${name}"]`);
  },
  timestamp(c, signed) {
    const meta = c.object(signed.meta, 'signed.meta');
    const names = Object.keys(meta);
    if (names.length !== 1 || names[0] !== 'snapshot.json') c.fail('signed.meta', 'must list exactly snapshot.json');
    validateMetaFile(c, meta['snapshot.json'], 'signed.meta["snapshot.json"]');
    const signedAt = signed[TIMESTAMP_SIGNED_AT];
    if (signedAt !== undefined) {
      const text = c.string(signedAt, `signed["${TIMESTAMP_SIGNED_AT}"]`);
      if (!isStrictUtcTime(text)) c.fail(`signed["${TIMESTAMP_SIGNED_AT}"]`, `${JSON.stringify(text.slice(0, 40))} is not a UTC time of a real date`);
    }
  },
};

function validateKeys(c: Checker, value: unknown, field: string): Record<string, TufKey> {
  const keys = c.object(value, field);
  for (const [keyid, key] of Object.entries(keys)) {
    if (!HEX.test(keyid)) c.fail(field, `has key id "${keyid}" that is not lowercase hex`);
    const k = c.object(key, `${field}.${keyid.slice(0, 8)}`);
    c.string(k.keytype, `${field}.${keyid.slice(0, 8)}.keytype`);
    c.string(k.scheme, `${field}.${keyid.slice(0, 8)}.scheme`);
    const keyval = c.object(k.keyval, `${field}.${keyid.slice(0, 8)}.keyval`);
    c.string(keyval.public, `${field}.${keyid.slice(0, 8)}.keyval.public`);
  }
  return keys as Record<string, TufKey>;
}

function validateRoleKeys(c: Checker, value: unknown, field: string, keys: Record<string, TufKey>): RoleKeys {
  const role = c.object(value, field);
  const keyids = c.stringArray(role.keyids, `${field}.keyids`);
  const threshold = c.integer(role.threshold, `${field}.threshold`, 1);
  for (const keyid of keyids) {
    if (!(keyid in keys)) c.fail(`${field}.keyids`, `lists key ${keyid.slice(0, 8)} that is not in the keys map`);
  }
  if (threshold > keyids.length) c.fail(`${field}.threshold`, `is ${threshold} but only ${keyids.length} keys are listed`);
  return role as unknown as RoleKeys;
}

function validateHashes(c: Checker, value: unknown, field: string): void {
  const hashes = c.object(value, field);
  if (Object.keys(hashes).length === 0) c.fail(field, 'must list at least one hash');
  for (const [alg, digest] of Object.entries(hashes)) c.hex(digest, `${field}.${alg}`);
}

function validateTargetFile(c: Checker, value: unknown, field: string, anyCustom: boolean): TargetFileInfo {
  const info = c.object(value, field);
  c.integer(info.length, `${field}.length`, 0);
  validateHashes(c, info.hashes, `${field}.hashes`);
  if (info.custom !== undefined) {
    const custom = c.object(info.custom, `${field}.custom`);
    const badValue = anyCustom ? undefined : Object.entries(custom).find(([, v]) => typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v)));
    if (badValue) c.fail(`${field}.custom.${badValue[0]}`, 'must be a string or an integer');
  }
  return info as unknown as TargetFileInfo;
}

function validateMetaFile(c: Checker, value: unknown, field: string): MetaFileInfo {
  const info = c.object(value, field);
  c.integer(info.version, `${field}.version`, 1);
  if (info.length !== undefined) c.integer(info.length, `${field}.length`, 0);
  if (info.hashes !== undefined) validateHashes(c, info.hashes, `${field}.hashes`);
  return info as unknown as MetaFileInfo;
}

function validateDelegations(c: Checker, value: unknown): Delegations {
  const delegations = c.object(value, 'signed.delegations');
  const keys = validateKeys(c, delegations.keys, 'signed.delegations.keys');
  // TUF: a delegator lists either roles or succinct_roles (TAP 15), never both.
  if ((delegations.roles === undefined) === (delegations.succinct_roles === undefined)) {
    c.fail('signed.delegations', 'must have exactly one of roles and succinct_roles');
  }
  if (delegations.succinct_roles !== undefined) {
    const field = 'signed.delegations.succinct_roles';
    const succinct = c.object(delegations.succinct_roles, field);
    validateRoleKeys(c, succinct, field, keys);
    c.integer(succinct.bit_length, `${field}.bit_length`, 1);
    c.string(succinct.name_prefix, `${field}.name_prefix`);
    return delegations as unknown as Delegations;
  }
  if (!Array.isArray(delegations.roles)) c.fail('signed.delegations.roles', 'must be an array');
  const names = new Set<string>();
  for (const [i, entry] of (delegations.roles as unknown[]).entries()) {
    const field = `signed.delegations.roles[${i}]`;
    const role = c.object(entry, field);
    const name = c.string(role.name, `${field}.name`);
    if (names.has(name)) c.fail(field, `repeats role name "${name}"`);
    names.add(name);
    validateRoleKeys(c, role, field, keys);
    c.boolean(role.terminating, `${field}.terminating`);
    const hasPaths = role.paths !== undefined;
    const hasPrefixes = role.path_hash_prefixes !== undefined;
    if (hasPaths === hasPrefixes) c.fail(field, 'must have exactly one of paths and path_hash_prefixes');
    if (hasPaths) c.stringArray(role.paths, `${field}.paths`);
    if (hasPrefixes) c.stringArray(role.path_hash_prefixes, `${field}.path_hash_prefixes`);
    (role as unknown as DelegatedRoleInfo).name = name;
  }
  return delegations as unknown as Delegations;
}

/** True when `signed.expires` is at or before `now` (spec: expired if expires <= reference time). */
export function isExpired(signed: AnySigned, now: Date): boolean {
  return Date.parse(signed.expires) <= now.getTime();
}
