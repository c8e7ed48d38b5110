/**
 * Which key a publish will most likely sign with, read from the locally trusted metadata only, so
 * that its decryption (scrypt, about 0.1 s) can start before the refresh, or before the publisher's
 * modules load. A binned collection (succinct hashed bins in its trusted top-level targets) signs a
 * tag's bin with the bin key; any other signs with the targets keys its trusted root lists. Only a
 * hint: the publisher unlocks what the refreshed metadata requires, and reports failures then.
 * No imports beyond node built-ins and home.ts, so the CLI can use it before loading anything else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trustDir } from './home.js';

/** The key label (and passphrase name: TAGTRUST_BINS_PASSPHRASE) of the bin key. */
export const BIN_KEY_NAME = 'bins';

export interface SigningKeyHint {
  keyIds: string[];
  /** The key store's label for the passphrase: `targets` or {@link BIN_KEY_NAME}. */
  label: string;
}

/** The key IDs a plain `sign`/`unsign` of `gun` is expected to need; undefined without local trust. */
export function signingKeyHint(home: string, gun: string): SigningKeyHint | undefined {
  const dir = trustDir(home, gun);
  const bins = readSigned(join(dir, 'targets.json'))?.delegations?.succinct_roles?.keyids;
  if (isKeyIdList(bins)) return { keyIds: bins, label: BIN_KEY_NAME };
  const targets = readSigned(join(dir, 'root.json'))?.roles?.targets?.keyids;
  return isKeyIdList(targets) ? { keyIds: targets, label: 'targets' } : undefined;
}

/** The fields read here; local files are only a hint, so every one is checked before use. */
interface LocalSigned {
  delegations?: { succinct_roles?: { keyids?: unknown } };
  roles?: { targets?: { keyids?: unknown } };
}

function readSigned(path: string): LocalSigned | undefined {
  try {
    const signed: unknown = (JSON.parse(readFileSync(path, 'utf8')) as { signed?: unknown } | null)?.signed;
    return typeof signed === 'object' && signed !== null ? (signed as LocalSigned) : undefined;
  } catch {
    return undefined; // not trusted yet, or unreadable: the refresh deals with it
  }
}

function isKeyIdList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((id) => typeof id === 'string');
}
