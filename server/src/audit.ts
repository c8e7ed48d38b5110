/**
 * What an audit record says about a publish: the tags it added, moved or removed, and the
 * publisher roles whose keys a new root replaced. Pure functions of old and new metadata.
 */
import { parseTargetName } from '@tagtrust/shared';
import type { RootSigned, TargetsSigned, TopLevelRoleName } from '@tagtrust/shared';
import type { TagChange } from './storage/store.js';

const digestOf = (info: TargetsSigned['targets'][string] | undefined) => (info?.hashes.sha256 ? `sha256:${info.hashes.sha256}` : undefined);

/** Tag changes from `before` to `after`, sorted by tag. Only names whose digest changed are parsed. */
export function tagChanges(gun: string, before: TargetsSigned | undefined, after: TargetsSigned): TagChange[] {
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
