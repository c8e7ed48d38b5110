/** `tagtrust history` */
import type { Command } from '../command.js';
import { clientOptions } from '../command.js';

export const historyCommand: Command = {
  name: 'history',
  usage: 'tagtrust history <gun>[:<tag>] [--json] | tagtrust history <gun>:<tag> --verify',
  summary: "show a collection's audit trail: who published, moved or removed what, and key rotations",
  details: 'One line per accepted change: sequence, time, token name, and what changed; each tag change names the\nrole that signed it (targets, a delegated role or a hashed bin) and its keys. With :<tag>, only that\ntag\'s changes. This is the server\'s record; `tagtrust resolve` verifies what is signed now.',
  options: { json: { type: 'boolean' }, verify: { type: 'boolean' } },
  positionals: 1,
  async run([reference], values, out) {
    if (values.verify) {
      // From the tag transparency log, each change proved under the signed head (docs/immutability.md).
      const { verifyTagHistory } = await import('../../audit/log-audit.js');
      const changes = await verifyTagHistory(reference!, await clientOptions(values));
      if (values.json) return out.json(changes);
      if (changes.length === 0) return out.print(`No logged changes for ${reference}`);
      for (const c of changes) out.print(`${String(c.index).padStart(6)}  ${c.time}  ${c.role} v${c.version}  ${c.digest ?? 'removed'}  proved in ${c.provedIn}`);
      return;
    }
    const { readHistory } = await import('../../history.js');
    const records = await readHistory(reference!, await clientOptions(values));
    if (values.json) return out.json(records);
    if (records.length === 0) return out.print(`No recorded changes for ${reference}`);
    for (const r of records) {
      const versions = Object.entries(r.versions ?? {})
        .map(([role, v]) => `${role} v${v}`)
        .join(', ');
      const parts: string[] = [r.action + (versions ? ` ${versions}` : '')];
      for (const t of r.tags ?? []) {
        const by = t.role === undefined ? '' : ` by ${t.role}${t.keyIds?.length ? ` (${t.keyIds.map((id) => id.slice(0, 8)).join(',')})` : ''}`;
        parts.push((t.change === 'added' ? `${t.tag} added ${t.to}` : t.change === 'removed' ? `${t.tag} removed (was ${t.from})` : `${t.tag} moved ${t.from} -> ${t.to}`) + by);
      }
      for (const [role, ids] of Object.entries(r.rootKeyChanges ?? {})) parts.push(`${role} keys now ${ids.map((id) => id.slice(0, 8)).join(',')}`);
      for (const [role, id] of Object.entries(r.keys?.pending ?? {})) parts.push(`new pending ${role} key ${id.slice(0, 8)}`);
      for (const [role, id] of Object.entries(r.keys?.activated ?? {})) parts.push(`${role} key ${id.slice(0, 8)} active`);
      for (const d of r.delegations ?? []) {
        const keys = d.keyIds ? ` keys ${d.keyIds.map((id) => id.slice(0, 8)).join(',')}` : '';
        parts.push(`${d.delegator} v${d.delegatorVersion}: ${d.role} ${d.kind}${keys}`);
      }
      if (r.policy) parts.push(`immutable tags ${r.policy.from.join(' ') || '(none)'} -> ${r.policy.to.join(' ') || '(none)'}`);
      if (r.refusal) parts.push(`${r.refusal.code}: ${r.refusal.message}`);
      out.print(`${String(r.seq).padStart(4)}  ${r.time}  ${r.actor}  ${parts.join('; ')}`);
    }
  },
};
