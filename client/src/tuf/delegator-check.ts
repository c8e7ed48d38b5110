/**
 * A delegated role is trusted only through the delegator a lookup reaches it from.
 *
 * tuf-js 5.0.1 keeps each delegated role it verified in its trusted set by name, and a later lookup
 * that reaches the same role through another delegator (a "diamond" delegation) reuses it without
 * checking it against that delegator's keys: a role signed only for delegator A then answers for the
 * paths delegator B gives it (tuf-conformance `test_cached_role_is_verified_against_current_delegator`,
 * which tuf-js and python-tuf fail). `verifyEachDelegator` wraps the Updater's `loadTargets` so that
 * a role already in the trusted set is verified against every new delegator before it is used.
 */
import { SignatureError } from '@tagtrust/shared';

interface TargetsLike {
  verifyDelegate(role: string, delegate: unknown): void;
}

interface TrustedSetLike {
  getRole(name: string): TargetsLike | undefined;
}

type LoadTargets = (role: string, parentRole: string) => Promise<unknown>;

/**
 * Installs the check on `updater` (a tuf-js 5 Updater), before its first refresh.
 * @throws Error when the Updater no longer has the expected shape (a tuf-js upgrade: fix this module)
 */
export function verifyEachDelegator(updater: object, gun: string): void {
  const load = Reflect.get(updater, 'loadTargets') as LoadTargets | undefined;
  const set = Reflect.get(updater, 'trustedSet') as TrustedSetLike | undefined;
  if (typeof load !== 'function' || typeof set?.getRole !== 'function') {
    throw new Error('tuf-js Updater has no loadTargets or trustedSet.getRole: the tuf-js version is not the one tagtrust supports');
  }
  const verifiedThrough = new Map<string, Set<string>>();
  const wrapped: LoadTargets = async (role, parentRole) => {
    const cached = set.getRole(role);
    const through = verifiedThrough.get(role);
    if (cached && !through?.has(parentRole)) {
      try {
        set.getRole(parentRole)!.verifyDelegate(role, cached);
      } catch (err) {
        throw new SignatureError(
          `${role} of ${gun} is not signed by the keys ${parentRole} delegates it to (it was verified through another delegator): ` +
            'refusing what it signs for the paths of this delegation; ask the collection owner to fix the delegation or re-sign the role',
          { cause: err },
        );
      }
    }
    const result = await load.call(updater, role, parentRole);
    if (through) through.add(parentRole);
    else verifiedThrough.set(role, new Set([parentRole]));
    return result;
  };
  Reflect.set(updater, 'loadTargets', wrapped);
}
