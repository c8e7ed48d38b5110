/**
 * A delegated role whose key its delegator removed (`tagtrust delegation remove --key`) stays signed
 * by that key until someone re-signs it: its signatures are then by keys the delegator no longer
 * lists. That is the normal aftermath of a revocation, not forgery, and the fix is re-signing.
 */
import { SignatureError, findDelegation } from '@tagtrust/shared';
import type { Delegations } from '@tagtrust/shared';

/**
 * Key IDs that signed `bytes` (a delegated role's metadata) but that its delegator does not list
 * for `role`; empty when that cannot be told.
 * @param delegator the delegator's trusted metadata (a tuf-js Metadata model, or its JSON)
 */
export function unlistedSigners(bytes: unknown, delegator: unknown, role: string): string[] {
  try {
    const json = (typeof (delegator as { toJSON?: unknown })?.toJSON === 'function' ? (delegator as { toJSON(): unknown }).toJSON() : delegator) as {
      signed?: { delegations?: Delegations };
    };
    const listed = findDelegation(json.signed?.delegations, role)?.keyids;
    if (!listed || !Buffer.isBuffer(bytes)) return [];
    const signatures = (JSON.parse(bytes.toString('utf8')) as { signatures?: { keyid?: unknown }[] }).signatures ?? [];
    const signers = [...new Set(signatures.map((s) => s.keyid).filter((id): id is string => typeof id === 'string'))];
    return signers.filter((id) => !listed.includes(id));
  } catch {
    return [];
  }
}

/**
 * The error for a delegated role signed by keys its delegator does not list.
 * @param revoked true when the delegator's metadata this client trusted before listed the key for the
 *   role (a revocation seen); false when that cannot be told (then a forged role looks the same)
 */
export function revokedKeyError(role: string, version: string, gun: string, delegator: string, unlisted: readonly string[], revoked: boolean, cause: unknown): SignatureError {
  const keys = unlisted.map((id) => id.slice(0, 8)).join(', ');
  const resign = `the tags ${role} signed need re-signing with a current key (\`tagtrust sign <gun>:<tag> ... --role ${role}\`)`;
  return new SignatureError(
    revoked
      ? `${role}${version} of ${gun} is signed by key ${keys}, which ${delegator} listed for it before and no longer does: the key was revoked (removed from the delegation), so ${resign}; they are refused until then`
      : `${role}${version} of ${gun} is signed by key ${keys}, which ${delegator} does not list for it: if ${delegator} revoked that key (\`tagtrust delegation remove --key\`), ${resign}; if not, the role is forged. Refusing it`,
    { cause },
  );
}

/** Key IDs `delegations` lists for `role` (none when it does not delegate it). */
export function listedFor(delegations: Delegations | undefined, role: string): string[] {
  return findDelegation(delegations, role)?.keyids ?? [];
}
