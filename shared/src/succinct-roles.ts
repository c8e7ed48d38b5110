/**
 * Hashed bins as TUF succinct delegations (TAP 15, `delegations.succinct_roles`), shared by server
 * (verifies published bins) and client (builds and walks them).
 *
 * Rules (as @tufjs/models 4.1.1 `SuccinctRoles` computes them, pinned by test/hashed-bins.test.ts):
 * - `succinct_roles: {keyids, threshold, bit_length, name_prefix}` stands for 2^bit_length roles
 *   `<name_prefix>-<suffix>`, suffix = the bin number in lowercase hex, zero-padded to the length
 *   of the hex of 2^bit_length - 1 (bit_length 4: `bins-0`..`bins-f`; 8: `bins-00`..`bins-ff`;
 *   10: `bins-000`..`bins-3ff`). Every bin has the same keys and threshold and is terminating.
 * - A target name belongs to the bin whose number is the first bit_length bits of the sha256 of
 *   the name (UTF-8), read big-endian.
 * - A delegator lists either `roles` or `succinct_roles`, never both (TUF spec; @tufjs/models
 *   ignores `succinct_roles` when `roles` is present, so a mix would not verify there).
 * - tagtrust allows `succinct_roles` only in the top-level targets, bin_length 1 to
 *   {@link MAX_BIT_LENGTH}, and a `name_prefix` of a letter then letters, digits, "_" and "-" (no
 *   "/": tuf-js caches a role as `encodeURIComponent(name).json` but reads `name.json`, so a bin
 *   with "/" in its name would be downloaded again on every refresh; no "." so that `N.<bin>.json`
 *   is unambiguous). Bins delegate nothing further.
 */
import { createHash } from 'node:crypto';
import type { DelegatedRoleInfo, Delegations, RoleKeys, SuccinctRolesInfo } from './tuf-types.js';

/** 2^14 = 16,384 bins: a snapshot listing them all by version stays around half a megabyte. */
export const MAX_BIT_LENGTH = 14;
const NAME_PREFIX = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
/** Syntax of a bin role name: `<name_prefix>-<1 to 4 lowercase hex>` (range checked against the delegator). */
const BIN_ROLE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}-[0-9a-f]{1,4}$/;

/** One bin of a succinct delegation, as a lookup sees it. */
export interface BinDelegation extends RoleKeys {
  name: string;
  terminating: true;
  bin: { bitLength: number; index: number };
}

/** A delegated role as a delegator lists it: explicitly, or as one bin of its succinct_roles. */
export type RoleDelegation = DelegatedRoleInfo | BinDelegation;

export function isBinDelegation(info: RoleDelegation): info is BinDelegation {
  return 'bin' in info;
}

/** True when `role` has the syntax of a bin role name (it may still be outside any delegator's range). */
export function isBinRoleName(role: string): boolean {
  return typeof role === 'string' && BIN_ROLE_NAME.test(role);
}

/** Hex digits of a bin suffix for `bitLength` (tuf-js: length of the hex of 2^bitLength - 1). */
export function binSuffixLength(bitLength: number): number {
  return (2 ** bitLength - 1).toString(16).length;
}

export function binRoleName(namePrefix: string, bitLength: number, index: number): string {
  return `${namePrefix}-${index.toString(16).padStart(binSuffixLength(bitLength), '0')}`;
}

/** Every bin role name of a succinct delegation, in bin order. */
export function binRoleNames(info: Pick<SuccinctRolesInfo, 'name_prefix' | 'bit_length'>): string[] {
  return Array.from({ length: 2 ** info.bit_length }, (_, i) => binRoleName(info.name_prefix, info.bit_length, i));
}

/** The bin number of a target name: the first `bitLength` bits of its sha256. @param nameHash its sha256 hex, if known */
export function binIndexOf(name: string, bitLength: number, nameHash?: string): number {
  const hash = nameHash ?? createHash('sha256').update(name, 'utf8').digest('hex');
  return Number.parseInt(hash.slice(0, 8), 16) >>> (32 - bitLength);
}

/** The bin role that holds target `name`. */
export function binRoleForTarget(info: Pick<SuccinctRolesInfo, 'name_prefix' | 'bit_length'>, name: string): string {
  return binRoleName(info.name_prefix, info.bit_length, binIndexOf(name, info.bit_length));
}

/** The bin number `role` names in `info`, or undefined when it is not one of its bins (exact spelling). */
export function binIndexOfRole(info: Pick<SuccinctRolesInfo, 'name_prefix' | 'bit_length'>, role: string): number | undefined {
  const prefix = `${info.name_prefix}-`;
  if (!role.startsWith(prefix)) return undefined;
  const suffix = role.slice(prefix.length);
  if (suffix.length !== binSuffixLength(info.bit_length) || !/^[0-9a-f]+$/.test(suffix)) return undefined;
  const index = Number.parseInt(suffix, 16);
  return index < 2 ** info.bit_length ? index : undefined;
}

function binDelegation(info: SuccinctRolesInfo, index: number): BinDelegation {
  return {
    name: binRoleName(info.name_prefix, info.bit_length, index),
    keyids: info.keyids,
    threshold: info.threshold,
    terminating: true,
    bin: { bitLength: info.bit_length, index },
  };
}

/** How `delegations` lists `role`: its explicit entry, or its bin; undefined when it does not delegate it. */
export function findDelegation(delegations: Delegations | undefined, role: string): RoleDelegation | undefined {
  if (!delegations) return undefined;
  if (delegations.succinct_roles) {
    const index = binIndexOfRole(delegations.succinct_roles, role);
    return index === undefined ? undefined : binDelegation(delegations.succinct_roles, index);
  }
  return delegations.roles?.find((r) => r.name === role);
}

/** Every role `delegations` delegates, in TUF order: explicit roles, or every bin. */
export function delegatedRoles(delegations: Delegations | undefined): RoleDelegation[] {
  if (!delegations) return [];
  const succinct = delegations.succinct_roles;
  if (succinct) return Array.from({ length: 2 ** succinct.bit_length }, (_, i) => binDelegation(succinct, i));
  return delegations.roles ?? [];
}

/** Why `info` is not a succinct delegation tagtrust accepts from `delegator`, or undefined. */
export function succinctRolesProblem(info: SuccinctRolesInfo, delegator: string): string | undefined {
  if (delegator !== 'targets') return `only the top-level targets may delegate hashed bins (succinct_roles), not ${delegator}`;
  if (!Number.isInteger(info.bit_length) || info.bit_length < 1 || info.bit_length > MAX_BIT_LENGTH) {
    return `succinct_roles.bit_length must be an integer from 1 to ${MAX_BIT_LENGTH}, got ${JSON.stringify(info.bit_length)}`;
  }
  if (typeof info.name_prefix !== 'string' || !NAME_PREFIX.test(info.name_prefix)) {
    return `succinct_roles.name_prefix ${JSON.stringify(info.name_prefix)} must be a letter then up to 31 letters, digits, "_" or "-" (no "/" or ".")`;
  }
  return undefined;
}
