/** `tagtrust policy set|show` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { publisher } from '../command.js';

const USAGE = 'tagtrust policy set <gun> --immutable PATTERN [--immutable PATTERN ...] | tagtrust policy show <gun>';

export const policyCommand: Command = {
  name: 'policy',
  usage: USAGE,
  summary: "set or show a collection's signed immutability policy (tags that never move once signed)",
  details: [
    'set: signs the tag patterns (e.g. --immutable \'v*.*.*\'; "*" any characters, "?" one) into the top-level',
    'targets. Once signed, a tag they cover is never moved or removed: the server refuses the publish and',
    'every puller refuses metadata that moves a tag it has seen. Adding patterns needs the targets key;',
    'dropping any needs the root keys (a new root approves the weaker policy). show: the verified policy.',
    'See docs/immutability.md.',
  ].join('\n'),
  options: { immutable: { type: 'string', multiple: true } },
  positionals: 2,
  async run([action, gun], values, out) {
    const p = await publisher(values);
    if (action === 'show') {
      const patterns = await p.immutablePolicy(gun!);
      return out.print(patterns.length === 0 ? `${gun} has no immutable tags` : `Immutable tags of ${gun}: ${patterns.join(' ')}`);
    }
    if (action !== 'set') throw new UsageError(`unknown policy action "${action}": use set or show; usage: ${USAGE}`);
    const patterns = (values.immutable as string[] | undefined) ?? [];
    const result = await p.setImmutablePolicy(gun!, patterns);
    const rootNote = result.rootVersion === undefined ? '' : `, root v${result.rootVersion} approves dropping ${result.dropped.join(' ')}`;
    out.print(`Immutable tags of ${gun}: ${result.immutable.join(' ') || '(none)'} (targets v${result.targetsVersion}${rootNote})`);
  },
};
