/** `tagtrust bins enable` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { publisher } from '../command.js';

const USAGE = 'tagtrust bins enable <gun> [--bins 16|256]';

export const binsCommand: Command = {
  name: 'bins',
  usage: USAGE,
  summary: 'move a large collection to hashed bins (each tag signing re-signs one small bin)',
  details: [
    'enable: creates one bin key in this home (passphrase TAGTRUST_BINS_PASSPHRASE), delegates the bins',
    'targets/bin-<prefix> by sha256 prefix of the tag name (16 or 256 bins, default 256), and moves every tag',
    'the top-level targets signs into its bin, in one atomic publish: every tag keeps resolving. Afterwards',
    '`tagtrust sign` and `unsign` without --role re-sign only the tag\'s bin. Worth it from about 1,000 tags.',
  ].join('\n'),
  options: { bins: { type: 'string' } },
  positionals: 2,
  async run([action, gun], values, out) {
    if (action !== 'enable') throw new UsageError(`unknown bins action "${action}": use enable; usage: ${USAGE}`);
    const bins = values.bins === undefined ? undefined : Number(values.bins);
    if (values.bins !== undefined && !/^\d+$/.test(String(values.bins))) throw new UsageError(`--bins "${values.bins}" must be 16 or 256`);
    const result = await (await publisher(values)).enableBins(gun!, bins === undefined ? {} : { bins });
    out.print(`Moved ${result.moved} tag${result.moved === 1 ? '' : 's'} of ${gun} into ${result.bins} hashed bins (targets v${result.targetsVersion})`);
    out.print(`Bin key: ${result.keyId.slice(0, 8)}${result.keyFile ? ` (${result.keyFile})` : ''}`);
  },
};
