/** `tagtrust unsign` */
import type { Command } from '../command.js';
import { publisher } from '../command.js';

export const unsignCommand: Command = {
  name: 'unsign',
  usage: 'tagtrust unsign <gun>:<tag> [--role targets/NAME] [--json]',
  summary: 'remove a signed tag',
  details: 'Pullers then get "not signed" for the tag.',
  options: { role: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 1,
  async run([reference], values, out) {
    const role = values.role as string | undefined;
    const result = await (await publisher(values, role ? undefined : reference)).unsign(reference!, role ? { role } : {});
    if (values.json) return out.json(result);
    out.print(`Removed ${result.reference} (${result.role} v${result.targetsVersion})`);
  },
};
