/**
 * Walks the delegation tree of a verified collection state, downloading and verifying delegated
 * roles into a TrustedDelegations (which holds the rules). Each role is verified against the
 * delegator through which the walk reaches it; a role reached through two delegators is verified
 * against each (its bytes are fetched again, which only "diamond" delegations pay).
 */
import { MAX_BIT_LENGTH, RepositoryError, isDelegatedTarget, targetNameHash } from '@tagtrust/shared';
import type { RoleDelegation } from '@tagtrust/shared';
import type { TrustedDelegations } from './trusted-delegations.js';

/** Where the walk gets the bytes of delegated roles. */
export interface RoleFiles {
  /** The copy of `role` kept by an earlier update, if any: verified like a download, downloaded again when it fails. */
  cached(role: string): Promise<Uint8Array | undefined>;
  /** Downloads `fileName` (`<version>.<role>.json`), at most `maxLength` bytes. */
  download(fileName: string, maxLength: number): Promise<Uint8Array>;
  /** Keeps the verified, downloaded bytes of `role` for later updates. */
  keep(role: string, bytes: Uint8Array): Promise<void>;
}

/** Downloads in flight at once while walking the children of one role (e.g. the bins of a `list`). */
const PARALLEL_DOWNLOADS = 8;

/**
 * Loads and verifies every delegated role reachable from the trusted targets, pre-order.
 * A role that fails verification is recorded as invalid and its subtree skipped; download
 * failures (network, timeout) abort. At most `maxRoles` roles (every bin of the largest succinct
 * layout plus room for explicit roles).
 */
export function loadDelegations(delegations: TrustedDelegations, files: RoleFiles, maxLength: number, maxRoles = 2 ** MAX_BIT_LENGTH + 1024): Promise<void> {
  return walkDelegations(delegations, files, maxLength, () => true, maxRoles);
}

/**
 * Loads and verifies only the delegated roles a lookup of `name` can reach: children whose
 * paths, hash prefixes or bin match it, recursively. Publishing into one hashed bin thus loads
 * that bin, never the other bins.
 */
export function loadDelegationsFor(delegations: TrustedDelegations, name: string, files: RoleFiles, maxLength: number): Promise<void> {
  let hash: string | undefined;
  const nameHash = () => (hash ??= targetNameHash(name));
  return walkDelegations(delegations, files, maxLength, (info) => isDelegatedTarget(name, info, nameHash), Infinity);
}

/**
 * Pre-order walk from `targets`: verifies each not yet loaded child that `follow` accepts, from its
 * kept copy when that still verifies (the snapshot's version, and length and hash where listed),
 * else downloaded (bounded by the snapshot's length, or `maxLength` when it lists none, as for
 * hashed bins). The children of one role are fetched a few at a time; they are verified in order.
 */
async function walkDelegations(
  delegations: TrustedDelegations,
  files: RoleFiles,
  maxLength: number,
  follow: (info: RoleDelegation) => boolean,
  maxRoles: number,
): Promise<void> {
  let loaded = 0;
  const download = (role: string): Promise<Uint8Array> => {
    const entry = delegations.snapshotEntry(role)!;
    return files.download(`${entry.version}.${encodeURIComponent(role)}.json`, entry.length ?? maxLength);
  };
  const visit = async (role: string, delegator: string): Promise<void> => {
    const children = delegations.children(role, delegator).filter((info) => follow(info) && delegations.status(info.name, role) === undefined);
    const budget = children.slice(0, Math.max(0, maxRoles - loaded));
    loaded += budget.length;
    const published = budget.filter((info) => delegations.snapshotEntry(info.name) !== undefined);
    const fetched = new Map<string, Promise<{ bytes: Uint8Array; kept: boolean }>>();
    let next = 0;
    let verified = 0;
    // Up to PARALLEL_DOWNLOADS children ahead of the one being verified.
    const startMore = () => {
      for (; next < published.length && next - verified < PARALLEL_DOWNLOADS; next += 1) {
        const name = published[next]!.name;
        const loading = files.cached(name).then(async (kept) => (kept ? { bytes: kept, kept: true } : { bytes: await download(name), kept: false }));
        loading.catch(() => {}); // awaited in order below; a failure ahead of that is not unhandled
        fetched.set(name, loading);
      }
    };
    startMore();
    for (const info of budget) {
      if (!delegations.snapshotEntry(info.name)) {
        delegations.markUnpublished(info.name, role);
        continue;
      }
      let { bytes, kept } = await fetched.get(info.name)!;
      verified += 1;
      startMore();
      let accepted = kept && updates(delegations, info.name, bytes, role);
      if (!accepted && kept) {
        // The kept copy is out of date: the current version from the server (a failed download aborts).
        bytes = await download(info.name);
        kept = false;
      }
      accepted ||= updates(delegations, info.name, bytes, role);
      if (!accepted) continue;
      if (!kept) await files.keep(info.name, bytes);
      await visit(info.name, role);
    }
  };
  await visit('targets', 'root');
}

/** Verifies and records `bytes` of `role` through `delegator`: false when refused (recorded as invalid). */
function updates(delegations: TrustedDelegations, role: string, bytes: Uint8Array, delegator: string): boolean {
  try {
    delegations.update(role, bytes, delegator);
    return true;
  } catch (err) {
    if (err instanceof RepositoryError) return false;
    throw err;
  }
}
