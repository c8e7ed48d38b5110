/**
 * What a pending change does, for the signers who approve it: the tags it adds, moves and removes
 * and the delegations it changes, computed against the verified current state of the role.
 */
import type { PendingStatus, TargetsSigned } from '@tagtrust/shared';

export interface TagChange {
  kind: 'add' | 'move' | 'remove';
  reference: string;
  /** Digest before (move, remove). */
  from?: string;
  /** Digest after (add, move). */
  to?: string;
}

export interface PendingView {
  id: string;
  role: string;
  /** The version it publishes. */
  version: number;
  state: PendingStatus['state'];
  signedBy: string[];
  threshold: number;
  expires: string;
  tags: TagChange[];
  /** One line per delegation change (`+ targets/ci ...`, `- targets/x`). */
  delegations: string[];
}

const digest = (info: { hashes: Record<string, string> } | undefined) => (info?.hashes.sha256 ? `sha256:${info.hashes.sha256}` : undefined);

/** The tag and delegation changes from `current` to `proposed`. */
export function describeChange(current: TargetsSigned, proposed: TargetsSigned): { tags: TagChange[]; delegations: string[] } {
  const tags: TagChange[] = [];
  const names = [...new Set([...Object.keys(current.targets), ...Object.keys(proposed.targets)])].sort();
  for (const name of names) {
    const before = current.targets[name];
    const after = proposed.targets[name];
    if (!before && after) tags.push({ kind: 'add', reference: name, to: digest(after)! });
    else if (before && !after) tags.push({ kind: 'remove', reference: name, from: digest(before)! });
    else if (before && after && JSON.stringify(before) !== JSON.stringify(after)) {
      tags.push({ kind: 'move', reference: name, from: digest(before)!, to: digest(after)! });
    }
  }
  const delegations: string[] = [];
  const old = new Map((current.delegations?.roles ?? []).map((r) => [r.name, r]));
  const now = new Map((proposed.delegations?.roles ?? []).map((r) => [r.name, r]));
  const describe = (r: { threshold: number; keyids: string[]; paths?: string[] }) =>
    `${r.threshold} of ${r.keyids.map((k) => k.slice(0, 8)).join(',')} for ${(r.paths ?? []).join(' ')}`;
  for (const name of old.keys()) if (!now.has(name)) delegations.push(`- ${name}`);
  for (const [name, r] of now) {
    const before = old.get(name);
    if (!before) delegations.push(`+ ${name}: ${describe(r)}`);
    else if (JSON.stringify(before) !== JSON.stringify(r)) delegations.push(`~ ${name}: ${describe(before)} -> ${describe(r)}`);
  }
  return { tags, delegations };
}

/** Human-readable lines for a change: `+ ref -> digest`, `~ ref: old -> new`, `- ref (was digest)`. */
export function changeLines(view: Pick<PendingView, 'tags' | 'delegations'>): string[] {
  const lines = view.tags.map((c) =>
    c.kind === 'add' ? `+ ${c.reference} -> ${c.to}` : c.kind === 'move' ? `~ ${c.reference}: ${c.from} -> ${c.to}` : `- ${c.reference} (was ${c.from})`,
  );
  return [...lines, ...view.delegations.map((line) => `${line} (delegation)`)];
}
