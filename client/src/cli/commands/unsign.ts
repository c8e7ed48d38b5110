/** `tagtrust unsign` */
import type { Command } from '../command.js';
import { publisher } from '../command.js';

export const unsignCommand: Command = {
  name: 'unsign',
  usage: 'tagtrust unsign <gun>:<tag> [--role targets/NAME] [--stage] [--json]',
  summary: 'remove a signed tag',
  details: `Pullers then get "not signed" for the tag.
--stage records the removal in this home only (no server, no key), for \`tagtrust publish <gun>\`.`,
  options: { role: { type: 'string' }, stage: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: 1,
  async run([reference], values, out) {
    const role = values.role as string | undefined;
    if (values.stage) {
      const [{ parseTaggedReference }, { stageChanges }, { resolveHome }] = await Promise.all([import('../lazy.js'), import('../../staging/changelist.js'), import('../../options.js')]);
      const { gun, tag } = parseTaggedReference(reference!);
      const staged = await stageChanges(resolveHome(values.home as string | undefined), gun, [{ action: 'unsign', tag, ...(role ? { role } : {}) }]);
      if (values.json) return out.json({ gun, staged: [{ reference: `${gun}:${tag}`, action: 'unsign' }], total: staged.length });
      out.print(`Staged removal of ${gun}:${tag}`);
      out.print(`${gun} has ${staged.length} staged change${staged.length === 1 ? '' : 's'}: publish with \`tagtrust publish ${gun}\``);
      return;
    }
    const result = await (await publisher(values, role ? undefined : reference)).unsign(reference!, role ? { role } : {});
    if (values.json) return out.json(result);
    out.print(`Removed ${result.reference} (${result.role} v${result.targetsVersion})`);
  },
};
