/**
 * The key files of a home, found by their content (the key ID inside), whatever they are called:
 * a key copied in by hand as `backup.key` is found like `<keyid>.key`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseKeyFile } from '@tagtrust/keys';
import type { EncryptedKeyFile } from '@tagtrust/keys';
import { InvalidInputError, KeyNotFoundError, UsageError } from '@tagtrust/shared';
import { keysDir } from './home.js';

export interface KeyListing {
  keyId: string;
  /** `root`, `targets`, or the signer name a delegation key was generated with. */
  role?: string;
  gun?: string;
  name?: string;
  keytype: string;
  created: string;
  file: string;
  /** Set when the file is readable or writable by others than its owner. */
  exposed: boolean;
}

/** Every readable key file of `home`, sorted by collection, role and key ID; unreadable files are reported through `warn`. */
export async function listKeys(home: string, warn: (message: string) => void = () => {}): Promise<KeyListing[]> {
  const dir = keysDir(home);
  const names = await readdir(dir).catch(() => [] as string[]);
  const keys: KeyListing[] = [];
  for (const name of names.filter((n) => n.endsWith('.key')).sort()) {
    const file = join(dir, name);
    let parsed: EncryptedKeyFile;
    try {
      parsed = parseKeyFile(await readFile(file, 'utf8'), file);
    } catch (err) {
      warn(`skipping ${file}: ${(err as Error).message}`);
      continue;
    }
    keys.push({
      keyId: parsed.keyid,
      ...(parsed.role === undefined ? {} : { role: parsed.role }),
      ...(parsed.gun === undefined ? {} : { gun: parsed.gun }),
      ...(parsed.name === undefined ? {} : { name: parsed.name }),
      keytype: parsed.public.keytype,
      created: parsed.created,
      file,
      exposed: await isExposed(file),
    });
  }
  const order = (k: KeyListing) => `${k.gun ?? ''}\u0000${k.role ?? ''}\u0000${k.keyId}`;
  return keys.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

/** True when a file's mode lets its group or others read or write it. */
export async function isExposed(file: string): Promise<boolean> {
  return ((await stat(file)).mode & 0o077) !== 0;
}

/**
 * The key file of `keyIdPrefix` (found by its content's key ID, whatever the file is called).
 * @throws KeyNotFoundError when no key matches; UsageError when the prefix is ambiguous or not hex
 */
export async function findKey(home: string, keyIdPrefix: string): Promise<KeyListing> {
  if (!/^[0-9a-f]{4,64}$/.test(keyIdPrefix)) throw new UsageError(`key ID "${keyIdPrefix}" must be 4 to 64 lowercase hex characters (see \`tagtrust key list\`)`);
  const matches = (await listKeys(home)).filter((k) => k.keyId.startsWith(keyIdPrefix));
  if (matches.length === 0) throw new KeyNotFoundError(`no key ${keyIdPrefix} in ${keysDir(home)}: run \`tagtrust key list\`, or check --home`);
  if (matches.length > 1) throw new UsageError(`key ID ${keyIdPrefix} is ambiguous in ${keysDir(home)}: give more characters`);
  return matches[0]!;
}

/** Reads exported key text given as JSON or base64 JSON. */
export function decodeExported(text: string, source: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return trimmed;
  if (/^[A-Za-z0-9+/=\s]+$/.test(trimmed)) return Buffer.from(trimmed, 'base64').toString('utf8');
  throw new InvalidInputError(`${source} is neither an exported tagtrust key file (JSON) nor one in base64: export it with \`tagtrust key export\``);
}
