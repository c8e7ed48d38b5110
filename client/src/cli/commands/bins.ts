/** `tagtrust bins enable` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { publisher } from '../command.js';

const USAGE = 'tagtrust bins enable <gun> [--bins N] [--new-key]';

export const binsCommand: Command = {
  name: 'bins',
  usage: USAGE,
  summary: 'move a large collection to hashed bins, or re-bin it (each tag signing re-signs one small bin)',
  details: [
    'enable: delegates TUF succinct hashed bins (TAP 15) bins-<hex> by the first bits of the sha256 of the tag',
    'name, signed by one bin key in this home (passphrase TAGTRUST_BINS_PASSPHRASE; created unless this home',
    'holds the current one), and moves every tag into its bin in one atomic publish: every tag keeps resolving.',
    '--bins N (a power of two, 2 to 16384) sets the number of bins; the default aims at about 500 tags per bin',
    '(16 to 1024 bins). On a binned collection it re-bins every tag into the new layout. Afterwards',
    '`tagtrust sign` and `unsign` without --role re-sign only the tag\'s bin, and re-bin by themselves when a',
    'bin would pass 1,000 tags. Worth it from about 1,000 tags. --new-key re-signs every bin with a new bin key',
    '(after the bin key was exposed), keeping the layout unless --bins says otherwise.',
  ].join('\n'),
  options: { bins: { type: 'string' }, 'new-key': { type: 'boolean' } },
  positionals: 2,
  async run([action, gun], values, out) {
    if (action !== 'enable') throw new UsageError(`unknown bins action "${action}": use enable; usage: ${USAGE}`);
    const bins = values.bins === undefined ? undefined : Number(values.bins);
    if (values.bins !== undefined && !/^\d+$/.test(String(values.bins))) throw new UsageError(`--bins "${values.bins}" must be a power of two, e.g. 256`);
    const result = await (await publisher(values)).enableBins(gun!, { ...(bins === undefined ? {} : { bins }), ...(values['new-key'] ? { newKey: true } : {}) });
    out.print(`Moved ${result.moved} tag${result.moved === 1 ? '' : 's'} of ${gun} into ${result.bins} hashed bins (targets v${result.targetsVersion})`);
    out.print(`Bin key: ${result.keyId.slice(0, 8)}${result.keyFile ? ` (${result.keyFile})` : ''}`);
  },
};
