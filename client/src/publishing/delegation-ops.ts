/** Adding, changing, revoking and listing delegated roles: changes of the delegator's metadata. */
import { isBinDelegation, parseGun } from '@tagtrust/shared';
import type { TargetsSigned } from '@tagtrust/shared';
import type { DelegationChange } from '../delegation-change.js';
import { delegationChange } from '../delegation-change.js';
import type { DelegationChangeOptions, DelegationListing, DelegationSpec } from '../delegations.js';
import { checkRoleName, withDelegation, withoutDelegation, withoutDelegationKey } from '../delegations.js';
import { withTrustedCollection } from '../tuf/trusted-collection.js';
import { changeRole } from './change-role.js';
import type { PublisherContext } from './context.js';
import { sessionContext, withDeadline } from './context.js';
import type { DelegationChangeResult, ShowChange } from './types.js';

/**
 * Delegates `role` (`targets/<name>`, or nested `targets/<a>/<b>`) to the given signers' keys,
 * threshold and path patterns; on a delegated role, adds the keys and paths (or with `replace`,
 * replaces them). Signed by the delegator. `show` sees the change before it is published.
 */
export async function addDelegation(
  ctx: PublisherContext,
  gunInput: string,
  role: string,
  spec: DelegationSpec,
  options: DelegationChangeOptions & ShowChange = {},
): Promise<DelegationChangeResult> {
  const gun = parseGun(gunInput);
  const delegator = checkRoleName(role);
  return changeDelegation(ctx, gun, delegator, role, `delegating ${role} in ${gun}`, (signed) => withDelegation(signed, delegator, role, spec, gun, options), options);
}

/** Removes the delegation of `role`: tags it signed stop resolving at once. Signed by the delegator. */
export async function removeDelegation(ctx: PublisherContext, gunInput: string, role: string, options: ShowChange = {}): Promise<DelegationChangeResult> {
  const gun = parseGun(gunInput);
  const delegator = checkRoleName(role);
  return changeDelegation(ctx, gun, delegator, role, `removing ${role} from ${gun}`, (signed) => withoutDelegation(signed, role), options);
}

/** Revokes one signer key of `role` (key ID or its prefix). Tags signed only with it stop resolving. */
export async function removeDelegationKey(
  ctx: PublisherContext,
  gunInput: string,
  role: string,
  keyId: string,
  options: DelegationChangeOptions & ShowChange = {},
): Promise<DelegationChangeResult> {
  const gun = parseGun(gunInput);
  const delegator = checkRoleName(role);
  return changeDelegation(ctx, gun, delegator, role, `revoking key ${keyId} of ${role} in ${gun}`, (signed) => withoutDelegationKey(signed, role, keyId, options), options);
}

async function changeDelegation(
  ctx: PublisherContext,
  gun: string,
  delegator: string,
  role: string,
  what: string,
  change: (signed: TargetsSigned) => TargetsSigned,
  { show }: ShowChange,
): Promise<DelegationChangeResult> {
  let described: DelegationChange = { role };
  const result = await changeRole(ctx, gun, delegator, what, (signed) => {
    const changed = change(signed);
    described = delegationChange(signed, changed, role);
    show?.(described);
    return changed;
  });
  return { ...result, change: described };
}

/** The delegated roles of a collection (verified), pre-order. */
export async function listDelegations(ctx: PublisherContext, gunInput: string): Promise<DelegationListing[]> {
  const gun = parseGun(gunInput);
  return withDeadline(ctx, `listing the delegations of ${gun}`, (deadline) =>
    withTrustedCollection(sessionContext(ctx, gun, deadline), async (session) => {
      const tree = await session.delegations();
      return tree.views().map(({ role, delegator, info, status }) => ({
        role,
        delegator,
        keyIds: info.keyids,
        threshold: info.threshold,
        paths: isBinDelegation(info) ? [] : (info.paths ?? []),
        ...(!isBinDelegation(info) && info.path_hash_prefixes ? { pathHashPrefixes: info.path_hash_prefixes } : {}),
        ...(isBinDelegation(info) ? { bin: { index: info.bin.index, bitLength: info.bin.bitLength } } : {}),
        terminating: info.terminating,
        state: status.state,
        version: status.state === 'trusted' ? status.metadata.signed.version : (tree.snapshotEntry(role)?.version ?? 0),
        tags: status.state === 'trusted' ? Object.keys(status.metadata.signed.targets).length : 0,
        ...(status.state === 'invalid' ? { problem: status.error.message } : {}),
      }));
    }),
  );
}
