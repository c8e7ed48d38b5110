/** `tagtrust resolve` */
import type { Command } from '../command.js';
import { PULL_HELP, PULL_OPTIONS, puller } from '../command.js';

export const resolveCommand: Command = {
  name: 'resolve',
  usage: 'tagtrust resolve <gun>:<tag>[@sha256:<hex>] [--json] [--root-file FILE] [--no-tofu] [--max-age DURATION] [--mirror URL]...',
  summary: 'print the verified digest a tag is signed for, as <gun>@sha256:<hex>',
  details: `Verifies root -> timestamp -> snapshot -> targets. The first contact with a collection trusts the
served root (said on stderr) unless it is pinned (\`tagtrust trust pin\`) or --root-file gives the root.
${PULL_HELP}`,
  options: PULL_OPTIONS,
  positionals: 1,
  async run([reference], values, out) {
    const resolution = await (await puller(values)).resolve(reference!);
    if (values.json) return out.json(resolution);
    out.print(resolution.pinned);
  },
};
