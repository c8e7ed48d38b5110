/**
 * Hashed bins for large collections: TUF succinct hashed-bin delegations (TAP 15), layout and sizing.
 *
 * A binned collection's top-level targets signs no tags itself: it carries one
 * `delegations.succinct_roles` {keyids, threshold, bit_length, name_prefix: "bins"} standing for
 * 2^bit_length roles `bins-<hex>` (shared/succinct-roles.ts), all signed by one bin key in the
 * publisher's home. A tag lives in exactly one bin (the first bit_length bits of the sha256 of its
 * name), so signing it re-signs that bin only.
 *
 * Sizing: about {@link TARGET_BIN_ENTRIES} tags per bin when the layout is chosen, so bins stay
 * under {@link MAX_BIN_ENTRIES} (tuf-js parsing cost grows faster than linearly with entries per
 * file) while the collection doubles, and at most 2^{@link DEFAULT_MAX_BIT_LENGTH} bins by default
 * (the snapshot lists every bin on every refresh). When a sign would take a bin past
 * MAX_BIN_ENTRIES, the publisher re-bins into a larger layout.
 *
 * Collections binned before succinct_roles (256 explicit `targets/bin-<prefix>` delegations with
 * path_hash_prefixes) keep working: signing routes to their bins, and `bins enable` moves them to
 * succinct bins.
 */
import { UsageError, MAX_BIT_LENGTH, binRoleForTarget, isBinRoleName, targetNameHash } from '@tagtrust/shared';
import type { DelegatedRoleInfo, SuccinctRolesInfo, TargetsSigned } from '@tagtrust/shared';

/** The `name_prefix` of the bins tagtrust builds: roles `bins-0`, `bins-00`, `bins-000`... */
export const BIN_NAME_PREFIX = 'bins';
export { BIN_KEY_NAME } from './signing-key-hint.js';
/** Tags per bin a new layout aims at. */
export const TARGET_BIN_ENTRIES = 500;
/** A sign that would take a bin past this many tags re-bins the collection first. */
export const MAX_BIN_ENTRIES = 1000;
/** Fewest bins a default layout has (16): a growing collection re-bins rarely. */
export const MIN_BIT_LENGTH = 4;
/** Most bins a default layout has (1,024); `--bins` may ask for up to 2^MAX_BIT_LENGTH. */
export const DEFAULT_MAX_BIT_LENGTH = 10;

/** The bit_length the default layout uses for a collection of `tags` tags. */
export function defaultBitLength(tags: number): number {
  let bits = MIN_BIT_LENGTH;
  while (bits < DEFAULT_MAX_BIT_LENGTH && tags > TARGET_BIN_ENTRIES * 2 ** bits) bits += 1;
  return bits;
}

/** @throws UsageError unless `bins` is a power of two from 2 to 2^MAX_BIT_LENGTH */
export function bitLengthOf(bins: number): number {
  const bits = Math.log2(bins);
  if (!Number.isInteger(bits) || bits < 1 || bits > MAX_BIT_LENGTH) {
    throw new UsageError(`--bins must be a power of two from 2 to ${2 ** MAX_BIT_LENGTH}, got ${bins}`);
  }
  return bits;
}

/** The succinct bins of a targets role, or undefined when it has none. */
export function succinctBins(targets: TargetsSigned): SuccinctRolesInfo | undefined {
  return targets.delegations?.succinct_roles;
}

/** Explicit hashed bins of collections binned before succinct_roles: `targets/bin-<prefix>` with path_hash_prefixes. */
export function legacyBins(targets: TargetsSigned): DelegatedRoleInfo[] {
  return (targets.delegations?.roles ?? []).filter((info) => /^targets\/bin-[0-9a-f]+$/.test(info.name) && info.path_hash_prefixes !== undefined);
}

/** True for a bin role name (succinct `bins-<hex>`, or a legacy `targets/bin-<prefix>`). */
export function isBinRole(role: string): boolean {
  return isBinRoleName(role) || /^targets\/bin-[0-9a-f]+$/.test(role);
}

/** The bin that holds `name` in a binned collection, or undefined when the collection has no bins. */
export function binRoleFor(targets: TargetsSigned, name: string): string | undefined {
  const succinct = succinctBins(targets);
  if (succinct) return binRoleForTarget(succinct, name);
  const legacy = legacyBins(targets);
  if (legacy.length === 0) return undefined;
  const hash = targetNameHash(name);
  return legacy.find((info) => info.path_hash_prefixes!.some((prefix) => hash.startsWith(prefix)))?.name;
}
