/**
 * `tagtrust key list|export|import|passwd|remove`: the encrypted keys of this home as files that
 * travel (backups, other machines, CI secrets). Purely local: no server URL is needed.
 * Dispatched from `tagtrust key` (commands/key.ts).
 */
import { UsageError } from '@tagtrust/shared/errors';
import type { Output, Values } from '../command.js';

export const KEY_MANAGE_USAGE = [
  'tagtrust key list [--json]',
  'tagtrust key export <keyid> [--out FILE]',
  'tagtrust key import <FILE|->',
  'tagtrust key passwd <keyid>',
  'tagtrust key remove <keyid> --yes',
];

export const KEY_MANAGE_ACTIONS = ['list', 'export', 'import', 'passwd', 'remove'] as const;
type Action = (typeof KEY_MANAGE_ACTIONS)[number];

const warn = (message: string) => process.stderr.write(`tagtrust: ${message}\n`);

async function home(values: Values): Promise<string> {
  const { resolveHome } = await import('../../options.js');
  return resolveHome(values.home as string | undefined);
}

export async function runKeyManage(action: Action, arg: string | undefined, values: Values, out: Output): Promise<void> {
  const usage = KEY_MANAGE_USAGE[KEY_MANAGE_ACTIONS.indexOf(action)]!;
  if ((action === 'list') !== (arg === undefined)) throw new UsageError(`wrong number of arguments; usage: ${usage}`);
  const dir = await home(values);
  const admin = await import('../../key-admin.js');
  const files = await import('../../key-files.js');
  switch (action) {
    case 'list': {
      const keys = await files.listKeys(dir, warn);
      if (values.json) return out.json(keys);
      if (keys.length === 0) return out.print(`No keys in ${dir}/keys`);
      const rows = keys.map((k) => [k.gun ?? '-', k.name ? `signer ${k.name}` : (k.role ?? '-'), k.keyId.slice(0, 16), k.keytype, `${k.file}${k.exposed ? ' (readable by others!)' : ''}`]);
      const header = ['COLLECTION', 'ROLE', 'KEY ID', 'TYPE', 'FILE'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const row of [header, ...rows]) out.print(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
      return;
    }
    case 'export': {
      const text = await admin.exportKey(dir, arg!);
      if (values.out === undefined) return process.stdout.write(text) as unknown as void;
      const { writeFile } = await import('node:fs/promises');
      await writeFile(values.out as string, text, { flag: 'wx', mode: 0o600 }).catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot write ${values.out as string}: ${err.code === 'EEXIST' ? 'it exists already' : (err.code ?? err.message)}`);
      });
      return out.print(`Exported key ${arg} to ${values.out as string} (still encrypted with its passphrase)`);
    }
    case 'import': {
      const text = await readSource(arg!);
      const { parseKeyFile } = await import('@tagtrust/keys');
      const file = parseKeyFile(files.decodeExported(text, arg!), arg!);
      const passphrase = await ask({ purpose: 'unlock', role: file.name ?? file.role ?? 'imported', keyId: file.keyid, ...(file.gun === undefined ? {} : { gun: file.gun }) });
      const key = await admin.importKey(dir, text, arg!, passphrase);
      return out.print(`Imported ${describe(key)} into ${key.file}`);
    }
    case 'passwd': {
      const key = await files.findKey(dir, arg!);
      const role = key.name ?? key.role ?? 'key';
      const gun = key.gun === undefined ? {} : { gun: key.gun };
      const old = await ask({ purpose: 'unlock', role, keyId: key.keyId, ...gun });
      const fresh = process.env.TAGTRUST_NEW_PASSPHRASE || (await askNew(describe(key)));
      await admin.changePassphrase(dir, key.keyId, old, fresh);
      return out.print(`Changed the passphrase of ${describe(key)}`);
    }
    case 'remove': {
      if (!values.yes) throw new UsageError(`key remove deletes the private key for good (export it first to keep a copy); add --yes to confirm; usage: ${usage}`);
      const key = await admin.removeKey(dir, arg!);
      return out.print(`Removed ${describe(key)} (${key.file})`);
    }
  }
}

function describe(key: { keyId: string; role?: string; name?: string; gun?: string }): string {
  const what = key.name ? `signer key "${key.name}"` : `${key.role ?? ''} key`.trim();
  return `${what} ${key.keyId.slice(0, 8)}${key.gun ? ` of ${key.gun}` : ''}`;
}

async function ask(request: { purpose: 'unlock'; role: string; keyId: string; gun?: string }): Promise<string> {
  const { terminalPassphrases } = await import('../prompt.js');
  return terminalPassphrases(request);
}

async function askNew(what: string): Promise<string> {
  if (!(process.stdin.isTTY && process.stderr.isTTY)) throw new UsageError('no new passphrase: set TAGTRUST_NEW_PASSPHRASE or run on a terminal');
  const { promptNewPassphrase } = await import('../prompt.js');
  return promptNewPassphrase(what);
}

async function readSource(source: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  if (source !== '-') {
    return readFile(source, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${source}: ${err.code ?? err.message}`);
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
