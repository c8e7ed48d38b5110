/**
 * Changes that await more signatures than one home holds: listing them (verified against the
 * trusted state), approving (signing) one, and withdrawing one.
 */
import { addSignature } from '@tagtrust/keys';
import { NotFoundError, SubstitutionError, UsageError, VersionConflictError, buildTargets, isTargetInCollection, parseGun } from '@tagtrust/shared';
import type { PendingStatus, WithdrawResult } from '@tagtrust/shared';
import { checkRoleName } from '../delegations.js';
import type { PendingView } from '../pending.js';
import { describeChange } from '../pending.js';
import type { CollectionSession } from '../tuf/trusted-collection.js';
import { withTrustedCollection } from '../tuf/trusted-collection.js';
import type { PublisherContext } from './context.js';
import { serverApi, sessionContext, withDeadline } from './context.js';
import { loadRole } from './role-state.js';
import type { ApproveOptions, ApproveResult } from './types.js';

/**
 * The pending changes of a collection, each verified against the current trusted state of its
 * role and described as the tags it adds, moves and removes.
 */
export async function listPending(ctx: PublisherContext, gunInput: string): Promise<PendingView[]> {
  const gun = parseGun(gunInput);
  return withDeadline(ctx, `listing the pending changes of ${gun}`, async (deadline) => {
    const changes = await serverApi(ctx, deadline).listPending(gun);
    return withTrustedCollection(sessionContext(ctx, gun, deadline), async (session) => {
      const views: PendingView[] = [];
      for (const change of changes) views.push(await viewPending(ctx, session, change));
      return views;
    });
  });
}

/**
 * Verifies the pending change of `role` against the trusted current state (it must change exactly
 * the current version, stay inside the role's paths and this collection), shows it to `review`,
 * signs it with this home's key for the role and sends the signature. The server publishes it
 * when the threshold is met.
 * @throws NotFoundError (no pending change for the role), UsageError (several: pass id),
 *   VersionConflictError (stale), KeyNotFoundError (no key of the role in this home)
 */
export async function approvePending(ctx: PublisherContext, gunInput: string, role: string, options: ApproveOptions = {}): Promise<ApproveResult> {
  const gun = parseGun(gunInput);
  if (role !== 'targets') checkRoleName(role);
  return withDeadline(ctx, `approving ${role} of ${gun}`, async (deadline) => {
    const api = serverApi(ctx, deadline);
    const all = (await api.listPending(gun)).filter((c) => c.role === role && (options.id === undefined || c.id === options.id));
    // Without --id, only changes that can still be published are candidates.
    const open = all.filter((c) => c.state === 'open');
    const candidates = options.id === undefined && open.length > 0 ? open : all;
    if (candidates.length === 0) {
      throw new NotFoundError(`${gun} has no pending change to ${role}${options.id ? ` with id ${options.id}` : ''}: run \`tagtrust pending list ${gun}\``);
    }
    if (candidates.length > 1) {
      throw new UsageError(`${gun} has ${candidates.length} pending changes to ${role} (${candidates.map((c) => c.id).join(', ')}): choose one with --id`);
    }
    const change = candidates[0]!;
    const outside = Object.keys(change.metadata.signed.targets).find((name) => !isTargetInCollection(name, gun));
    if (outside) throw new SubstitutionError(`pending change ${change.id} signs ${outside}, which is not a tag of ${gun}: refusing to approve it`);
    const { view, keys } = await withTrustedCollection(sessionContext(ctx, gun, deadline), async (session) => ({
      view: await viewPending(ctx, session, change),
      keys: (await loadRole(session, role, Object.keys(change.metadata.signed.targets), ctx.targetsLifetimeMs)).keys,
    }));
    if (view.state !== 'open') {
      throw new VersionConflictError(role, change.baseVersion, `pending change ${change.id} to ${role} is ${view.state}: it cannot be published; propose the change again`);
    }
    await options.review?.(view);
    const key = await ctx.keys.unlock(keys.keyids, role, gun);
    const signature = addSignature({ signed: change.metadata.signed, signatures: [] }, key).signatures;
    const result = await api.approvePending(gun, change.id, signature);
    const status = result.pending;
    return {
      view,
      published: result.published !== undefined,
      signedBy: status?.signedBy ?? [...new Set([...change.signedBy, key.keyId])],
      threshold: status?.threshold ?? change.threshold,
    };
  });
}

/**
 * Withdraws a pending change: the server deletes it, so it can no longer be approved. Allowed to
 * the token that proposed it and to admin tokens.
 * @throws UsageError (not a change id), NotFoundError, ForbiddenError
 */
export async function withdrawPending(ctx: PublisherContext, gunInput: string, id: string): Promise<WithdrawResult> {
  const gun = parseGun(gunInput);
  if (!/^[0-9a-f]{16}$/.test(id)) throw new UsageError(`"${id}" is not a pending change id (16 hex characters, as \`tagtrust pending list ${gun}\` shows)`);
  return withDeadline(ctx, `withdrawing pending change ${id} of ${gun}`, (deadline) => serverApi(ctx, deadline).withdrawPending(gun, id));
}

async function viewPending(ctx: PublisherContext, session: CollectionSession, change: PendingStatus): Promise<PendingView> {
  const base = await loadRole(session, change.role, [], ctx.targetsLifetimeMs).catch(() => undefined);
  const stale = !base || base.current.version !== change.metadata.signed.version - 1;
  const current = base?.current ?? buildTargets(0, change.metadata.signed.expires);
  return {
    id: change.id,
    role: change.role,
    version: change.metadata.signed.version,
    state: change.state === 'open' && stale ? 'stale' : change.state,
    signedBy: change.signedBy,
    threshold: change.threshold,
    expires: change.expires,
    ...describeChange(current, change.metadata.signed),
  };
}
