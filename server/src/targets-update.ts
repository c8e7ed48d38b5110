/**
 * A new targets role (the top-level targets, or a delegated role or bin in delegations-verify.ts)
 * checked against the current, verified version of the same role. A publish usually changes one
 * entry of many: entries equal to the current version's were fully checked when they were published,
 * and their canonical JSON is known already. The signature check still covers the whole `signed`.
 *
 * Rules:
 * - An entry is unchanged only when it equals, as a JSON value (same keys and values, any key
 *   order), the current entry of the same name. Every other entry is checked in full.
 * - `signedBytes` is byte for byte canonicalBytes(signed): object keys sorted by UTF-16 code units
 *   (the order of canonicalize's sort()), each entry's canonical JSON made afresh unless the entry is
 *   unchanged and the canonical form of the current targets is at hand, which then supplies it.
 *   test/targets-update.test.ts compares it with canonicalBytes.
 */
import { canonicalJson } from '@tagtrust/shared';
import type { TargetsSigned } from '@tagtrust/shared';

type TargetsMap = TargetsSigned['targets'];

/** The canonical form of a verified targets map, kept to build the next version's from. */
export interface CanonicalTargets {
  /** The map this describes (not copied; never modified). */
  readonly targets: TargetsMap;
  /** Its names in canonical order. */
  readonly names: readonly string[];
  /** name -> canonical `"name":{entry}`, UTF-8. */
  readonly members: ReadonlyMap<string, Buffer>;
}

export class TargetsUpdate {
  /** name -> the entry object found equal to the current one (only that object counts as unchanged). */
  private readonly unchanged = new Map<string, unknown>();
  private readonly canonical: CanonicalTargets | undefined;

  /**
   * @param current the current, verified targets map (undefined for a new collection)
   * @param canonical the canonical form of `current`, if known (ignored when it describes another map)
   */
  constructor(
    private readonly current: TargetsMap | undefined,
    canonical?: CanonicalTargets,
  ) {
    this.canonical = current !== undefined && canonical?.targets === current ? canonical : undefined;
  }

  /** True, and remembered, when `info` equals the current entry named `name` (see the rules). */
  readonly isUnchanged = (name: string, info: unknown): boolean => {
    const current = this.current;
    if (current === undefined || !Object.hasOwn(current, name) || !jsonEqual(current[name], info)) return false;
    this.unchanged.set(name, info);
    return true;
  };

  /** Whether the current targets hold an entry of this name (its name was checked when published). */
  isKnownName(name: string): boolean {
    return this.current !== undefined && Object.hasOwn(this.current, name);
  }

  /** Whether `isUnchanged` found this very entry object unchanged under this name. */
  has(name: string, info: unknown): boolean {
    return info !== undefined && this.unchanged.get(name) === info;
  }

  /**
   * canonicalBytes(signed), and the canonical form of its targets map for the next publish.
   * @param signed validated targets metadata (`targets` is an object of entries)
   * @throws TypeError for values canonical JSON cannot express (as canonicalBytes)
   */
  signedBytes(signed: TargetsSigned): { bytes: Buffer; canonical: CanonicalTargets } {
    const map = signed.targets;
    const previous = this.canonical;
    let names: string[];
    if (previous) {
      const kept = previous.names.filter((name) => Object.hasOwn(map, name));
      const added = Object.keys(map).filter((name) => !previous.members.has(name));
      names = mergeSorted(kept, added.sort());
    } else {
      names = Object.keys(map).sort();
    }
    const members = new Map<string, Buffer>();
    // The bytes are assembled from UTF-8 pieces: no 100 KB string to join, flatten and encode.
    const chunks: Buffer[] = [];
    let first = true;
    for (const name of names) {
      const reused = this.has(name, map[name]) ? previous?.members.get(name) : undefined;
      const member = reused ?? Buffer.from(`${canonicalJson(name)}:${canonicalJson(map[name])}`, 'utf8');
      members.set(name, member);
      if (!first) chunks.push(COMMA);
      chunks.push(member);
      first = false;
    }
    // The other fields, in canonical order around `"targets":{...}`.
    let before = '{';
    let after = '}';
    let seenTargets = false;
    for (const key of Object.keys(signed).sort()) {
      if (key === 'targets') {
        seenTargets = true;
        continue;
      }
      const field = `${canonicalJson(key)}:${canonicalJson((signed as unknown as Record<string, unknown>)[key])}`;
      if (seenTargets) after += `,${field}`;
      else before += `${field},`;
    }
    chunks.unshift(Buffer.from(`${before}"targets":{`, 'utf8'));
    chunks.push(Buffer.from(`${after}}`, 'utf8'));
    return { bytes: Buffer.concat(chunks), canonical: { targets: map, names, members } };
  }
}

const COMMA = Buffer.from(',');

/** Merges two arrays of strings sorted by code units into one. */
function mergeSorted(a: string[], b: string[]): string[] {
  if (b.length === 0) return a;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(a[i]! < b[j]! ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/**
 * Equality of JSON values (from JSON.parse): same type; objects with the same own keys, in any order,
 * and equal values; arrays element by element. Recursion follows `trusted`, so its depth is bounded
 * by the trusted value's.
 */
export function jsonEqual(trusted: unknown, other: unknown): boolean {
  if (trusted === other) return true;
  if (typeof trusted !== 'object' || trusted === null || typeof other !== 'object' || other === null) return false;
  if (Array.isArray(trusted)) {
    if (!Array.isArray(other) || other.length !== trusted.length) return false;
    return trusted.every((item, i) => jsonEqual(item, other[i]));
  }
  if (Array.isArray(other)) return false;
  const a = trusted as Record<string, unknown>;
  const b = other as Record<string, unknown>;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
}
