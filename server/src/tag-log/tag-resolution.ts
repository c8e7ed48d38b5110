/**
 * Which digest a target name resolves to in one state of a collection, by the TUF client's
 * pre-order depth-first walk of the delegations (client workflow 5.6.7.2, as tuf-js applies it):
 * the top-level targets first, then each delegation whose paths (hash prefixes, bin) match the
 * name, in order, depth first; a matching terminating delegation ends the walk; a role is visited
 * once; at most MAX_VISITED roles are visited (tuf-js `maxDelegations`).
 *
 * Like the client (puller.ts): a role that has published nothing is empty, and a role whose
 * metadata no longer verifies under the keys its delegator lists makes the lookup fail. No I/O:
 * the caller's `load` supplies each role as this state trusts it.
 */
import { delegatedRoles, isDelegatedTarget, targetNameHash } from '@tagtrust/shared';
import type { RoleDelegation, TargetsSigned } from '@tagtrust/shared';

/** tuf-js's default `maxDelegations`, which the client keeps. */
const MAX_VISITED = 32;

/** A delegated role as one state holds it, reached through `delegation` of `delegator`. */
export type RoleInState = { state: 'trusted'; signed: TargetsSigned } | { state: 'unpublished' } | { state: 'invalid' };

/** Loads `role` as delegated by `delegation`, an entry of the delegations of `delegator` (named `delegatorName`). */
export type RoleLoader = (role: string, delegation: RoleDelegation, delegator: TargetsSigned, delegatorName: string) => Promise<RoleInState>;

export type TagResolution =
  | { kind: 'found'; digest: string; role: string }
  | { kind: 'absent' }
  /** The walk reached a role that fails verification: the client's lookup fails. */
  | { kind: 'failed'; role: string };

/** Resolves target `name` from the top-level targets `top` (module rules). */
export async function resolveTarget(name: string, top: TargetsSigned, load: RoleLoader): Promise<TagResolution> {
  let hash: string | undefined;
  const nameHash = () => (hash ??= targetNameHash(name));
  const toVisit: { role: string; delegation?: RoleDelegation; delegator?: { name: string; signed: TargetsSigned } }[] = [{ role: 'targets' }];
  const visited = new Set<string>();
  while (visited.size <= MAX_VISITED && toVisit.length > 0) {
    const { role, delegation, delegator } = toVisit.pop()!;
    if (visited.has(role)) continue;
    const loaded: RoleInState = delegation ? await load(role, delegation, delegator!.signed, delegator!.name) : { state: 'trusted', signed: top };
    if (loaded.state === 'invalid') return { kind: 'failed', role };
    if (loaded.state === 'unpublished') continue;
    const info = Object.hasOwn(loaded.signed.targets, name) ? loaded.signed.targets[name] : undefined;
    if (info) return { kind: 'found', digest: `sha256:${info.hashes.sha256}`, role };
    visited.add(role);
    const children: typeof toVisit = [];
    for (const child of delegatedRoles(loaded.signed.delegations)) {
      if (!isDelegatedTarget(name, child, nameHash)) continue;
      children.push({ role: child.name, delegation: child, delegator: { name: role, signed: loaded.signed } });
      if (child.terminating) {
        toVisit.length = 0;
        break;
      }
    }
    toVisit.push(...children.reverse());
  }
  return { kind: 'absent' };
}

/** Every targets role reachable from `top` (explicit roles and bins, depth first), with what loaded. */
export async function reachableRoles(top: TargetsSigned, load: RoleLoader): Promise<Map<string, TargetsSigned>> {
  const roles = new Map<string, TargetsSigned>([['targets', top]]);
  const walk = async (role: string, signed: TargetsSigned): Promise<void> => {
    for (const child of delegatedRoles(signed.delegations)) {
      if (roles.has(child.name)) continue;
      const loaded = await load(child.name, child, signed, role);
      if (loaded.state !== 'trusted') continue;
      roles.set(child.name, loaded.signed);
      await walk(child.name, loaded.signed);
    }
  };
  await walk('targets', top);
  return roles;
}
