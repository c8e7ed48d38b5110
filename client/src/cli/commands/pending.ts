/** `tagtrust pending list` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { publisher } from '../command.js';

export const pendingCommand: Command = {
  name: 'pending',
  usage: 'tagtrust pending list <gun> [--json]',
  summary: 'list changes waiting for more signatures, with the tags each adds, moves and removes',
  details: 'Each change is checked against the verified current state of its role. Approve one with\n`tagtrust approve <gun> <role>`; a stale or expired change can no longer be published.',
  options: { json: { type: 'boolean' } },
  positionals: 2,
  async run([action, gun], values, out) {
    if (action !== 'list') throw new UsageError(`unknown pending action "${action}"; usage: ${pendingCommand.usage}`);
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
