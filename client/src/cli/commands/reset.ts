/** `tagtrust reset`: drop staged changes (Notary's `reset`). */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';

export const resetCommand: Command = {
  name: 'reset',
  usage: 'tagtrust reset <gun> (--tag TAG... | --all) [--json]',
  summary: 'drop tag changes staged in this home',
  details: `--tag drops the staged change of that tag (repeatable); --all drops every staged change of the collection.
Nothing is published or contacted. --json prints {gun, dropped: [changes]}.`,
  options: { tag: { type: 'string', multiple: true }, all: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: 1,
  async run([gunInput], values, out) {
    const tags = values.tag as unknown as string[] | undefined;
    if ((tags === undefined) === (values.all === undefined)) throw new UsageError('give --tag TAG (repeatable) or --all');
    const [{ dropChanges }, { resolveHome }, { parseGun }] = await Promise.all([import('../../staging/changelist.js'), import('../../options.js'), import('../lazy.js')]);
    const gun = parseGun(gunInput!);
    const dropped = await dropChanges(resolveHome(values.home as string | undefined), gun, tags ? { tags } : { all: true });
    if (values.json) return out.json({ gun, dropped });
    out.print(`Dropped ${dropped.length} staged change${dropped.length === 1 ? '' : 's'} of ${gun}${dropped.length > 0 ? `: ${dropped.map((c) => c.tag).join(', ')}` : ''}`);
  },
};
