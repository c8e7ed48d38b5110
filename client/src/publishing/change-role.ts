/** A change of one role as a whole (its delegations, its immutability policy): one plan, one publish. */
import type { TargetsSigned } from '@tagtrust/shared';
import type { PublisherContext } from './context.js';
import { publishChanges } from './publish-changes.js';
import { loadRole } from './role-state.js';
import type { RoleChangeResult } from './types.js';

/** Applies `change` to the latest verified metadata of `role`, signs it with this home's key for the role and publishes it. */
export async function changeRole(ctx: PublisherContext, gun: string, role: string, what: string, change: (signed: TargetsSigned) => TargetsSigned): Promise<RoleChangeResult> {
  const result = await publishChanges(
    ctx,
    gun,
    what,
    async (session) => [{ role, base: await loadRole(session, role, [], ctx.targetsLifetimeMs), change }],
    role === 'targets',
  );
  return result.roles[0]!;
}
