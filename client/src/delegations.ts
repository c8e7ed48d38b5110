/**
 * Pure helpers for delegation management: adding, replacing and removing a delegated role in a
 * delegator's `delegations`, reading a signer's public key file, and expanding tag patterns.
 * The Publisher applies them to verified metadata, signs and publishes.
 */
import { readFile } from 'node:fs/promises';
import { keyIdOf, keyIdentity, publicKeyObject } from '@tagtrust/keys';
import { UsageError } from '@tagtrust/shared/errors';
import { InvalidInputError, NotFoundError, canonicalJson, checkPathPatterns, delegatedRoleNameProblem, delegatorOf, isDelegatedRoleName } from '@tagtrust/shared';
import type { DelegatedRoleInfo, Delegations, TargetsSigned, TufKey } from '@tagtrust/shared';

export interface DelegationSpec {
  /** Public keys of the signers (TUF key JSON). */
  keys: TufKey[];
  /** Signatures needed (default: the role's current threshold, or 1 for a new role). */
  threshold?: number;
  /** Patterns over full references, or tag patterns (`dev-*`) that are expanded to `<gun>:dev-*`. */
  paths: string[];
  /** A terminating delegation stops the lookup of matching names after this role (default: as it is, or false). */
  terminating?: boolean;
}

/**
 * How a change treats a role that is already delegated. By default `delegation add` adds keys and
 * paths (as Notary does) and no change lowers a threshold: both need saying so.
 */
export interface DelegationChangeOptions {
  /** Replace the role's keys and paths with the given ones instead of adding them. */
  replace?: boolean;
  /** Accept a lower threshold than the role has now. */
  lowerThreshold?: boolean;
}

export interface DelegationListing {
  role: string;
  delegator: string;
  keyIds: string[];
  threshold: number;
  paths: string[];
  /** Set for explicit hashed-bin delegations: the sha256 prefixes of the names the role holds. */
  pathHashPrefixes?: string[];
  /** Set for a bin of succinct hashed bins (TAP 15): its number and the layout's bit_length. */
  bin?: { index: number; bitLength: number };
  terminating: boolean;
  /** `trusted`: signed and verified; `unpublished`: nothing signed yet; `invalid`: fails verification. */
  state: 'trusted' | 'unpublished' | 'invalid';
  /** Version of the role's metadata (0 when unpublished). */
  version: number;
  /** Tags the role signs (when trusted). */
  tags: number;
  /** Why an invalid role fails verification. */
  problem?: string;
}

/** Checks a role name and returns its delegator. @throws InvalidInputError */
export function checkRoleName(role: string): string {
  if (!isDelegatedRoleName(role)) {
    throw new InvalidInputError(`"${role}" is not a delegated role name: use targets/<name> (letters, digits, "_", "." and "-"), e.g. targets/ci`);
  }
  return delegatorOf(role);
}

/** Full-reference patterns: a pattern without "/" is a tag pattern of the collection. */
export function expandPatterns(gun: string, patterns: readonly string[]): string[] {
  const expanded = patterns.map((p) => (p.includes('/') ? p : `${gun}:${p}`));
  checkPathPatterns(expanded, 'the delegation');
  return expanded;
}

/**
 * A copy of `signed` whose delegations list `role` with the given keys and paths added (or, with
 * `replace`, as given). @throws InvalidInputError, UsageError (a lower threshold without `lowerThreshold`)
 */
export function withDelegation(signed: TargetsSigned, delegator: string, role: string, spec: DelegationSpec, gun: string, options: DelegationChangeOptions = {}): TargetsSigned {
  const problem = delegatedRoleNameProblem(role, delegator);
  if (problem !== undefined) throw new InvalidInputError(problem);
  if (signed.delegations?.succinct_roles) {
    throw new InvalidInputError(
      `${delegator} delegates hashed bins (succinct_roles), and TUF allows no explicit delegations beside them: delegate ${role} from a collection without bins`,
    );
  }
  const current = { keys: signed.delegations?.keys ?? {}, roles: signed.delegations?.roles ?? [] };
  const existing = options.replace ? undefined : current.roles.find((r) => r.name === role);
  const previous = current.roles.find((r) => r.name === role);
  if (!existing && spec.keys.length === 0) throw new InvalidInputError(`delegating ${role} needs at least one signer's public key (--key FILE)`);
  if (!existing && spec.paths.length === 0) throw new UsageError(`delegating ${role} ${previous ? 'with --replace' : 'for the first time'} needs at least one --paths PATTERN`);
  const keys = delegationKeys(current.keys, spec.keys, role);
  const keyids = [...new Set([...(existing?.keyids ?? []), ...Object.keys(keys)])];
  const threshold = spec.threshold ?? Math.min(previous?.threshold ?? 1, keyids.length);
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > keyids.length) {
    throw new InvalidInputError(`--threshold ${threshold} must be from 1 to the number of distinct keys (${keyids.length})`);
  }
  if (previous && threshold < previous.threshold && !options.lowerThreshold) {
    throw new UsageError(`this lowers the threshold of ${role} from ${previous.threshold} to ${threshold}: add --lower-threshold if that is what you want`);
  }
  const paths = [...new Set([...(existing?.paths ?? []), ...(spec.paths.length === 0 ? [] : expandPatterns(gun, spec.paths))])];
  const info: DelegatedRoleInfo = {
    ...(existing ?? {}),
    name: role,
    keyids,
    threshold,
    terminating: spec.terminating ?? previous?.terminating ?? false,
    ...(existing?.path_hash_prefixes && paths.length === 0 ? {} : { paths }),
  };
  const index = current.roles.findIndex((r) => r.name === role);
  const roles = index < 0 ? [...current.roles, info] : current.roles.map((r, i) => (i === index ? info : r));
  return { ...signed, delegations: pruneKeys({ keys: { ...current.keys, ...keys }, roles }) };
}

/**
 * The key map entries for the signers' keys. One key counts once: the same key given twice, in one
 * encoding or two, is refused; a key the delegations already list (perhaps written another way)
 * keeps its existing entry, so the delegations never list one key under two IDs.
 * @throws InvalidInputError
 */
function delegationKeys(existing: Record<string, TufKey>, given: TufKey[], role: string): Record<string, TufKey> {
  const listed = new Map<string, string>();
  for (const [keyId, key] of Object.entries(existing)) {
    try {
      listed.set(keyIdentity(key), keyId);
    } catch {
      // An unusable key stays as it is; the server refuses the delegations if it must.
    }
  }
  const keys: Record<string, TufKey> = {};
  const seen = new Map<string, number>();
  for (const [index, key] of given.entries()) {
    const identity = keyIdentity(key);
    const first = seen.get(identity);
    if (first !== undefined) {
      throw new InvalidInputError(
        `keys #${first + 1} and #${index + 1} given for ${role} are the same public key${canonicalJson(given[first]) === canonicalJson(key) ? '' : ' written two ways'}: one key counts once towards a threshold; give each signer's key once`,
      );
    }
    seen.set(identity, index);
    const keyId = listed.get(identity);
    if (keyId !== undefined) {
      keys[keyId] = existing[keyId]!;
      continue;
    }
    const tufKey: TufKey = { keytype: key.keytype, scheme: key.scheme, keyval: { public: key.keyval.public } };
    keys[keyIdOf(tufKey)] = tufKey;
  }
  return keys;
}

/** A copy of `signed` without the delegation of `role`. @throws NotFoundError when it is not delegated */
export function withoutDelegation(signed: TargetsSigned, role: string): TargetsSigned {
  const current = signed.delegations;
  if (!current?.roles?.some((r) => r.name === role)) throw new NotFoundError(`${role} is not delegated by ${delegatorOf(role)}, so there is nothing to remove`);
  return { ...signed, delegations: pruneKeys({ keys: current.keys, roles: current.roles.filter((r) => r.name !== role) }) };
}

/**
 * A copy of `signed` where `role` no longer lists `keyId`. When the role would then have fewer keys
 * than its threshold, the threshold is lowered only with `lowerThreshold`. @throws UsageError otherwise
 */
export function withoutDelegationKey(signed: TargetsSigned, role: string, keyId: string, options: DelegationChangeOptions = {}): TargetsSigned {
  const current = signed.delegations;
  const info = current?.roles?.find((r) => r.name === role);
  if (!current?.roles || !info) throw new NotFoundError(`${role} is not delegated by ${delegatorOf(role)}`);
  const matches = info.keyids.filter((id) => id.startsWith(keyId));
  if (matches.length !== 1) throw new NotFoundError(`${role} has ${matches.length === 0 ? 'no' : 'more than one'} key ${keyId}: give more of the key ID`);
  const keyids = info.keyids.filter((id) => id !== matches[0]);
  if (keyids.length === 0) throw new InvalidInputError(`${matches[0]!.slice(0, 8)} is the last key of ${role}: remove the role instead (\`tagtrust delegation remove\`)`);
  if (info.threshold > keyids.length && !options.lowerThreshold) {
    throw new UsageError(
      `removing ${matches[0]!.slice(0, 8)} leaves ${role} ${keyids.length} key${keyids.length === 1 ? '' : 's'}, below its threshold of ${info.threshold}: add --lower-threshold to lower it to ${keyids.length}, or add a key first (\`tagtrust delegation add\`)`,
    );
  }
  const roles = current.roles.map((r) => (r.name === role ? { ...r, keyids, threshold: Math.min(r.threshold, keyids.length) } : r));
  return { ...signed, delegations: pruneKeys({ keys: current.keys, roles }) };
}

/** Keeps only keys some role lists. */
function pruneKeys(delegations: Delegations & { roles: DelegatedRoleInfo[] }): Delegations {
  const used = new Set(delegations.roles.flatMap((r) => r.keyids));
  return { keys: Object.fromEntries(Object.entries(delegations.keys).filter(([id]) => used.has(id))), roles: delegations.roles };
}

/** Reads a public key file written by `tagtrust key generate` (TUF key JSON). */
export async function readPublicKeyFile(path: string): Promise<TufKey> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new InvalidInputError(`cannot read public key ${path}: ${(err as NodeJS.ErrnoException).code ?? 'not JSON'}`);
  }
  const key = json as Partial<TufKey>;
  if (typeof key?.keytype !== 'string' || typeof key.scheme !== 'string' || typeof key.keyval?.public !== 'string') {
    throw new InvalidInputError(`${path} is not a public key file: expected TUF key JSON {keytype, scheme, keyval: {public}} as \`tagtrust key generate\` writes`);
  }
  const tufKey = { keytype: key.keytype, scheme: key.scheme, keyval: { public: key.keyval.public } };
  publicKeyObject(tufKey);
  return tufKey;
}
