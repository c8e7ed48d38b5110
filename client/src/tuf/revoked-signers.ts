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

/** The error for a delegated role signed only by keys its delegator no longer lists. */
export function revokedKeyError(role: string, version: string, gun: string, delegator: string, unlisted: readonly string[], cause: unknown): SignatureError {
  const keys = unlisted.map((id) => id.slice(0, 8)).join(', ');
  return new SignatureError(
    `${role}${version} of ${gun} is signed by key ${keys}, which ${delegator} no longer lists for it: the key was revoked (removed from the delegation), ` +
      `so the tags ${role} signed need re-signing with a current key (\`tagtrust sign <gun>:<tag> ... --role ${role}\`); they are refused until then`,
    { cause },
  );
}
