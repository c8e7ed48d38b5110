/**
 * What an audit record says about a publish: the tags it added, moved or removed (with the role that
 * signed each change and its keys), and the publisher roles whose keys a new root replaced. Pure
 * functions of old and new metadata.
 */
import { parseTargetName } from '@tagtrust/shared';
import type { RootSigned, TargetsSigned, TopLevelRoleName } from '@tagtrust/shared';
import type { TagChange } from './storage/store.js';

const digestOf = (info: TargetsSigned['targets'][string] | undefined) => (info?.hashes.sha256 ? `sha256:${info.hashes.sha256}` : undefined);

/**
 * The last result of `tagChanges` per `after` object: a publish derives the changes of a role for
 * its log (tag-log/role-changes.ts) and for its audit record from the same two objects, and walks
 * every entry of the role only once.
 */
const lastChanges = new WeakMap<TargetsSigned, { gun: string; before: TargetsSigned | undefined; changes: readonly TagChange[] }>();

/**
 * Tag changes from `before` to `after`, sorted by tag (shared: do not modify). Only names whose
 * digest changed are parsed.
 */
export function tagChanges(gun: string, before: TargetsSigned | undefined, after: TargetsSigned): readonly TagChange[] {
  const last = lastChanges.get(after);
  if (last && last.gun === gun && last.before === before) return last.changes;
  const changes = computeTagChanges(gun, before, after);
  lastChanges.set(after, { gun, before, changes });
  return changes;
}

function computeTagChanges(gun: string, before: TargetsSigned | undefined, after: TargetsSigned): TagChange[] {
  const changes: TagChange[] = [];
  const old = before?.targets ?? {};
  const record = (name: string, from: string | undefined, to: string | undefined) => {
    const parsed = parseTargetName(name);
    if (!parsed || parsed.gun !== gun) return;
    if (!from) changes.push({ tag: parsed.tag, change: 'added', to });
    else if (!to) changes.push({ tag: parsed.tag, change: 'removed', from });
    else changes.push({ tag: parsed.tag, change: 'moved', from, to });
  };
  for (const name of Object.keys(after.targets)) {
    const info = after.targets[name];
    const before = Object.hasOwn(old, name) ? old[name] : undefined;
    if (before !== undefined && before.hashes.sha256 === info?.hashes.sha256) continue; // same digest, no string built
    const from = digestOf(before);
    const to = digestOf(info);
    if (from !== to) record(name, from, to);
  }
  for (const name of Object.keys(old)) {
    if (Object.hasOwn(after.targets, name)) continue;
    const from = digestOf(old[name]);
    if (from !== undefined) record(name, from, undefined);
  }
  return changes.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}

/** A targets role a publish changes: its metadata before and after, and the keys that signed it. */
export interface SignedRoleChange {
  role: string;
  before: TargetsSigned | undefined;
  after: TargetsSigned;
  /** Key IDs whose signatures made the role's threshold. */
  signedBy: string[];
}

export interface PublishedRoles {
  /** The top-level targets before the publish (undefined for a new collection). */
  targetsBefore: TargetsSigned | undefined;
  /** The new top-level targets, when the publish carries them. */
  targets?: SignedRoleChange;
  /** Hashed bins the publish carries. */
  bins: SignedRoleChange[];
  /** Explicitly delegated roles the publish carries. */
  delegated: SignedRoleChange[];
}

/**
 * Every tag change of a publish, whichever role signed it, each with that role and its keys; sorted
 * by tag, then role. Hashed bins hold what the top-level targets held: their changes are over
 * targets and the bins together, so moving tags into bins records none (the top-level targets wins
 * where both sign a name, as in lookups). Undefined when the publish changes no targets role.
 */
export function publishTagChanges(gun: string, published: PublishedRoles): TagChange[] | undefined {
  const { targetsBefore, targets, bins, delegated } = published;
  if (!targets && bins.length === 0 && delegated.length === 0) return undefined;
  const changes: TagChange[] = [];
  const signer = (role: SignedRoleChange) => ({ role: role.role, keyIds: role.signedBy });
  if (bins.length > 0) {
    const topBefore = targetsBefore;
    const topAfter = targets?.after ?? targetsBefore;
    const merge = (top: TargetsSigned | undefined, parts: (TargetsSigned | undefined)[]): TargetsSigned => ({
      ...(top ?? targets!.after),
      targets: Object.assign({}, ...parts.map((p) => p?.targets ?? {}), top?.targets ?? {}),
    });
    const merged = tagChanges(gun, merge(topBefore, bins.map((b) => b.before)), merge(topAfter, bins.map((b) => b.after)));
    for (const change of merged) {
      const name = `${gun}:${change.tag}`;
      const inTop = targets && (Object.hasOwn(targets.after.targets, name) || Object.hasOwn(topBefore?.targets ?? {}, name));
      const bin = bins.find((b) => Object.hasOwn(b.after.targets, name) || Object.hasOwn(b.before?.targets ?? {}, name));
      const role = inTop ? targets : bin;
      changes.push(role ? { ...change, ...signer(role) } : change);
    }
  } else if (targets) {
    changes.push(...tagChanges(gun, targetsBefore, targets.after).map((change) => ({ ...change, ...signer(targets) })));
  }
  for (const role of delegated) changes.push(...tagChanges(gun, role.before, role.after).map((change) => ({ ...change, ...signer(role) })));
  return changes.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : (a.role ?? '') < (b.role ?? '') ? -1 : 1));
}

/** Role -> its new key IDs, for every role whose keys or threshold differ between two roots. */
export function rootKeyChanges(before: RootSigned | undefined, after: RootSigned): Record<string, string[]> | undefined {
  if (!before) return undefined;
  const changes: Record<string, string[]> = {};
  for (const role of Object.keys(after.roles) as TopLevelRoleName[]) {
    const a = before.roles[role];
    const b = after.roles[role];
    const same = a && a.threshold === b.threshold && a.keyids.length === b.keyids.length && a.keyids.every((id) => b.keyids.includes(id));
    if (!same) changes[role] = [...b.keyids];
  }
  return Object.keys(changes).length > 0 ? changes : undefined;
}
