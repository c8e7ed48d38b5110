/**
 * The one way a role changes: from verified metadata (a full TUF update), never from what the
 * server merely says. Publishers of one collection take turns through the server's publish lease
 * (publish-lease.ts), so a change normally lands at its first attempt; when another publisher got
 * there first anyway (409), the change is re-read, re-applied, re-signed and retried, so concurrent
 * signers lose no tag.
 */
import { KeyNotFoundError, TimeoutError, UsageError, VersionConflictError, buildTargets, carryPolicy, expiresAfter } from '@tagtrust/shared';
import type { TargetsSigned } from '@tagtrust/shared';
import { MAX_BIN_ENTRIES, binRoleFor, isBinRole, legacyBins, succinctBins } from '../bins.js';
import { withPublishLease } from '../publish-lease.js';
import { signBuilt } from '../sign-built.js';
import { signingKeyHint } from '../signing-key-hint.js';
import { recordPublishedTargets, withTrustedCollection } from '../tuf/trusted-collection.js';
import type { PublisherContext } from './context.js';
import { backOff, serverApi, sessionContext, withDeadline } from './context.js';
import { moveToBins } from './move-to-bins.js';
import type { BinMoveOptions } from './move-to-bins.js';
import { loadRole } from './role-state.js';
import type { RoleChangeResult } from './types.js';

type Rebin = { why: string; options: BinMoveOptions };

/**
 * Applies `change` to the latest verified metadata of `role`, signs it with this home's key for
 * the role and publishes; retries lost races.
 * @param names target names the change signs: checked against the role's delegated paths first
 * @param binFor when the collection uses hashed bins, change the bin of this target name instead
 *   of `role` (the top-level targets): only that bin, snapshot and timestamp change
 */
export async function changeRole(
  ctx: PublisherContext,
  gun: string,
  requestedRole: string,
  what: string,
  change: (signed: TargetsSigned, role: string) => TargetsSigned,
  names: string[] = [],
  binFor?: string,
): Promise<RoleChangeResult> {
  return withDeadline(ctx, what, async (deadline) => {
    const api = serverApi(ctx, deadline);
    // Decrypting the signing key (scrypt, ~0.1 s) starts from the locally trusted metadata; the unlock
    // below then finds it done, or unlocks what the refresh requires.
    const early = requestedRole === 'targets' ? unlockFromLocalTrust(ctx, gun) : undefined;
    let autoBins = ctx.binsThreshold > 0;
    let attempt = 1;
    // Decrypt before taking a turn: a publisher holding the lease never waits for scrypt.
    await early;
    for (;;) {
      // One publisher at a time per collection (publish-lease.ts); moving to hashed bins takes its own turn.
      const outcome = await withPublishLease(api, gun, deadline, async (lease): Promise<{ done: RoleChangeResult } | { rebin: Rebin }> => {
        for (; ; attempt += 1) {
          const base = await withTrustedCollection(sessionContext(ctx, gun, deadline), async (session) => {
            // A tag the top-level targets itself signs (with --role targets) stays there: it shadows its bin.
            const top = session.metadata.targets.signed;
            const role = (binFor !== undefined && !(binFor in top.targets) ? binRoleFor(top, binFor) : undefined) ?? requestedRole;
            const bitLength = succinctBins(top)?.bit_length ?? Math.log2(legacyBins(top).length || 1);
            return { role, bitLength, ...(await loadRole(session, role, names, ctx.targetsLifetimeMs, binFor)) };
          });
          const role = base.role;
          if (autoBins && binFor !== undefined && ctx.binsThreshold > 0 && !(binFor in base.current.targets)) {
            const entries = Object.keys(base.current.targets).length;
            if (role === 'targets' && entries + 1 > ctx.binsThreshold) {
              autoBins = false;
              return { rebin: { why: `${gun} holds ${entries} tags, over the hashed bins threshold of ${ctx.binsThreshold}`, options: { onlyIfFlat: true } } };
            } else if (isBinRole(role) && entries + 1 > MAX_BIN_ENTRIES) {
              autoBins = false;
              return { rebin: { why: `${role} of ${gun} holds ${entries} tags, over the ${MAX_BIN_ENTRIES} a bin should hold`, options: { minBitLength: base.bitLength + 1 } } };
            }
          }
          if (base.invalid && attempt === 1) {
            ctx.options.warn(
              `${role} v${base.current.version} no longer verifies against its current keys (a key was revoked?); starting it afresh as v${base.current.version + 1}: re-sign every tag you vouch for`,
            );
          }
          const key = await ctx.keys.unlock(base.keys.keyids, role, gun);
          const changed = change(base.current, role);
          const signed = carryPolicy(changed, buildTargets(base.current.version + 1, expiresAfter(new Date(), ctx.targetsLifetimeMs), changed.targets));
          if (changed.delegations) signed.delegations = changed.delegations;
          const metadata = signBuilt(signed, [key], role);
          try {
            if (base.keys.threshold > 1) {
              // More signatures needed than this home holds: stage it for the other signers.
              const result = await api.proposePending(gun, role, metadata);
              return { done: { role, version: signed.version, attempts: attempt, ...(result.pending ? { pending: result.pending } : {}) } };
            }
            lease.releasedByPublish = (await api.publish(gun, { [role]: metadata }, lease.id)).leaseReleased === true;
            // The server stores these exact bytes: keep them as this client's copy of the role, so the
            // next refresh verifies them against the new snapshot instead of downloading them again.
            await recordPublishedTargets(ctx.options.home, gun, metadata, role);
            return { done: { role, version: signed.version, attempts: attempt } };
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

/**
 * Moves a collection into (more) hashed bins before a sign; when that is not possible here
 * (targets needs several signatures, no passphrase for a bin key, explicit delegations), warns
 * and lets the sign go where it would have gone.
 * @returns true when the collection's layout changed (here, or by someone else meanwhile)
 */
async function binsBeforeSigning(ctx: PublisherContext, gun: string, { why, options }: Rebin): Promise<boolean> {
  try {
    const result = await moveToBins(ctx, gun, options);
    ctx.options.warn(`${why}: moved ${result.moved} tags into ${result.bins} hashed bins (bin key ${result.keyId.slice(0, 8)})`);
    return true;
  } catch (err) {
    if (err instanceof UsageError && /already uses hashed bins/.test(err.message)) return true;
    if (!(err instanceof UsageError) && !(err instanceof KeyNotFoundError)) throw err;
    ctx.options.warn(`${why} but could not move to hashed bins (${(err as Error).message}); signing as it is (run \`tagtrust bins enable ${gun}\`)`);
    return false;
  }
}

/** Starts unlocking the targets key the locally trusted root lists; never fails (errors resurface later). */
async function unlockFromLocalTrust(ctx: PublisherContext, gun: string): Promise<void> {
  const hint = signingKeyHint(ctx.options.home, gun);
  // No trusted metadata yet, or no key here: the unlock after the refresh reports it.
  if (hint) await ctx.keys.unlock(hint.keyIds, hint.label, gun).catch(() => {});
}
