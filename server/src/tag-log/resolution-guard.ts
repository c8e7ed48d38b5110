/**
 * Immutable tags stay resolvable (docs/immutability.md): after a publish, every tag the signed
 * policy covers that resolved before it still resolves, through the TUF delegation walk
 * (tag-resolution.ts), to the same digest. This is what refuses, per class, every way of making a
 * release tag disappear or resolve elsewhere without touching its entry: removing the delegation
 * that holds it, narrowing its paths, revoking its keys without re-signing it, re-laying out hashed
 * bins without it, reordering delegations or adding a terminating one in front of it, relocating it
 * into a role the lookup does not reach, or shadowing it in an earlier role.
 *
 * Which tags are checked: when the publish changes delegations anywhere (the top-level targets or
 * a published delegated role), every covered tag of every role reachable before it; otherwise only
 * the covered tags the publish adds, moves, removes or relocates (a publish that changes neither
 * delegations nor those tags cannot change how the others resolve). Stored roles are re-verified
 * against the delegations trusted after the publish only when delegations changed.
 */
import { ImmutableTagError, delegatorOf, describeDelegatedPaths, findDelegation, isDelegatedTarget, parseTargetName, targetName } from '@tagtrust/shared';
import type { Metadata, RoleDelegation, TagPolicy, TargetsSigned } from '@tagtrust/shared';
import { verifyRoleSignatures } from '@tagtrust/keys';
import type { PublishedRole } from './role-changes.js';
import { reachableRoles, resolveTarget } from './tag-resolution.js';
import type { RoleInState, RoleLoader, TagResolution } from './tag-resolution.js';

export interface ResolutionInput {
  gun: string;
  /** The policy trusted after the publish (not empty). */
  policy: TagPolicy;
  targetsBefore: TargetsSigned;
  targetsAfter: TargetsSigned;
  /** The targets roles this publish writes (verified), the top-level targets among them when published. */
  roles: PublishedRole[];
  /** Tags whose entries this publish adds, moves, removes or relocates, in any role. */
  touchedTags: string[];
  /** The latest stored version of a delegated role or bin, or undefined when it has none. */
  loadStored: (role: string) => Promise<Metadata<TargetsSigned> | undefined>;
}

/** @throws ImmutableTagError naming the first covered tag that would no longer resolve to its digest, and the role that signs it */
export async function checkImmutableTagsResolve(input: ResolutionInput): Promise<void> {
  const { gun, policy, targetsBefore, targetsAfter } = input;
  const published = new Map(input.roles.filter((r) => r.role !== 'targets').map((r) => [r.role, r.after]));
  const delegationsChanged =
    !sameDelegations(targetsBefore, targetsAfter) || input.roles.some((r) => r.role !== 'targets' && !sameDelegations(r.before, r.after));
  const stored = new Map<string, Promise<Metadata<TargetsSigned> | undefined>>();
  const loadStored = (role: string) => {
    let loading = stored.get(role);
    if (!loading) stored.set(role, (loading = input.loadStored(role)));
    return loading;
  };
  const before: RoleLoader = async (role) => stateOf((await loadStored(role))?.signed);
  const verdicts = new Map<string, RoleInState>();
  const after: RoleLoader = async (role, delegation, delegator, delegatorName) => {
    const own = published.get(role);
    if (own) return { state: 'trusted', signed: own };
    const metadata = await loadStored(role);
    if (!metadata || !delegationsChanged) return stateOf(metadata?.signed);
    const key = `${delegatorName}\u0000${role}`;
    let verdict = verdicts.get(key);
    if (!verdict) verdicts.set(key, (verdict = verifiedUnder(metadata, role, delegation, delegator)));
    return verdict;
  };
  const names = new Set(input.touchedTags.filter((tag) => policy.covers(tag)).map((tag) => targetName(gun, tag)));
  if (delegationsChanged) {
    for (const signed of (await reachableRoles(targetsBefore, before)).values()) {
      for (const name of Object.keys(signed.targets)) {
        const parsed = parseTargetName(name);
        if (parsed?.gun === gun && policy.covers(parsed.tag)) names.add(name);
      }
    }
  }
  for (const name of names) {
    const was = await resolveTarget(name, targetsBefore, before);
    if (was.kind !== 'found') continue;
    const now = await resolveTarget(name, targetsAfter, after);
    if (now.kind === 'found' && now.digest === was.digest) continue;
    const reason = await whyNotResolved(name, was, now, targetsAfter, after);
    throw new ImmutableTagError(
      `${name} is immutable under the signed policy ${policy.patterns.join(', ')}: it is signed by ${was.role} for ${was.digest}, but after this publish ${reason}; keep the role that signs it delegated and reachable, or sign a new tag instead`,
    );
  }
}

const stateOf = (signed: TargetsSigned | undefined): RoleInState => (signed ? { state: 'trusted', signed } : { state: 'unpublished' });

function sameDelegations(a: TargetsSigned | undefined, b: TargetsSigned): boolean {
  return a === b || JSON.stringify(a?.delegations ?? null) === JSON.stringify(b.delegations ?? null);
}

/** The role's stored metadata as trusted through `delegation` of `delegator`: invalid when its signatures no longer meet it. */
function verifiedUnder(metadata: Metadata<TargetsSigned>, role: string, delegation: RoleDelegation, delegator: TargetsSigned): RoleInState {
  try {
    verifyRoleSignatures(metadata, role, delegation, delegator.delegations?.keys ?? {});
    return { state: 'trusted', signed: metadata.signed };
  } catch {
    return { state: 'invalid' };
  }
}

/** One phrase saying why `name`, found through `was.role`, no longer resolves to its digest after the publish. */
async function whyNotResolved(name: string, was: Extract<TagResolution, { kind: 'found' }>, now: TagResolution, targetsAfter: TargetsSigned, after: RoleLoader): Promise<string> {
  if (now.kind === 'found') return `it would resolve through ${now.role} to ${now.digest}`;
  if (now.kind === 'failed') return `${now.role} no longer verifies under the keys its delegator lists for it, so the lookup fails`;
  if (was.role === 'targets') return 'no role on its lookup path signs it any more';
  const delegatorName = delegatorOf(was.role);
  const delegator = delegatorName === 'targets' ? targetsAfter : await signedOf(delegatorName, targetsAfter, after);
  const delegation = delegator && findDelegation(delegator.delegations, was.role);
  if (!delegator || !delegation) return `${was.role} is no longer delegated`;
  if (!isDelegatedTarget(name, delegation)) return `the delegation of ${was.role} no longer covers it (now ${describeDelegatedPaths(delegation)})`;
  const role = await after(was.role, delegation, delegator, delegatorName);
  if (role.state !== 'trusted' || !Object.hasOwn(role.signed.targets, name)) return `${was.role} no longer signs it and no other role on its lookup path does`;
  return `the lookup no longer reaches ${was.role} (a delegation before it, terminating or reordered, ends the walk first)`;
}

/** The after-state metadata of a delegated role reached from the top (for messages only). */
async function signedOf(role: string, top: TargetsSigned, after: RoleLoader): Promise<TargetsSigned | undefined> {
  const parentName = delegatorOf(role);
  const parent = parentName === 'targets' ? top : await signedOf(parentName, top, after);
  const delegation = parent && findDelegation(parent.delegations, role);
  if (!parent || !delegation) return undefined;
  const loaded = await after(role, delegation, parent, parentName);
  return loaded.state === 'trusted' ? loaded.signed : undefined;
}
