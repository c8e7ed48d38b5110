/**
 * The tag changes of one publish, role by role: what the transparency log records and what the
 * immutability check judges. Pure functions of the metadata before and after.
 *
 * A tag removed from one role and added with the same digest to another in the same publish (moving
 * tags into hashed bins, re-binning) is a relocation, not a change: it is left out, so re-binning a
 * 100,000-tag collection appends nothing to the log and moves no immutable tag.
 */
import type { TargetsSigned } from '@tagtrust/shared';
import { tagChanges } from '../audit.js';
import type { TagChange } from '../storage/store.js';

/** A role whose new version this publish writes. */
export interface PublishedRole {
  role: string;
  before: TargetsSigned | undefined;
  after: TargetsSigned;
}

export interface RoleTagChange extends TagChange {
  role: string;
  /** The role's new version. */
  version: number;
}

/**
 * Every tag change of the published roles, relocations left out, in role then tag order; and the
 * relocations (both halves), which change no digest but may change how the tag resolves.
 */
export function roleTagChanges(gun: string, roles: PublishedRole[]): { changes: RoleTagChange[]; relocated: RoleTagChange[] } {
  const all: RoleTagChange[] = roles.flatMap(({ role, before, after }) =>
    tagChanges(gun, before, after).map((change) => ({ ...change, role, version: after.version })),
  );
  if (roles.length < 2) return { changes: all, relocated: [] }; // a relocation takes two roles
  // Additions by tag and digest, so pairing each removal with an addition stays linear.
  const arrivals = new Map<string, RoleTagChange[]>();
  for (const c of all) if (c.change === 'added') arrivals.set(`${c.tag}\u0000${c.to}`, [...(arrivals.get(`${c.tag}\u0000${c.to}`) ?? []), c]);
  const relocated = new Set<RoleTagChange>();
  for (const removal of all) {
    if (removal.change !== 'removed') continue;
    const candidates = arrivals.get(`${removal.tag}\u0000${removal.from}`) ?? [];
    const index = candidates.findIndex((c) => c.role !== removal.role);
    if (index < 0) continue;
    relocated.add(removal).add(candidates[index]!);
    candidates.splice(index, 1);
  }
  return { changes: all.filter((c) => !relocated.has(c)), relocated: [...relocated] };
}
