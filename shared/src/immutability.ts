/**
 * Signed immutability (docs/immutability.md): the top-level targets of a collection may list tag
 * patterns (`x-tagtrust-immutable`, e.g. `["v*.*.*"]`) whose tags, once signed, never move and are
 * never removed. The server refuses such a publish and every puller refuses such metadata.
 *
 * Rules:
 * - The policy lives in the signed top-level targets, so only the targets key sets it, and an extra
 *   field of `signed` round-trips through canonical JSON in tuf-js (unrecognised fields are kept and
 *   signed with the rest, like `x-tagtrust-signed-at` on the timestamp).
 * - A policy only grows. Targets that drop a pattern are accepted only when the trusted root, signed
 *   by the root threshold, approves it: its `x-tagtrust-policy-change` names a targets version in
 *   (old version, new version] and the patterns that stay, and the new targets keep at least those.
 *   Naming the targets version makes the approval single-use: versions only go up, so a stolen
 *   targets key cannot replay an old approval after the policy was strengthened again.
 * - Patterns match the tag (the part after `:`): `*` any run of characters, `?` one character.
 */
import { MalformedMetadataError, PolicyWeakenedError } from './errors.js';
import type { RootSigned, TargetsSigned } from './tuf-types.js';

export const IMMUTABLE_FIELD = 'x-tagtrust-immutable';
export const POLICY_CHANGE_FIELD = 'x-tagtrust-policy-change';
export const MAX_IMMUTABLE_PATTERNS = 64;
const PATTERN = /^[A-Za-z0-9_*?][A-Za-z0-9_.*?-]{0,127}$/;

/** Why `pattern` is not an acceptable immutable tag pattern; undefined when it is. */
export function immutablePatternProblem(pattern: string): string | undefined {
  if (!PATTERN.test(pattern)) return `"${pattern.slice(0, 40)}" is not a tag pattern (letters, digits, "_", ".", "-", "*" and "?", at most 128)`;
  return undefined;
}

function parsePatterns(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_IMMUTABLE_PATTERNS || value.some((p) => typeof p !== 'string' || immutablePatternProblem(p))) {
    throw new MalformedMetadataError(`${where} must be a list of at most ${MAX_IMMUTABLE_PATTERNS} tag patterns like "v*.*.*"`);
  }
  return value as string[];
}

/** The immutable tag patterns of top-level targets (none when absent). @throws MalformedMetadataError */
export function immutablePolicy(targets: TargetsSigned | undefined): string[] {
  const value = targets?.[IMMUTABLE_FIELD];
  return value === undefined ? [] : parsePatterns(value, `targets v${targets!.version} ${IMMUTABLE_FIELD}`);
}

/** The root's approval of a weaker policy, when it has one. @throws MalformedMetadataError */
export function rootPolicyChange(root: RootSigned): { targets: number; immutable: string[] } | undefined {
  const value = root[POLICY_CHANGE_FIELD] as unknown;
  if (value === undefined) return undefined;
  const change = value as { targets?: unknown; immutable?: unknown };
  if (typeof value !== 'object' || value === null || !Number.isSafeInteger(change.targets) || (change.targets as number) < 1) {
    throw new MalformedMetadataError(`root v${root.version} ${POLICY_CHANGE_FIELD} must be {targets: <version>, immutable: [patterns]}`);
  }
  return { targets: change.targets as number, immutable: parsePatterns(change.immutable, `root v${root.version} ${POLICY_CHANGE_FIELD}.immutable`) };
}

/** Answers whether a tag is covered by a list of patterns. */
export class TagPolicy {
  private readonly matchers: RegExp[];
  constructor(readonly patterns: readonly string[]) {
    this.matchers = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`));
  }

  static of(targets: TargetsSigned | undefined): TagPolicy {
    return new TagPolicy(immutablePolicy(targets));
  }

  get isEmpty(): boolean {
    return this.patterns.length === 0;
  }

  covers(tag: string): boolean {
    return this.matchers.some((m) => m.test(tag));
  }
}

/**
 * Checks that `after` (a newer top-level targets) keeps the immutability policy of `before` (the
 * trusted one), or weakens it only as far as `root` approves (module rules).
 * @throws PolicyWeakenedError, MalformedMetadataError
 */
export function checkPolicyChange(gun: string, before: TargetsSigned | undefined, after: TargetsSigned, root: RootSigned): void {
  if (!before) return;
  const next = immutablePolicy(after);
  const dropped = immutablePolicy(before).filter((p) => !next.includes(p));
  if (dropped.length === 0) return;
  const approval = rootPolicyChange(root);
  if (approval && before.version < approval.targets && approval.targets <= after.version) {
    const required = approval.immutable.filter((p) => !next.includes(p));
    if (required.length === 0) return;
    throw new PolicyWeakenedError(
      `targets v${after.version} of ${gun} drops immutable tag pattern(s) ${required.join(', ')} that root v${root.version} still requires: do not pull; the targets key may be compromised`,
    );
  }
  throw new PolicyWeakenedError(
    `targets v${after.version} of ${gun} drops immutable tag pattern(s) ${dropped.join(', ')} (targets v${before.version} had them) without a root-signed approval: ` +
      'do not pull; the targets key may be compromised (a real weakening is published with `tagtrust policy set` and the root keys)',
  );
}

/** `to` with the immutability policy of `from` (for code that rebuilds targets from their entries). */
export function carryPolicy(from: TargetsSigned, to: TargetsSigned): TargetsSigned {
  if (from[IMMUTABLE_FIELD] !== undefined) to[IMMUTABLE_FIELD] = [...from[IMMUTABLE_FIELD]];
  return to;
}
