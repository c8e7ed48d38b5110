/**
 * What changed in a delegator's delegations: roles added or removed, keys added or removed
 * (revocation), thresholds and paths changed. The repository records them in the audit entry of the
 * publish that made them, in the same atomic write.
 */
import type { DelegatedRoleInfo, TargetsSigned } from '@tagtrust/shared';

export type DelegationEventKind = 'role-added' | 'role-removed' | 'keys-added' | 'keys-removed' | 'threshold-changed' | 'paths-changed';

export interface DelegationEvent {
  /** The role whose delegations changed (`targets` or a delegated role). */
  delegator: string;
  /** The delegator's version that made the change. */
  delegatorVersion: number;
  /** The delegated role concerned. */
  role: string;
  kind: DelegationEventKind;
  /** Key IDs added or removed (for role-added/removed: the role's keys). */
  keyIds?: string[];
  threshold?: number;
  paths?: string[];
}


/** The events that turn `before`'s delegations into `after`'s (before undefined: a new role). */
export function delegationChanges(delegator: string, before: TargetsSigned | undefined, after: TargetsSigned): DelegationEvent[] {
  const base = { delegator, delegatorVersion: after.version };
  const old = new Map((before?.delegations?.roles ?? []).map((r) => [r.name, r]));
  const now = new Map((after.delegations?.roles ?? []).map((r) => [r.name, r]));
  const events: DelegationEvent[] = [];
  for (const [name, role] of old) {
    if (!now.has(name)) events.push({ ...base, role: name, kind: 'role-removed', keyIds: role.keyids, threshold: role.threshold, paths: role.paths });
  }
  for (const [name, role] of now) {
    const previous = old.get(name);
    if (!previous) {
      events.push({ ...base, role: name, kind: 'role-added', keyIds: role.keyids, threshold: role.threshold, paths: role.paths });
      continue;
    }
    const removed = previous.keyids.filter((id) => !role.keyids.includes(id));
    const added = role.keyids.filter((id) => !previous.keyids.includes(id));
    if (removed.length > 0) events.push({ ...base, role: name, kind: 'keys-removed', keyIds: removed });
    if (added.length > 0) events.push({ ...base, role: name, kind: 'keys-added', keyIds: added });
    if (previous.threshold !== role.threshold) events.push({ ...base, role: name, kind: 'threshold-changed', threshold: role.threshold });
    if (!samePaths(previous, role)) events.push({ ...base, role: name, kind: 'paths-changed', paths: role.paths });
  }
  return events;
}

function samePaths(a: DelegatedRoleInfo, b: DelegatedRoleInfo): boolean {
  return JSON.stringify(a.paths ?? []) === JSON.stringify(b.paths ?? []);
}
