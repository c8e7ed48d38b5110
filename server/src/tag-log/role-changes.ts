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

/** Every tag change of the published roles, relocations left out, in role then tag order. */
export function roleTagChanges(gun: string, roles: PublishedRole[]): RoleTagChange[] {
  const all: RoleTagChange[] = roles.flatMap(({ role, before, after }) =>
    tagChanges(gun, before, after).map((change) => ({ ...change, role, version: after.version })),
  );
  const relocated = new Set<RoleTagChange>();
  const removals = all.filter((c) => c.change === 'removed');
  for (const removal of removals) {
    const arrival = all.find((c) => c.change === 'added' && c.tag === removal.tag && c.to === removal.from && c.role !== removal.role && !relocated.has(c));
    if (arrival) {
      relocated.add(removal);
      relocated.add(arrival);
    }
  }
  return all.filter((c) => !relocated.has(c));
}
