/** `tagtrust delegation add|remove|list` */
import { UsageError } from '@tagtrust/shared/errors';
import type { DelegationChange } from '../../delegation-change.js';
import type { DelegationChangeResult } from '../../publisher.js';
import type { Command } from '../command.js';
import { publisher } from '../command.js';

const USAGE = [
  'tagtrust delegation add <gun> <role> [--key PUBFILE...] [--threshold N] [--paths PATTERN...] [--terminating] [--replace] [--lower-threshold] [--json]',
  '       tagtrust delegation remove <gun> <role> [--key KEYID [--lower-threshold]] [--json]',
  '       tagtrust delegation list <gun> [--json]',
].join('\n');

export const delegationCommand: Command = {
  name: 'delegation',
  usage: USAGE,
  summary: 'delegate tags to other signers (targets/<name> roles with keys, a threshold and path patterns)',
  details: [
    'add: PUBFILE is a public key written by `tagtrust key generate`; repeat --key and --paths. A pattern is a',
    'full reference glob (registry.example.com/team/app:dev-*) or a tag glob (dev-*) of this collection; * and ?',
    'match within one "/" segment. Signed with the delegator\'s key (targets, or the parent of a nested role).',
    'On a delegated role, add ADDS the keys and paths (as Notary does); --replace replaces them instead.',
    'remove: drops the role, or with --key only that signer key; tags it signed stop resolving at once.',
    'No change lowers a role\'s threshold without --lower-threshold. Every change is shown (before -> after)',
    'before it is published; --json prints it as {role, version, change: {before, after}}.',
  ].join('\n'),
  options: {
    key: { type: 'string', multiple: true },
    threshold: { type: 'string' },
    paths: { type: 'string', multiple: true },
    terminating: { type: 'boolean' },
    replace: { type: 'boolean' },
    'lower-threshold': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: [2, 3],
  async run([action, gun, role], values, out) {
    const p = await publisher(values);
    if (action === 'list') {
      if (role !== undefined) throw new UsageError(`delegation list takes only <gun>; usage: ${USAGE}`);
      const roles = await p.listDelegations(gun!);
      if (values.json) return out.json(roles);
      if (roles.length === 0) return out.print(`No delegations in ${gun}`);
      const bins = roles.filter((r) => r.bin !== undefined);
      if (bins.length > 0) {
        // Hashed bins share one delegation (succinct_roles): one summary line, not one per bin.
        const first = bins[0]!;
        const tags = bins.reduce((sum, r) => sum + r.tags, 0);
        const invalid = bins.filter((r) => r.state === 'invalid');
        out.print(`${first.role}..${bins[bins.length - 1]!.role}  ${bins.length} hashed bins (first ${first.bin!.bitLength} bits of sha256), threshold ${first.threshold} of ${first.keyIds.length}  (${tags} tag${tags === 1 ? '' : 's'})`);
        out.print(`  keys:  ${first.keyIds.map((id) => id.slice(0, 8)).join(' ')}`);
        for (const r of invalid) out.print(`  ${r.role} INVALID v${r.version}: ${r.problem}`);
      }
      for (const r of roles.filter((role) => role.bin === undefined)) {
        const state = r.state === 'trusted' ? `v${r.version}, ${r.tags} tag${r.tags === 1 ? '' : 's'}` : r.state === 'unpublished' ? 'nothing signed yet' : `INVALID v${r.version}: ${r.problem}`;
        out.print(`${r.role}  threshold ${r.threshold} of ${r.keyIds.length}${r.terminating ? ', terminating' : ''}  (${state})`);
        out.print(`  keys:  ${r.keyIds.map((id) => id.slice(0, 8)).join(' ')}`);
        out.print(r.pathHashPrefixes ? `  hash prefixes: ${r.pathHashPrefixes.join(' ')}` : `  paths: ${r.paths.join(' ')}`);
      }
      return;
    }
    if (role === undefined) throw new UsageError(`delegation ${action} needs <gun> <role>; usage: ${USAGE}`);
    const { describeDelegationChange } = await import('../../delegation-change.js');
    const show = values.json ? undefined : (change: DelegationChange) => describeDelegationChange(change, gun!).forEach((line) => out.print(line));
    const change = { show, lowerThreshold: values['lower-threshold'] === true };
    const report = (result: DelegationChangeResult, line: string) => {
      if (values.json) return out.json(result);
      out.print(result.pending ? `${line}; awaiting approvals (\`tagtrust pending list ${gun}\`)` : line);
    };
    if (action === 'add') {
      const keyFiles = (values.key as unknown as string[] | undefined) ?? [];
      const paths = (values.paths as unknown as string[] | undefined) ?? [];
      if (keyFiles.length === 0 && paths.length === 0 && values.threshold === undefined && values.terminating === undefined) {
        throw new UsageError('delegation add needs at least one --key PUBFILE, --paths PATTERN, --threshold N or --terminating');
      }
      if (values.threshold !== undefined && (!/^\d+$/.test(String(values.threshold)) || Number(values.threshold) < 1)) {
        throw new UsageError(`--threshold "${values.threshold}" must be a positive whole number`);
      }
      const { readPublicKeyFile } = await import('../../delegations.js');
      const keys = await Promise.all(keyFiles.map((file) => readPublicKeyFile(file)));
      const spec = { keys, paths, ...(values.threshold === undefined ? {} : { threshold: Number(values.threshold) }), ...(values.terminating ? { terminating: true } : {}) };
      const result = await p.addDelegation(gun!, role, spec, { ...change, replace: values.replace === true });
      const after = result.change.after!;
      return report(result, `Delegated ${role} in ${gun}: ${after.threshold} of ${after.keyIds.length} key${after.keyIds.length === 1 ? '' : 's'} (${result.role} v${result.version})`);
    }
    if (action === 'remove') {
      const keys = (values.key as unknown as string[] | undefined) ?? [];
      if (keys.length > 1) throw new UsageError('delegation remove --key takes one key ID');
      const result = keys[0] === undefined ? await p.removeDelegation(gun!, role, change) : await p.removeDelegationKey(gun!, role, keys[0], change);
      return report(result, keys[0] === undefined ? `Removed ${role} from ${gun} (${result.role} v${result.version})` : `Revoked key ${keys[0]} of ${role} in ${gun} (${result.role} v${result.version})`);
    }
    throw new UsageError(`unknown delegation action "${action}": use add, remove or list; usage: ${USAGE}`);
  },
};
