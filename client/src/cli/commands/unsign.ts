/** `tagtrust unsign` */
import type { Command } from '../command.js';
import { publisher } from '../command.js';

export const unsignCommand: Command = {
  name: 'unsign',
  usage: 'tagtrust unsign <gun>:<tag>',
  summary: 'remove a signed tag',
  details: 'Pullers then get "not signed" for the tag.',
  options: {},
  positionals: 1,
  async run([reference], values, out) {
    const result = await (await publisher(values)).unsign(reference!);
    out.print(`Removed ${result.reference} (targets v${result.targetsVersion})`);
  },
};
