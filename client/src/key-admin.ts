/**
 * Managing the encrypted private keys of a home (TAGTRUST_HOME/keys) as files that travel between
 * people and CI: list, export, import, change a passphrase, remove, and generate a delegation signer.
 *
 * Rules:
 * - A key leaves or enters a home only encrypted (the 'tagtrust-key-v1' file, authenticated labels);
 *   an import is validated, decrypted once with its passphrase to prove it holds the private key its
 *   public key claims, and written 0600 under its own key ID. It never overwrites another key file.
 * - Every write is atomic: a failed change of passphrase leaves the old file, a failed generate leaves
 *   neither a private key nor a public key file behind.
 */
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { decryptKeyFile, encryptKeyPair, generateKeyPair, parseKeyFile, writeFileAtomic } from '@tagtrust/keys';
import type { KeyAlgorithm } from '@tagtrust/keys';
import { InvalidInputError, UsageError } from '@tagtrust/shared';
import type { TufKey } from '@tagtrust/shared';
import { ensurePrivateDir, keyPath, keysDir } from './home.js';
import { decodeExported, findKey } from './key-files.js';
import type { KeyListing } from './key-files.js';
import type { KeyStore } from './keystore.js';

export interface GeneratedKey {
  name: string;
  keyId: string;
  publicKey: TufKey;
  /** Where the encrypted private key is. */
  keyFile: string;
}

const SIGNER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** The encrypted key file of `keyIdPrefix`, as text to store elsewhere (a backup, a CI secret). */
export async function exportKey(home: string, keyIdPrefix: string): Promise<string> {
  const key = await findKey(home, keyIdPrefix);
  return `${JSON.stringify(parseKeyFile(await readFile(key.file, 'utf8'), key.file), null, 2)}\n`;
}

/**
 * Imports an exported key file (JSON, or that JSON in base64 as CI secrets often hold it) after
 * proving with `passphrase` that it decrypts to the private half of its public key.
 * @throws InvalidInputError for a malformed file; WrongPassphraseError; UsageError when a different
 *   file for the same key ID is already in this home
 */
export async function importKey(home: string, text: string, source: string, passphrase: string): Promise<KeyListing> {
  const file = parseKeyFile(decodeExported(text, source), source);
  await decryptKeyFile(file, passphrase);
  await ensurePrivateDir(keysDir(home));
  const path = keyPath(home, file.keyid);
  const body = `${JSON.stringify(file, null, 2)}\n`;
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing !== undefined && existing !== body) {
    throw new UsageError(`a different file for key ${file.keyid.slice(0, 8)} is already in ${keysDir(home)}: remove it first with \`tagtrust key remove ${file.keyid.slice(0, 8)}\` if you mean to replace it`);
  }
  await writeFileAtomic(path, body, 0o600);
  return findKey(home, file.keyid);
}

/** Re-encrypts a key under a new passphrase (atomic: the old file stays until the new one is complete). */
export async function changePassphrase(home: string, keyIdPrefix: string, oldPassphrase: string, newPassphrase: string): Promise<KeyListing> {
  const key = await findKey(home, keyIdPrefix);
  const file = parseKeyFile(await readFile(key.file, 'utf8'), key.file);
  const pair = await decryptKeyFile(file, oldPassphrase);
  const labels = {
    ...(file.role === undefined ? {} : { role: file.role }),
    ...(file.gun === undefined ? {} : { gun: file.gun }),
    ...(file.name === undefined ? {} : { name: file.name }),
  };
  const reencrypted = await encryptKeyPair(pair, newPassphrase, labels);
  await writeFileAtomic(key.file, `${JSON.stringify(reencrypted, null, 2)}\n`, 0o600);
  await chmod(key.file, 0o600);
  return { ...key, exposed: false };
}

/** Deletes a key file. */
export async function removeKey(home: string, keyIdPrefix: string): Promise<KeyListing> {
  const key = await findKey(home, keyIdPrefix);
  await rm(key.file);
  return key;
}

/**
 * A delegation signer's key pair: the private key encrypted in `keys`, the public key (TUF key JSON)
 * written to `publicKeyFile` when given. Nothing is left behind when either write fails.
 * @throws InvalidInputError for a bad name; UsageError when `publicKeyFile` exists
 */
export async function generateSignerKey(keys: KeyStore, name: string, algorithm?: KeyAlgorithm, publicKeyFile?: string): Promise<GeneratedKey> {
  if (!SIGNER_NAME.test(name)) throw new InvalidInputError(`key name "${name}" must be letters, digits, "_", "." and "-" (e.g. ci)`);
  const pair = await generateKeyPair(algorithm);
  if (publicKeyFile !== undefined) {
    await writeFile(publicKeyFile, `${JSON.stringify(pair.publicKey, null, 2)}\n`, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot write ${publicKeyFile}: ${err.code === 'EEXIST' ? 'it exists already (choose --out)' : (err.code ?? err.message)}`);
    });
  }
  try {
    const keyFile = await keys.add(pair, { role: name, name });
    return { name, keyId: pair.keyId, publicKey: pair.publicKey, keyFile };
  } catch (err) {
    if (publicKeyFile !== undefined) await rm(publicKeyFile, { force: true });
    throw err;
  }
}
