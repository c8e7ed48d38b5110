/**
 * Hashed bins (TUF succinct hashed-bin delegations, TAP 15) for large collections.
 *
 * A binned collection's top-level targets signs no tags itself: it delegates `bins` roles
 * `targets/bin-<prefix>` (prefix = the first 1 or 2 hex characters of the sha256 of the target
 * name, `path_hash_prefixes: [prefix]`), all to one bin key in the publisher's home. A tag lives
 * in exactly one bin, so signing it re-signs that bin only: a publish moves a few kilobytes
 * whatever the size of the collection, and no metadata file grows past a few hundred entries
 * (16 bins up to ~16,000 tags, 256 bins up to ~256,000 at about 1,000 entries per bin).
 */
import { UsageError, targetNameHash } from '@tagtrust/shared';
import type { DelegatedRoleInfo, TargetsSigned } from '@tagtrust/shared';

export const BIN_ROLE_PREFIX = 'targets/bin-';
/** Bin counts tagtrust builds: 16^1 and 16^2 (one or two hex characters of prefix). */
export const BIN_COUNTS = [16, 256] as const;
export const DEFAULT_BINS = 256;
/** The key label (and passphrase name: TAGTRUST_BINS_PASSPHRASE) of the bin key. */
export const BIN_KEY_NAME = 'bins';

export function isBinRole(role: string): boolean {
  return role.startsWith(BIN_ROLE_PREFIX) && !role.slice(BIN_ROLE_PREFIX.length).includes('/');
}

/** @throws UsageError for a bin count tagtrust does not build */
export function binPrefixes(bins: number): string[] {
  const length = bins === 16 ? 1 : bins === 256 ? 2 : undefined;
  if (length === undefined) throw new UsageError(`--bins must be one of ${BIN_COUNTS.join(', ')}, got ${bins}`);
  return Array.from({ length: bins }, (_, i) => i.toString(16).padStart(length, '0'));
}

export function binRoleName(prefix: string): string {
  return `${BIN_ROLE_PREFIX}${prefix}`;
}

/** The bin delegations of a targets role (empty when the collection is not binned). */
export function binDelegations(targets: TargetsSigned): DelegatedRoleInfo[] {
  return (targets.delegations?.roles ?? []).filter((info) => isBinRole(info.name) && info.path_hash_prefixes !== undefined);
}

/** The bin that holds `name` in a binned collection, or undefined when the collection has no bins. */
export function binRoleFor(targets: TargetsSigned, name: string): string | undefined {
  const bins = binDelegations(targets);
  if (bins.length === 0) return undefined;
  const hash = targetNameHash(name);
  return bins.find((info) => info.path_hash_prefixes!.some((prefix) => hash.startsWith(prefix)))?.name;
}
