/** The verified current state of a role a publish changes, and the keys that sign it. */
import { NotFoundError, SubstitutionError, buildTargets, delegationChain, delegatorOf, describeDelegatedPaths, expiresAfter, isBinRoleName, isDelegatedTarget } from '@tagtrust/shared';
import type { RoleDelegation, RoleKeys, TargetsSigned } from '@tagtrust/shared';
import { isBinRole } from '../bins.js';
import { checkRoleName } from '../delegations.js';
import type { CollectionSession } from '../tuf/trusted-collection.js';

export interface RoleState {
  current: TargetsSigned;
  keys: RoleKeys;
  /** The role's metadata no longer verifies against its current keys (a key was revoked?). */
  invalid?: boolean;
}

/**
 * The verified current state of `role` and the keys that sign it.
 * @param names target names the change signs: each must be inside the paths of every role on the chain
 * @param lookup for a hashed bin, a target name in it: only the roles its lookup reaches are loaded
 * @throws NotFoundError (role not delegated), SubstitutionError (a name outside the role's paths)
 */
export async function loadRole(session: CollectionSession, role: string, names: string[], targetsLifetimeMs: number, lookup?: string): Promise<RoleState> {
  if (role === 'targets') return { current: session.metadata.targets.signed, keys: session.metadata.root.signed.roles.targets };
  if (!isBinRoleName(role)) checkRoleName(role);
  // A hashed bin: load only the roles a lookup of the name reaches (that bin), not every bin.
  const tree = isBinRole(role) && lookup !== undefined ? await session.delegationsFor(lookup) : await session.delegations();
  const chain: RoleDelegation[] = [];
  for (const name of [...delegationChain(role).slice(1), role]) {
    const info = tree.trusted(delegatorOf(name)) ? tree.delegation(name) : undefined;
    if (!info) throw new NotFoundError(`${name} is not delegated in ${session.gun}: ask the collection owner to run \`tagtrust delegation add ${session.gun} ${name} ...\``);
    chain.push(info);
  }
  for (const name of names) {
    const outside = chain.find((info) => !isDelegatedTarget(name, info));
    if (outside) {
      throw new SubstitutionError(`${role} may not sign ${name}: it is outside the paths delegated to ${outside.name} (${describeDelegatedPaths(outside)})`);
    }
  }
  const status = tree.status(role);
  const latest = tree.snapshotEntry(role)?.version ?? 0;
  if (status?.state === 'trusted') return { current: status.metadata.signed, keys: chain[chain.length - 1]! };
  return { current: buildTargets(latest, expiresAfter(new Date(), targetsLifetimeMs)), keys: chain[chain.length - 1]!, invalid: status?.state === 'invalid' };
}
