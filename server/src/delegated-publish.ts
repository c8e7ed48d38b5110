/**
 * The delegated-role part of a publish: loads the current metadata verification needs, verifies
 * (delegations-verify.ts), and returns the files to commit with their compare-and-swap versions
 * and the delegation changes to audit. Called by Repository.publish under the collection lock.
 */
import { findDelegation } from '@tagtrust/shared';
import type { Metadata, TargetsSigned } from '@tagtrust/shared';
import type { SignedRoleChange } from './audit.js';
import type { DelegationEvent } from './delegation-changes.js';
import { delegationChanges } from './delegation-changes.js';
import { delegatedRolesToLoad, verifyDelegatedRoles } from './delegations-verify.js';
import { serialise } from './online-signing.js';
import type { ParsedTargets } from './parsed-targets.js';
import type { StoredFile } from './storage/store.js';
import type { CanonicalTargets } from './targets-update.js';

export interface DelegatedPublish {
  files: StoredFile[];
  /** Role -> latest version the change was built on, for the commit. */
  expectedLatest: Record<string, number>;
  events: DelegationEvent[];
  /**
   * Hashed bins among the published roles (delegated by targets as succinct_roles, or explicitly
   * with path_hash_prefixes): their
   * targets before and after, so the audit can record tag changes in bins like those in targets.
   */
  bins: SignedRoleChange[];
  /** Explicitly delegated roles (not bins) among the published roles, for the audit's tag changes. */
  roles: SignedRoleChange[];
  /** The verified roles with the canonical form of their targets, to keep for the next publish once committed. */
  verified: { role: string; metadata: Metadata<TargetsSigned>; canonical: CanonicalTargets; before: TargetsSigned | undefined }[];
}

/**
 * @param loadLatest the latest stored version of a delegated role of `gun`, parsed (shared: not
 *   modified here), with the canonical form of its targets when known; undefined when it has none
 * @param targetsBefore the stored top-level targets (undefined for a new collection)
 * @param targetsAfter the top-level targets trusted after the publish
 * @throws the errors of verifyDelegatedRoles
 */
export async function prepareDelegatedPublish(
  loadLatest: (role: string) => Promise<ParsedTargets | undefined>,
  gun: string,
  delegated: Map<string, unknown>,
  targetsBefore: Metadata<TargetsSigned> | undefined,
  targetsAfter: Metadata<TargetsSigned>,
  now: Date,
): Promise<DelegatedPublish> {
  const current = new Map<string, Metadata<TargetsSigned>>();
  const canonical = new Map<string, CanonicalTargets>();
  await Promise.all(
    delegatedRolesToLoad(delegated.keys()).map(async (role) => {
      const latest = await loadLatest(role);
      if (!latest) return;
      current.set(role, latest.metadata);
      if (latest.canonical) canonical.set(role, latest.canonical);
    }),
  );
  const verified = verifyDelegatedRoles(delegated, { gun, targets: targetsAfter, current, canonical }, now);
  const events = targetsAfter === targetsBefore ? [] : delegationChanges('targets', targetsBefore?.signed, targetsAfter.signed);
  const files: StoredFile[] = [];
  const expectedLatest: Record<string, number> = {};
  const isBin = (role: string) => {
    const info = findDelegation(targetsAfter.signed.delegations, role);
    return info !== undefined && ('bin' in info || info.path_hash_prefixes !== undefined);
  };
  const bins: SignedRoleChange[] = [];
  const roles: SignedRoleChange[] = [];
  for (const { role, metadata, previousVersion, signedBy } of verified) {
    (isBin(role) ? bins : roles).push({ role, before: current.get(role)?.signed, after: metadata.signed, signedBy });
    files.push({ role, version: metadata.signed.version, text: serialise(metadata) });
    expectedLatest[role] = previousVersion;
    events.push(...delegationChanges(role, current.get(role)?.signed, metadata.signed));
  }
  // Delegators read from storage are part of what was verified: the commit fails if one moved.
  for (const [role, metadata] of current) expectedLatest[role] ??= metadata.signed.version;
  return { files, expectedLatest, events, bins, roles, verified: verified.map(({ role, metadata, canonical }) => ({ role, metadata, canonical, before: current.get(role)?.signed })) };
}
