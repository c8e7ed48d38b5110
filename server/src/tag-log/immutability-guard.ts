/**
 * The server's half of signed immutability (shared/src/immutability.ts, docs/immutability.md):
 * a publish is refused when it weakens the policy without a root-signed approval, or when it
 * moves or removes a tag the policy (as it stands after the publish) covers, in the top-level
 * targets, a delegated role or a hashed bin. A tag another role newly signs must carry the digest
 * the collection's log last recorded for it, so no role can shadow a release tag signed elsewhere.
 * No I/O: the caller passes what the log recorded.
 */
import { ImmutableTagError, TagPolicy, checkPolicyChange } from '@tagtrust/shared';
import type { RootSigned, TargetsSigned } from '@tagtrust/shared';
import type { RoleTagChange } from './role-changes.js';

export interface ImmutabilityInput {
  gun: string;
  /** Top-level targets before the publish and trusted after it (the same object when unchanged). */
  targetsBefore: TargetsSigned | undefined;
  targetsAfter: TargetsSigned;
  /** The root trusted after the publish. */
  root: RootSigned;
  changes: RoleTagChange[];
  /** tag -> the digest the log last recorded for it (absent: never recorded, or removed). */
  recorded: Map<string, string>;
}

/**
 * @throws PolicyWeakenedError, ImmutableTagError (with the first offending change)
 */
export function checkImmutability(input: ImmutabilityInput): void {
  const { gun, targetsBefore, targetsAfter, root, changes, recorded } = input;
  if (targetsAfter !== targetsBefore) checkPolicyChange(gun, targetsBefore, targetsAfter, root);
  const policy = TagPolicy.of(targetsAfter);
  if (policy.isEmpty) return;
  for (const change of changes) {
    if (!policy.covers(change.tag)) continue;
    const where = `${change.role} v${change.version}`;
    const rule = `immutable under the signed policy ${policy.patterns.join(', ')}`;
    if (change.change === 'moved') {
      throw new ImmutableTagError(`${gun}:${change.tag} is ${rule}: ${where} moves it from ${change.from} to ${change.to}; sign a new tag instead`);
    }
    if (change.change === 'removed') {
      throw new ImmutableTagError(`${gun}:${change.tag} is ${rule}: ${where} removes it (${change.from}); immutable tags are never removed`);
    }
    const known = recorded.get(change.tag);
    if (known !== undefined && known !== change.to) {
      throw new ImmutableTagError(`${gun}:${change.tag} is ${rule}: ${where} signs it for ${change.to}, but it is signed for ${known}; sign a new tag instead`);
    }
  }
}

/** The tags of `changes` that are added under the policy of `targetsAfter` (their recorded digest is needed). */
export function tagsToLookUp(targetsAfter: TargetsSigned, changes: RoleTagChange[]): string[] {
  const policy = TagPolicy.of(targetsAfter);
  return policy.isEmpty ? [] : [...new Set(changes.filter((c) => c.change === 'added' && policy.covers(c.tag)).map((c) => c.tag))];
}
