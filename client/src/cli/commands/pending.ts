/** `tagtrust pending list|withdraw` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { publisher } from '../command.js';

export const pendingCommand: Command = {
  name: 'pending',
  usage: 'tagtrust pending list <gun> [--json]\n       tagtrust pending withdraw <gun> <id>',
  summary: 'list changes waiting for more signatures (tags each adds, moves and removes), or withdraw one',
  details: [
    'Each change is checked against the verified current state of its role. Approve one with',
    '`tagtrust approve <gun> <role>`; a stale or expired change can no longer be published (the server deletes it).',
    'withdraw: deletes a pending change; allowed to the token that proposed it and to admin tokens.',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: [2, 3],
  async run([action, gun, id], values, out) {
    if (action === 'withdraw') {
      if (id === undefined) throw new UsageError(`pending withdraw needs <gun> <id>; usage: ${pendingCommand.usage}`);
      const result = await (await publisher(values)).withdrawPending(gun!, id);
      if (values.json) return out.json(result);
      return out.print(`Withdrew pending change ${result.withdrawn} to ${result.role} v${result.version} of ${gun}`);
    }
    if (action !== 'list') throw new UsageError(`unknown pending action "${action}": use list or withdraw; usage: ${pendingCommand.usage}`);
    if (id !== undefined) throw new UsageError(`pending list takes only <gun>; usage: ${pendingCommand.usage}`);
    const { changeLines } = await import('../../pending.js');
    const views = await (await publisher(values)).listPending(gun!);
    if (values.json) return out.json(views);
    if (views.length === 0) return out.print(`No pending changes in ${gun}`);
    for (const view of views) {
      out.print(`${view.id}  ${view.role} v${view.version}  ${view.signedBy.length} of ${view.threshold} signatures  ${view.state}, expires ${view.expires}`);
      for (const line of changeLines(view)) out.print(`  ${line}`);
    }
  },
};
