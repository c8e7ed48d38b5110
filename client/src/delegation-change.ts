/**
 * What a delegation change does to one role, before -> after, so `tagtrust delegation add|remove`
 * can show it before it is published (and report it with --json).
 */
import type { TargetsSigned } from '@tagtrust/shared';

/** A delegated role as its delegator lists it. */
export interface DelegatedRoleState {
  keyIds: string[];
  threshold: number;
  paths: string[];
  terminating: boolean;
}

export interface DelegationChange {
  role: string;
  /** Absent when the change creates the role. */
  before?: DelegatedRoleState;
  /** Absent when the change removes the role. */
  after?: DelegatedRoleState;
}

function roleState(signed: TargetsSigned, role: string): DelegatedRoleState | undefined {
  const info = signed.delegations?.roles?.find((r) => r.name === role);
  if (!info) return undefined;
  return { keyIds: [...info.keyids], threshold: info.threshold, paths: [...(info.paths ?? info.path_hash_prefixes ?? [])], terminating: info.terminating };
}

/** The change of `role` between two versions of its delegator's metadata. */
export function delegationChange(before: TargetsSigned, after: TargetsSigned, role: string): DelegationChange {
  const was = roleState(before, role);
  const is = roleState(after, role);
  return { role, ...(was ? { before: was } : {}), ...(is ? { after: is } : {}) };
}

/** Lines showing the change: each property before -> after (key IDs shortened to 8 characters). */
export function describeDelegationChange(change: DelegationChange, gun: string): string[] {
  const { before, after } = change;
  const keys = (state?: DelegatedRoleState) => (state ? state.keyIds.map((id) => id.slice(0, 8)).join(' ') : '(none)');
  const paths = (state?: DelegatedRoleState) => (state ? state.paths.join(' ') : '(none)');
  const threshold = (state?: DelegatedRoleState) => (state ? `${state.threshold} of ${state.keyIds.length}` : '(none)');
  const lines = [`${change.role} in ${gun}: ${!before ? 'new role' : !after ? 'removed' : 'changed'}`];
  const row = (label: string, from: string, to: string) => lines.push(`  ${label.padEnd(10)} ${from === to ? `${to} (unchanged)` : `${from} -> ${to}`}`);
  row('keys:', keys(before), keys(after));
  row('threshold:', threshold(before), threshold(after));
  row('paths:', paths(before), paths(after));
  if (before && after && before.terminating !== after.terminating) row('terminating:', String(before.terminating), String(after.terminating));
  return lines;
}
