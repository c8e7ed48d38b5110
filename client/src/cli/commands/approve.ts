/** `tagtrust approve` */
import type { Command } from '../command.js';
import { publisher } from '../command.js';

export const approveCommand: Command = {
  name: 'approve',
  usage: 'tagtrust approve <gun> <role> [--id ID] [--json]',
  summary: 'verify a pending change of a role, show what it changes, and add your signature',
  details: 'Signs with this home\'s key for the role (passphrase from TAGTRUST_<KEYNAME>_PASSPHRASE or a prompt).\nThe server publishes the change atomically once the role\'s threshold is met.',
  options: { id: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 2,
  async run([gun, role], values, out) {
    const { changeLines } = await import('../../pending.js');
    const result = await (await publisher(values)).approve(gun!, role!, {
      ...(values.id ? { id: values.id as string } : {}),
      review: (view) => {
        if (values.json) return;
        out.print(`Pending change ${view.id} to ${view.role} v${view.version}:`);
        for (const line of changeLines(view)) out.print(`  ${line}`);
      },
    });
    if (values.json) return out.json(result);
    out.print(
      result.published
        ? `Approved: ${result.threshold} of ${result.threshold} signatures, published ${role} v${result.view.version}`
        : `Approved: ${result.signedBy.length} of ${result.threshold} signatures; waiting for ${result.threshold - result.signedBy.length} more`,
    );
  },
};
