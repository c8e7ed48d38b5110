/** `tagtrust root prepare|sign|publish`: change a root whose threshold needs several key holders. */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { integerOption, publisher } from '../command.js';
import { printChange, statusLine, rootChangeJson } from './key.js';

export const rootCommand: Command = {
  name: 'root',
  usage: 'tagtrust root prepare <gun> --out FILE [--rotate ROLE] [--replace KEYID] [--root-threshold T] [--immutable PATTERN ... | --no-immutable] | root sign FILE | root publish FILE  [--json]',
  summary: 'multi-holder root changes: prepare root N+1 as a file, add signatures, publish at the threshold',
  details: [
    'prepare: writes root N+1 (renewed expiry; optionally a rotated key or a new threshold) signed by the',
    '         root keys this home holds. --immutable PATTERN (repeatable) or --no-immutable: root N+1 approves',
    '         this immutability policy, which may drop patterns, and the proposal carries the targets re-signed',
    '         with it (needs this home\'s targets key). The way to weaken a policy when the root threshold is',
    '         spread over several machines (docs/immutability.md).',
    'sign:    adds signatures by this home\'s root keys (current or new) after checking the file replaces the',
    '         current root; prints what the root changes.',
    'publish: sends it once it is signed by the current root\'s threshold and its own.',
  ].join('\n'),
  options: {
    out: { type: 'string' },
    rotate: { type: 'string' },
    replace: { type: 'string' },
    'root-threshold': { type: 'string' },
    immutable: { type: 'string', multiple: true },
    'no-immutable': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: 2,
  async run([action, target], values, out) {
    const p = await publisher(values);
    switch (action) {
      case 'prepare': {
        if (!values.out) throw new UsageError('root prepare needs --out FILE');
        const rotate = values.rotate as 'root' | 'targets' | 'snapshot' | 'timestamp' | undefined;
        const result = await p.prepareRoot(target!, values.out as string, {
          rotate,
          immutable: immutableOption(values.immutable as string[] | undefined, values['no-immutable'] === true),
          replaceKeyId: values.replace as string | undefined,
          rootThreshold: integerOption(values['root-threshold'], '--root-threshold'),
        });
        if (values.json) return out.json(rootChangeJson(result));
        printChange(out, result);
        out.print(`Wrote root v${result.proposal.root.signed.version} proposal to ${values.out as string}: ${statusLine(result.status)}`);
        return;
      }
      case 'sign': {
        const result = await p.signRootProposal(target!);
        if (values.json) return out.json(rootChangeJson(result));
        out.print(`Root v${result.proposal.root.signed.version} of ${result.proposal.gun}: ${result.proposal.description}`);
        printChange(out, result);
        out.print(`Added signatures by ${result.added.map((id) => id.slice(0, 8)).join(', ')}; ${statusLine(result.status)}`);
        return;
      }
      case 'publish': {
        const result = await p.publishRootProposal(target!);
        if (values.json) return out.json(rootChangeJson(result));
        const versions = Object.entries(result.published ?? {})
          .map(([r, v]) => `${r} v${v}`)
          .join(', ');
        out.print(`Published root v${result.proposal.root.signed.version} of ${result.proposal.gun}: ${versions}`);
        return;
      }
      default:
        throw new UsageError(`unknown root action "${action}"; usage: ${rootCommand.usage}`);
    }
  },
};

/** The policy `root prepare` approves: the given patterns, none (`--no-immutable`), or no change. */
function immutableOption(patterns: string[] | undefined, none: boolean): string[] | undefined {
  if (none && patterns) throw new UsageError('give either --immutable PATTERN or --no-immutable, not both');
  return none ? [] : patterns;
}
