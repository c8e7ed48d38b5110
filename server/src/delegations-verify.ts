/**
 * Verifies the delegated targets roles (`targets/<name>`, nested `targets/<a>/<b>`) of a publish
 * against their delegators. No I/O: the caller loads the current metadata of the roles involved
 * (see {@link delegatedRolesToLoad}) and stores the result.
 *
 * Rules:
 * - A delegated role's delegator is its name without the last segment; the delegator is taken as
 *   published in the same request, or else as currently stored. Every delegator up to the
 *   top-level targets must itself be delegated, so the role is reachable by clients.
 * - Each delegated role's version is exactly latest + 1 (1 for a new role); it is signed by the
 *   threshold of the keys its delegator lists for it; it is not expired.
 * - Every target it signs is a tag of this collection AND matches the paths of every delegation
 *   (or hash prefixes) from the top-level targets down to it (what tuf-js would look it up through). A delegate can
 *   never sign a reference outside its patterns.
 * - Delegation keys, wherever they appear, are each listed under their own key ID and no key
 *   material appears twice (publish-verify.ts, verifyKeyMaps).
 * - Delegations, wherever they appear, only name children of the delegating role, and use either
 *   `paths` with the pattern subset of shared/delegation-paths.ts, or `path_hash_prefixes`
 *   (a name belongs to the role when its sha256 hex starts with a prefix).
 * - Hashed bins (TAP 15 `succinct_roles`, shared/succinct-roles.ts): only the top-level targets may
 *   delegate them, instead of (never beside) explicit roles, with a bit_length and name_prefix
 *   tagtrust accepts. A published bin must be one of the 2^bit_length bins the targets trusted
 *   after this publish delegates, signed by the threshold of the succinct keys, and every name it
 *   signs must hash into it (first bit_length bits of its sha256). A bin delegates nothing.
 * - Changed entries only (as the top-level targets, targets-update.ts): an entry equal, as a JSON
 *   value, to the entry of the same name in the current version of the same role passed the schema
 *   and digest/length checks when it was published, and skips them. Its name is still checked
 *   against every delegation of the chain (paths, hash prefixes, its bin) like every other name:
 *   those can change without the role changing (a re-bin gives bins-0a another meaning). The
 *   signature input is canonicalBytes(signed), assembled from the current version's canonical
 *   entries when they are given for that exact current version.
 */
import {
  BadVersionError,
  ExpiredMetadataError,
  InvalidInputError,
  MalformedMetadataError,
  NotFoundError,
  SubstitutionError,
  VersionConflictError,
  checkPathPatterns,
  delegatedRoleNameProblem,
  delegationChain,
  delegatorOf,
  isDelegatedTarget,
  describeDelegatedPaths,
  checkHashPrefixes,
  isDelegatedRoleName,
  isBinRoleName,
  findDelegation,
  succinctRolesProblem,
  isExpired,
  isTargetInCollection,
  validateMetadata,
} from '@tagtrust/shared';
import type { Metadata, RoleDelegation, TargetsSigned } from '@tagtrust/shared';
import { verifyRoleSignatures } from '@tagtrust/keys';
import type { CanonicalTargets } from './targets-update.js';
import { TargetsUpdate } from './targets-update.js';
import { verifyKeyMaps } from './publish-verify.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A publish body split into the top-level roles (for verifyPublish) and delegated roles. */
export interface SplitPublish {
  topLevel: Record<string, unknown>;
  delegated: Map<string, unknown>;
}

export function splitPublishBody(body: unknown): SplitPublish {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { topLevel: body as Record<string, unknown>, delegated: new Map() };
  }
  const topLevel: [string, unknown][] = [];
  const delegated = new Map<string, unknown>();
  for (const [role, value] of Object.entries(body as Record<string, unknown>)) {
    if (isDelegatedRoleName(role) || isBinRoleName(role)) delegated.set(role, value);
    else topLevel.push([role, value]);
  }
  // fromEntries defines own properties: a role named "__proto__" stays a (refused) role, not a prototype.
  return { topLevel: Object.fromEntries(topLevel), delegated };
}

/** The delegated roles whose current metadata verification needs: the published ones and their delegators. */
export function delegatedRolesToLoad(delegated: Iterable<string>): string[] {
  const roles = new Set<string>();
  for (const role of delegated) {
    roles.add(role);
    for (const delegator of delegationChain(role)) if (delegator !== 'targets') roles.add(delegator);
  }
  return [...roles];
}

export interface DelegatedState {
  gun: string;
  /** The top-level targets trusted after this publish (new or current). */
  targets: Metadata<TargetsSigned>;
  /** Current stored metadata of the roles {@link delegatedRolesToLoad} named (absent: none yet). */
  current: Map<string, Metadata<TargetsSigned>>;
  /**
   * The canonical form of a current role's `signed.targets`, when known; used only when it describes
   * that very object of `current` (targets-update.ts).
   */
  canonical?: ReadonlyMap<string, CanonicalTargets>;
}

export interface VerifiedDelegatedRole {
  role: string;
  metadata: Metadata<TargetsSigned>;
  /** The version this role was at before (0: new role); the commit's compare-and-swap base. */
  previousVersion: number;
  /** The canonical form of `metadata.signed.targets`, to keep for the next publish of this role. */
  canonical: CanonicalTargets;
  /** The key IDs whose signatures made the role's threshold. */
  signedBy: string[];
}

/**
 * Verifies every delegated role of a publish. Delegators are verified before their delegates.
 * @throws InvalidInputError, MalformedMetadataError, SignatureError, VersionConflictError,
 *   BadVersionError, ExpiredMetadataError, SubstitutionError, NotFoundError
 */
export function verifyDelegatedRoles(delegated: Map<string, unknown>, state: DelegatedState, now: Date): VerifiedDelegatedRole[] {
  const published = new Map<string, Metadata<TargetsSigned>>();
  const updates = new Map<string, TargetsUpdate>();
  for (const [role, json] of delegated) {
    // Entries equal to the current version's of this role were checked when they were published.
    const update = new TargetsUpdate(state.current.get(role)?.signed.targets, state.canonical?.get(role));
    updates.set(role, update);
    published.set(role, validateMetadata(json, 'targets', role, { knownTarget: update.isUnchanged }));
  }
  const trusted = (role: string): Metadata<TargetsSigned> | undefined =>
    role === 'targets' ? state.targets : (published.get(role) ?? state.current.get(role));

  verifyDelegationsShape(state.targets.signed, 'targets');
  const verified: VerifiedDelegatedRole[] = [];
  // Shallow roles first: a delegate is checked against its delegator's new delegations.
  const order = [...published.keys()].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
  for (const role of order) {
    const metadata = published.get(role)!;
    const signed = metadata.signed;
    const previousVersion = state.current.get(role)?.signed.version ?? 0;
    checkVersion(role, signed.version, previousVersion);

    // The chain of delegations from targets down to this role, each as its delegator lists it.
    const infos: RoleDelegation[] = [];
    for (const childName of [...delegationChain(role).slice(1), role]) {
      const parentName = delegatorOf(childName);
      const parent = trusted(parentName);
      const info = findDelegation(parent?.signed.delegations, childName);
      if (!parent || !info) {
        throw new NotFoundError(
          `${childName} is not delegated by ${parentName} in ${state.gun}: add the delegation first (\`tagtrust delegation add ${state.gun} ${childName} ...\`)`,
        );
      }
      infos.push(info);
    }
    const delegatorMeta = trusted(delegatorOf(role))!;
    const info = infos[infos.length - 1]!;
    const update = updates.get(role)!;
    let canonical;
    try {
      canonical = update.signedBytes(signed);
    } catch (err) {
      throw new MalformedMetadataError(`${role} metadata cannot be expressed as canonical JSON (floats and undefined are not allowed): ${(err as Error).message}`, { cause: err });
    }
    const signedBy = verifyRoleSignatures(metadata, role, info, delegatorMeta.signed.delegations!.keys, canonical.bytes);
    if (isExpired(signed, now)) {
      throw new ExpiredMetadataError(`${role} v${signed.version} expired at ${signed.expires}: sign it with a later expiry`);
    }
    verifyDelegatedTargets(role, signed, infos, state.gun, update);
    verifyDelegationsShape(signed, role);
    verified.push({ role, metadata, previousVersion, canonical: canonical.canonical, signedBy });
  }
  return verified;
}

/**
 * Structural rules for the delegations a targets role holds.
 * @throws InvalidInputError
 */
function verifyDelegationsShape(signed: TargetsSigned, role: string): void {
  const delegations = signed.delegations;
  if (delegations && !role.includes('/') && role !== 'targets') {
    throw new InvalidInputError(`${role} is a hashed bin: bins delegate nothing (publish it without delegations)`);
  }
  verifyKeyMaps(signed, role);
  if (delegations?.succinct_roles) {
    const problem = succinctRolesProblem(delegations.succinct_roles, role);
    if (problem !== undefined) throw new InvalidInputError(`${role} delegates hashed bins: ${problem}`);
    return;
  }
  for (const info of delegations?.roles ?? []) {
    const problem = delegatedRoleNameProblem(info.name, role);
    if (problem !== undefined) throw new InvalidInputError(`${role} delegates to ${JSON.stringify(info.name)}: ${problem}`);
    if (info.path_hash_prefixes !== undefined) {
      // Hashed bins: the metadata validator already ensured exactly one of paths / prefixes.
      checkHashPrefixes(info.path_hash_prefixes, `the delegation of ${info.name} in ${role}`);
      continue;
    }
    if (info.paths === undefined) throw new InvalidInputError(`${role} delegates ${info.name} without paths or path_hash_prefixes`);
    checkPathPatterns(info.paths, `the delegation of ${info.name} in ${role}`);
  }
}

/**
 * Every name against the chain of delegations; the other checks for changed entries only.
 * @param update against the role's stored targets: names it holds were checked to be tags of the
 *   collection when published, and entries it found unchanged passed the digest and length checks
 */
function verifyDelegatedTargets(role: string, signed: TargetsSigned, chain: RoleDelegation[], gun: string, update: TargetsUpdate): void {
  for (const [name, info] of Object.entries(signed.targets)) {
    if (!update.isKnownName(name) && !isTargetInCollection(name, gun)) {
      throw new SubstitutionError(`${role} signs "${name}", which is not a tag of collection ${gun}: target names must be ${gun}:<tag>`);
    }
    const outside = chain.find((delegation) => !isDelegatedTarget(name, delegation));
    if (outside) {
      throw new SubstitutionError(
        `${role} may not sign ${name}: it is outside the paths delegated to ${outside.name} (${describeDelegatedPaths(outside)})`,
      );
    }
    if (update.has(name, info)) continue;
    const sha256 = info.hashes.sha256;
    if (sha256 === undefined || !SHA256_HEX.test(sha256)) {
      throw new InvalidInputError(`target "${name}" in ${role} needs hashes.sha256 of 64 lowercase hex characters (the manifest digest)`);
    }
    if (info.length < 1) throw new InvalidInputError(`target "${name}" in ${role} has length ${info.length}: it must be the manifest size in bytes`);
  }
}

function checkVersion(role: string, version: number, latest: number): void {
  if (version <= latest) {
    throw new VersionConflictError(role, latest, `${role} v${version} is stale: the collection has it at v${latest}; fetch the latest, re-apply your change and sign again`);
  }
  if (version !== latest + 1) throw new BadVersionError(`${role} v${version} skips versions: the next version must be ${latest + 1}`);
}
