/** `tagtrust list` */
import type { Command } from '../command.js';
import { PULL_HELP, PULL_OPTIONS, puller } from '../command.js';

export const listCommand: Command = {
  name: 'list',
  usage: 'tagtrust list <gun> [--json] [--root-file FILE] [--no-tofu] [--max-age DURATION] [--mirror URL]...',
  summary: 'list the signed tags of a collection (verified)',
  details: `Prints TAG, DIGEST, SIZE and SIGNED BY; --json prints an array of {tag, reference, digest, size, mediaType, signedBy, keyIds}:
signedBy is the role whose signature a lookup finds (targets, a delegated role such as targets/ci, or a hashed
bin), keyIds the keys whose signatures on that role made its threshold.
${PULL_HELP}`,
  options: PULL_OPTIONS,
  positionals: 1,
  async run([gun], values, out) {
    const tags = await (await puller(values)).list(gun!);
    if (values.json) return out.json(tags);
    if (tags.length === 0) return out.print(`No signed tags in ${gun}`);
    const width = Math.max(3, ...tags.map((t) => t.tag.length));
    const sizeWidth = Math.max(4, ...tags.map((t) => String(t.size).length));
    out.print(`${'TAG'.padEnd(width)}  ${'DIGEST'.padEnd(71)}  ${'SIZE'.padEnd(sizeWidth)}  SIGNED BY`);
    for (const t of tags) out.print(`${t.tag.padEnd(width)}  ${t.digest}  ${String(t.size).padEnd(sizeWidth)}  ${t.signedBy}`);
  },
};
