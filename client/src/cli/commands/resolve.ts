/** `tagtrust resolve` */
import type { Command } from '../command.js';
import { puller } from '../command.js';

export const resolveCommand: Command = {
  name: 'resolve',
  usage: 'tagtrust resolve <gun>:<tag>[@sha256:<hex>] [--json] [--root-file FILE]',
  summary: 'print the verified digest a tag is signed for, as <gun>@sha256:<hex>',
  details: 'Verifies root -> timestamp -> snapshot -> targets. The first contact with a collection trusts the\nserved root (said on stderr) unless --root-file gives the root to trust.',
  options: { json: { type: 'boolean' }, 'root-file': { type: 'string' } },
  positionals: 1,
  async run([reference], values, out) {
    const resolution = await (await puller(values)).resolve(reference!);
    if (values.json) return out.json(resolution);
    out.print(resolution.pinned);
  },
};
