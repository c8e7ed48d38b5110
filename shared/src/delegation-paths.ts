/**
 * Delegated role names and path patterns, shared by server (refuses what a delegate may not sign)
 * and client (builds delegations, walks them).
 *
 * Rules:
 * - A delegated role is named `targets/<name>` (Notary's convention); nested roles extend their
 *   delegator's name by one segment (`targets/ci/nightly` is delegated by `targets/ci`), so every
 *   delegated role has exactly one delegator: the name without its last segment.
 * - Path patterns are TUF `paths` globs over full target names (`registry.example.com/team/app:v*`).
 *   tuf-js matches them per `/`-segment with minimatch, and the segment counts must be equal.
 *   tagtrust accepts the subset of minimatch whose meaning is plain: literal characters of
 *   references plus `*` (any run of characters) and `?` (one character), so that
 *   {@link isDelegatedPath} here agrees exactly with tuf-js (test/delegation-paths.test.ts pins it
 *   to `DelegatedRole.isDelegatedPath` of @tufjs/models on a table of cases).
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.js';
import { binIndexOf } from './succinct-roles.js';
import type { RoleDelegation } from './succinct-roles.js';

const ROLE_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
/** Characters a pattern may hold: those of normalised references, plus `*` and `?`. */
const PATTERN_CHARS = /^[A-Za-z0-9._:@/*?-]+$/;
const MAX_DEPTH = 8;

/** True for `targets/<name>` and nested `targets/<name>/<name>...`. */
export function isDelegatedRoleName(role: string): boolean {
  if (typeof role !== 'string') return false;
  const [first, ...rest] = role.split('/');
  return first === 'targets' && rest.length >= 1 && rest.length <= MAX_DEPTH && rest.every((s) => ROLE_SEGMENT.test(s));
}

/**
 * The role that delegates `role`: `targets/ci` -> `targets`, `targets/ci/a` -> `targets/ci`; a
 * hashed bin (a name without "/", see succinct-roles.ts) -> `targets`.
 */
export function delegatorOf(role: string): string {
  const slash = role.lastIndexOf('/');
  return slash < 0 ? 'targets' : role.slice(0, slash);
}

/** Every delegator from the top-level targets down to `role`'s own delegator. */
export function delegationChain(role: string): string[] {
  const chain: string[] = [];
  for (let current = delegatorOf(role); ; current = delegatorOf(current)) {
    chain.unshift(current);
    if (current === 'targets') return chain;
  }
}

/**
 * Why `role` cannot be a delegated role of `delegator`, or undefined when it can.
 * Used on both sides so a client never builds what the server refuses.
 */
export function delegatedRoleNameProblem(role: string, delegator: string): string | undefined {
  if (!isDelegatedRoleName(role)) {
    return `role "${role}" is not a delegated role name: use targets/<name> (letters, digits, "_", "." and "-")`;
  }
  if (delegatorOf(role) !== delegator) return `role "${role}" can only be delegated by ${delegatorOf(role)}, not by ${delegator}`;
  return undefined;
}

/** Why `pattern` is not a path pattern tagtrust accepts, or undefined. */
export function pathPatternProblem(pattern: string): string | undefined {
  if (typeof pattern !== 'string' || pattern === '') return 'a path pattern must be a non-empty string';
  if (!PATTERN_CHARS.test(pattern)) {
    return `path pattern "${pattern}" may only hold reference characters (letters, digits, "." "_" "-" ":" "@" "/") and the wildcards * and ?`;
  }
  if (pattern.split('/').some((segment) => segment === '')) return `path pattern "${pattern}" has an empty segment (leading, trailing or double "/")`;
  return undefined;
}

/** @throws InvalidInputError naming the first pattern tagtrust does not accept. */
export function checkPathPatterns(patterns: readonly string[], where: string): void {
  if (patterns.length === 0) throw new InvalidInputError(`${where} has no path patterns: give at least one`);
  for (const pattern of patterns) {
    const problem = pathPatternProblem(pattern);
    if (problem !== undefined) throw new InvalidInputError(`${where}: ${problem}`);
  }
}

const segmentCache = new Map<string, RegExp>();

/** minimatch semantics for one segment without `/`, options default (dot: false, case-sensitive). */
function segmentRegExp(pattern: string): RegExp {
  let re = segmentCache.get(pattern);
  if (re) return re;
  let body = '';
  for (const char of pattern) {
    if (char === '*') body += '[^/]*';
    else if (char === '?') body += '[^/]';
    else body += char.replace(/[.^$+()[\]{}|\\]/g, '\\$&');
  }
  // dot: false -> a wildcard at the start never matches a leading "."; a pattern of only `*`s
  // never matches the empty string.
  const leadingWildcard = pattern.startsWith('*') || pattern.startsWith('?');
  const onlyStars = /^\*+$/.test(pattern);
  re = new RegExp(`^${leadingWildcard ? '(?!\\.)' : ''}${onlyStars ? '(?=.)' : ''}${body}$`);
  if (segmentCache.size > 1000) segmentCache.clear();
  segmentCache.set(pattern, re);
  return re;
}

/** True when target `name` matches `pattern` the way tuf-js matches delegated paths. */
export function matchesPathPattern(name: string, pattern: string): boolean {
  if (pathPatternProblem(pattern) !== undefined) return false;
  const nameParts = name.split('/');
  const patternParts = pattern.split('/');
  if (nameParts.length !== patternParts.length) return false;
  return nameParts.every((part, i) => segmentRegExp(patternParts[i]!).test(part));
}

/** True when `name` matches any of a delegated role's `paths` (tuf-js `isDelegatedPath`). */
export function isDelegatedPath(name: string, paths: readonly string[] | undefined): boolean {
  return (paths ?? []).some((pattern) => matchesPathPattern(name, pattern));
}

const HASH_PREFIX = /^[0-9a-f]{1,64}$/;

/**
 * Hashed bins (TUF succinct/hashed-bin delegations, TAP 15): a delegation may give
 * `path_hash_prefixes` instead of `paths`; a target name belongs to it when the sha256 hex of the
 * name (UTF-8) starts with one of the prefixes, exactly as tuf-js `DelegatedRole.isDelegatedPath`.
 * @throws InvalidInputError naming the first prefix that is not lowercase hex
 */
export function checkHashPrefixes(prefixes: readonly string[], where: string): void {
  if (prefixes.length === 0) throw new InvalidInputError(`${where} has no path hash prefixes: give at least one`);
  for (const prefix of prefixes) {
    if (typeof prefix !== 'string' || !HASH_PREFIX.test(prefix)) {
      throw new InvalidInputError(`${where}: path hash prefix ${JSON.stringify(prefix)} must be 1 to 64 lowercase hex characters`);
    }
  }
}

/** The sha256 hex of a target name: what `path_hash_prefixes` match. */
export function targetNameHash(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex');
}

/**
 * True when `name` is delegated by `info`: by `paths`, by `path_hash_prefixes`, or as the bin of a
 * succinct delegation that holds it (tuf-js semantics).
 * @param nameHash the name's {@link targetNameHash}, memoised by a caller that tests many delegations
 */
export function isDelegatedTarget(name: string, info: RoleDelegation, nameHash?: () => string): boolean {
  if ('bin' in info) return binIndexOf(name, info.bin.bitLength, nameHash?.()) === info.bin.index;
  if (info.path_hash_prefixes !== undefined) {
    const hash = nameHash ? nameHash() : targetNameHash(name);
    return info.path_hash_prefixes.some((prefix) => hash.startsWith(prefix));
  }
  return isDelegatedPath(name, info.paths);
}

/** Human description of what a delegation covers, for error messages and listings. */
export function describeDelegatedPaths(info: RoleDelegation): string {
  if ('bin' in info) return `names whose sha256 starts with the ${info.bin.bitLength} bits of bin ${info.bin.index}`;
  if (info.path_hash_prefixes !== undefined) return `names whose sha256 starts with ${info.path_hash_prefixes.join(', ')}`;
  return (info.paths ?? []).join(', ');
}
