/**
 * The one way roles change: from verified metadata (a full TUF update), never from what the
 * server merely says. Every role a change touches is re-signed and sent in ONE publish, which the
 * server applies atomically: all of it lands, or none.
 *
 * Publishers of one collection take turns through the server's publish lease (publish-lease.ts),
 * so a change normally lands at its first attempt; when another publisher got there first anyway
 * (409), the change is re-read, re-planned, re-signed and retried, so concurrent signers lose no tag.
 */
import { KeyNotFoundError, TimeoutError, UsageError, VersionConflictError, buildTargets, carryPolicy, expiresAfter } from '@tagtrust/shared';
import type { Metadata, TargetsSigned } from '@tagtrust/shared';
import { withPublishLease } from '../publish-lease.js';
import { signBuilt } from '../sign-built.js';
import { signingKeyHint } from '../signing-key-hint.js';
import type { CollectionSession } from '../tuf/trusted-collection.js';
import { recordPublishedTargets, withTrustedCollection } from '../tuf/trusted-collection.js';
import type { PublisherContext } from './context.js';
import { backOff, serverApi, sessionContext, withDeadline } from './context.js';
import { moveToBins } from './move-to-bins.js';
import type { BinMoveOptions } from './move-to-bins.js';
import type { RoleState } from './role-state.js';
import type { RoleChangeResult } from './types.js';

/** One role a change re-signs: its verified current state and what the change does to it. */
export interface RolePlan {
  role: string;
  base: RoleState;
  change: (signed: TargetsSigned, role: string) => TargetsSigned;
}

/** Move the collection to (more) hashed bins first, then plan again. */
export interface Rebin {
  why: string;
  options: BinMoveOptions;
}

/**
 * Plans a change from the verified state: the roles to re-sign, or a move to hashed bins first
 * (only while `mayRebin`; a collection is moved at most once per change).
 */
export type Planner = (session: CollectionSession, mayRebin: boolean) => Promise<RolePlan[] | Rebin>;

export interface ChangesResult {
  /** Every role the publish changed (or, when pending, will change), in plan order. */
  roles: RoleChangeResult[];
  attempts: number;
}

/**
 * Plans, signs with this home's keys and publishes a change of one or more roles; retries lost races.
 * A role that needs more signatures than this home holds is proposed as a pending change instead,
 * which only works for a change of that one role.
 * @param unlockTargetsEarly start decrypting the targets key from local trust before the update
 * @throws UsageError when a change of several roles includes one that needs several signatures
 */
export async function publishChanges(ctx: PublisherContext, gun: string, what: string, planner: Planner, unlockTargetsEarly: boolean): Promise<ChangesResult> {
  return withDeadline(ctx, what, async (deadline) => {
    const api = serverApi(ctx, deadline);
    // Decrypting the signing key (scrypt, ~0.1 s) starts from the locally trusted metadata; the unlock
    // below then finds it done, or unlocks what the refresh requires. Decrypt before taking a turn:
    // a publisher holding the lease never waits for scrypt.
    if (unlockTargetsEarly) await unlockFromLocalTrust(ctx, gun);
    let mayRebin = ctx.binsThreshold > 0;
    let attempt = 1;
    for (;;) {
      // One publisher at a time per collection (publish-lease.ts); moving to hashed bins takes its own turn.
      const outcome = await withPublishLease(api, gun, deadline, async (lease): Promise<{ done: ChangesResult } | { rebin: Rebin }> => {
        for (; ; attempt += 1) {
          const planned = await withTrustedCollection(sessionContext(ctx, gun, deadline), (session) => planner(session, mayRebin));
          if (!Array.isArray(planned)) {
            mayRebin = false;
            return { rebin: planned };
          }
          const multiSignature = planned.find((plan) => plan.base.keys.threshold > 1);
          if (multiSignature && planned.length > 1) {
            throw new UsageError(
              `this change re-signs ${planned.map((p) => p.role).join(', ')} at once, but ${multiSignature.role} needs ${multiSignature.base.keys.threshold} signatures (a pending change holds one role): stage and publish its tags separately`,
            );
          }
          const signed = await signPlans(ctx, gun, planned, attempt === 1);
          try {
            if (multiSignature) {
              // More signatures needed than this home holds: stage it for the other signers.
              const { role, metadata } = signed[0]!;
              const result = await api.proposePending(gun, role, metadata);
              return { done: { roles: [{ role, version: metadata.signed.version, attempts: attempt, ...(result.pending ? { pending: result.pending } : {}) }], attempts: attempt } };
            }
            const body = Object.fromEntries(signed.map(({ role, metadata }) => [role, metadata]));
            lease.releasedByPublish = (await api.publish(gun, body, lease.id)).leaseReleased === true;
            // The server stores these exact bytes: keep them as this client's copy of each role, so the
            // next refresh verifies them against the new snapshot instead of downloading them again.
            for (const { role, metadata } of signed) await recordPublishedTargets(ctx.options.home, gun, metadata, role);
            return { done: { roles: signed.map(({ role, metadata }) => ({ role, version: metadata.signed.version, attempts: attempt })), attempts: attempt } };
          } catch (err) {
            if (!(err instanceof VersionConflictError) || attempt >= ctx.maxAttempts) throw err;
            // Someone published without the lease (an older client), or this one's lease expired.
            await backOff(attempt);
          }
        }
      }).catch((err: unknown) => {
        if (err instanceof TimeoutError && deadline.expired && attempt > 1) {
          throw deadline.contentionError(gun, `${attempt} attempts lost the race to other publishers`);
        }
        throw err;
      });
      if ('done' in outcome) return outcome.done;
      await binsBeforeSigning(ctx, gun, outcome.rebin);
      attempt += 1;
    }
  });
}

/** Applies each plan to its role's current state and signs the next version with this home's key for the role. */
async function signPlans(ctx: PublisherContext, gun: string, plans: RolePlan[], warnInvalid: boolean): Promise<{ role: string; metadata: Metadata<TargetsSigned> }[]> {
  const signed: { role: string; metadata: Metadata<TargetsSigned> }[] = [];
  for (const { role, base, change } of plans) {
    if (base.invalid && warnInvalid) {
      ctx.options.warn(
        `${role} v${base.current.version} no longer verifies against its current keys (a key was revoked?); starting it afresh as v${base.current.version + 1}: re-sign every tag you vouch for`,
      );
    }
    const key = await ctx.keys.unlock(base.keys.keyids, role, gun);
    const changed = change(base.current, role);
    const next = carryPolicy(changed, buildTargets(base.current.version + 1, expiresAfter(new Date(), ctx.targetsLifetimeMs), changed.targets));
    if (changed.delegations) next.delegations = changed.delegations;
    signed.push({ role, metadata: signBuilt(next, [key], role) });
  }
  return signed;
}

/**
 * Moves a collection into (more) hashed bins before a sign; when that is not possible here
 * (targets needs several signatures, no passphrase for a bin key, explicit delegations), warns
 * and lets the sign go where it would have gone.
 */
async function binsBeforeSigning(ctx: PublisherContext, gun: string, { why, options }: Rebin): Promise<void> {
  try {
    const result = await moveToBins(ctx, gun, options);
    ctx.options.warn(`${why}: moved ${result.moved} tags into ${result.bins} hashed bins (bin key ${result.keyId.slice(0, 8)})`);
  } catch (err) {
    // "already uses hashed bins": someone else moved it meanwhile.
    if (err instanceof UsageError && /already uses hashed bins/.test(err.message)) return;
    if (!(err instanceof UsageError) && !(err instanceof KeyNotFoundError)) throw err;
    ctx.options.warn(`${why} but could not move to hashed bins (${(err as Error).message}); signing as it is (run \`tagtrust bins enable ${gun}\`)`);
  }
}

/** Starts unlocking the targets key the locally trusted root lists; never fails (errors resurface later). */
async function unlockFromLocalTrust(ctx: PublisherContext, gun: string): Promise<void> {
  const hint = signingKeyHint(ctx.options.home, gun);
  // No trusted metadata yet, or no key here: the unlock after the refresh reports it.
  if (hint) await ctx.keys.unlock(hint.keyIds, hint.label, gun).catch(() => {});
}
