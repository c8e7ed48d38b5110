/** `tagtrust status`: the changes staged in this home (Notary's `status`). */
import type { Command } from '../command.js';
import type { StagedChange } from '../../staging/changelist.js';

export const statusCommand: Command = {
  name: 'status',
  usage: 'tagtrust status [<gun>] [--json]',
  summary: 'show the tag changes staged in this home (sign/unsign --stage), not yet published',
  details: `Reads this home only (no server). Without <gun>, every collection with staged changes.
Changes other signers must approve on the server: \`tagtrust pending list <gun>\`.
--json prints {collections: [{gun, changes: [{id, action, tag, digest?, size?, mediaType?, role?, staged}]}]}.`,
  options: { json: { type: 'boolean' } },
  positionals: [0, 1],
  async run([gunInput], values, out) {
    const [{ readAllChangelists, readChangelist }, { resolveHome }, { parseGun }] = await Promise.all([
      import('../../staging/changelist.js'),
      import('../../options.js'),
      import('../lazy.js'),
    ]);
    const home = resolveHome(values.home as string | undefined);
    const collections = gunInput === undefined ? await readAllChangelists(home) : [{ gun: parseGun(gunInput), changes: await readChangelist(home, gunInput) }];
    if (values.json) return out.json({ collections });
    const staged = collections.filter((c) => c.changes.length > 0);
    if (staged.length === 0) {
      out.print(`No staged changes${gunInput === undefined ? '' : ` for ${collections[0]!.gun}`}.`);
      return;
    }
    for (const { gun, changes } of staged) {
      out.print(`${gun}: ${changes.length} staged change${changes.length === 1 ? '' : 's'}, publish with \`tagtrust publish ${gun}\`, drop with \`tagtrust reset ${gun}\``);
      for (const change of changes) out.print(`  ${describe(change)}`);
    }
  },
};

function describe(change: StagedChange): string {
  const role = change.role ? ` [${change.role}]` : '';
  if (change.action === 'unsign') return `unsign ${change.tag}${role}`;
  return `sign   ${change.tag} -> ${change.digest} (${change.size} bytes)${role}`;
}
