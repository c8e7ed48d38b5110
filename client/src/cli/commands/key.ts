/** `tagtrust key rotate` and `tagtrust key generate` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command, Output } from '../command.js';
import { integerOption, publisher } from '../command.js';
import { KEY_GENERATE_USAGE, runKeyGenerate } from './key-generate.js';
import { KEY_MANAGE_ACTIONS, KEY_MANAGE_USAGE, runKeyManage } from './key-manage.js';

const ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
type Role = (typeof ROLES)[number];

export const keyCommand: Command = {
  name: 'key',
  usage: [`tagtrust key rotate <gun> root|targets|snapshot|timestamp [--out FILE] [--replace KEYID] [--root-threshold T] [--json]`, KEY_GENERATE_USAGE, ...KEY_MANAGE_USAGE].join('\n       '),
  summary: "rotate a key (root N+1 listing the new key), generate a delegation signer's key pair, or list, export, import, re-encrypt and remove keys",
  details: [
    'rotate:',
    'snapshot|timestamp: the server creates a new key and keeps signing with the old one until this root is',
    'published, then switches and destroys the old key (needs an admin token). root|targets: a new key is',
    'created in this home; targets are re-signed with it. --replace picks which root key to replace.',
    'With a root threshold above what this home holds, --out FILE writes a proposal for `tagtrust root sign`.',
    'generate:',
    'A signer key for delegations, kept encrypted in TAGTRUST_HOME/keys (passphrase from TAGTRUST_<NAME>_PASSPHRASE',
    'or a prompt); the public key goes to --out (default NAME.pub) for `tagtrust delegation add --key`.',
    'list, export, import, passwd, remove (local, no server needed):',
    'Keys stay encrypted when exported (stdout or --out FILE, 0600) and imported (a file, or - for stdin; JSON or',
    'base64); import asks for the key\'s passphrase to prove it. passwd re-encrypts a key under a new passphrase',
    '(TAGTRUST_NEW_PASSPHRASE or a prompt), e.g. after receiving a shared root key. In CI, put an exported key in',
    'the TAGTRUST_SIGNING_KEY secret and its passphrase in TAGTRUST_<ROLE>_PASSPHRASE: no key file is needed.',
  ].join('\n'),
  options: {
    out: { type: 'string' },
    replace: { type: 'string' },
    'root-threshold': { type: 'string' },
    name: { type: 'string' },
    'key-type': { type: 'string' },
    json: { type: 'boolean' },
    yes: { type: 'boolean' },
  },
  positionals: [1, 3],
  async run([action, gun, role], values, out) {
    if (action === 'generate') {
      if (gun !== undefined) throw new UsageError(`key generate takes no arguments; usage: ${KEY_GENERATE_USAGE}`);
      return runKeyGenerate(values, out);
    }
    if ((KEY_MANAGE_ACTIONS as readonly string[]).includes(action!)) {
      if (role !== undefined) throw new UsageError(`too many arguments; usage: ${keyCommand.usage}`);
      return runKeyManage(action as (typeof KEY_MANAGE_ACTIONS)[number], gun, values, out);
    }
    if (action !== 'rotate') throw new UsageError(`unknown key action "${action}"; usage: ${keyCommand.usage}`);
    if (gun === undefined || role === undefined) throw new UsageError(`key rotate needs a collection and a role; usage: ${keyCommand.usage}`);
    if (!ROLES.includes(role as Role)) throw new UsageError(`unknown role "${role}": choose root, targets, snapshot or timestamp`);
    const options = {
      replaceKeyId: values.replace as string | undefined,
      rootThreshold: integerOption(values['root-threshold'], '--root-threshold'),
    };
    const p = await publisher(values);
    if (values.out) {
      const result = await p.prepareRoot(gun!, values.out as string, { ...options, rotate: role as Role });
      if (values.json) return out.json(rootChangeJson(result));
      printChange(out, result);
      out.print(`Wrote root v${result.proposal.root.signed.version} proposal to ${values.out as string}: ${statusLine(result.status)}`);
      return;
    }
    const result = await p.rotateKey(gun!, role as Role, options);
    if (values.json) return out.json(rootChangeJson(result));
    printChange(out, result);
    const versions = Object.entries(result.published ?? {})
      .map(([r, v]) => `${r} v${v}`)
      .join(', ');
    out.print(`Rotated the ${role} key of ${result.proposal.gun}: published ${versions}`);
  },
};

/** What a root change did, for --json: the proposal's summary, not the whole signed root. */
export function rootChangeJson(result: {
  proposal: { gun: string; description: string; root: { signed: { version: number } } };
  changes?: string[];
  keyFiles?: string[];
  status?: unknown;
  added?: string[];
  published?: Record<string, number>;
}): unknown {
  const { proposal, ...rest } = result;
  return { gun: proposal.gun, rootVersion: proposal.root.signed.version, description: proposal.description, ...rest };
}

export function printChange(out: Output, result: { changes: string[]; keyFiles?: string[] }): void {
  for (const line of result.changes) out.print(`  ${line}`);
  for (const file of result.keyFiles ?? []) out.print(`  private key: ${file}`);
}

export function statusLine(status: { current: { signed: string[]; threshold: number }; proposed: { signed: string[]; threshold: number }; ready: boolean }): string {
  const part = (s: { signed: string[]; threshold: number }) => `${s.signed.length}/${s.threshold}`;
  return `signatures: current root keys ${part(status.current)}, new root keys ${part(status.proposed)}${status.ready ? ' (ready to publish)' : ''}`;
}
