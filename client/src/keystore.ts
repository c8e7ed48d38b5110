/**
 * The publisher's private keys under TAGTRUST_HOME/keys, one encrypted file per key
 * (`<keyid>.key`, mode 0600). Keys are found by the key IDs the trusted root lists for a role,
 * decrypted once per process, and never leave memory unencrypted.
 *
 * A key is looked for, in order: in TAGTRUST_SIGNING_KEY (an exported key file, JSON or base64, as a
 * CI secret holds it), as `keys/<keyid>.key`, then in any other `keys/*.key` file whose content holds
 * that key ID. A key file that others can read is used, with a warning.
 */
import { readFile } from 'node:fs/promises';
import type { KeyPair, KeyFileLabels } from '@tagtrust/keys';
import { decryptKeyFile, encryptKeyPair, parseKeyFile, writeFileAtomic } from '@tagtrust/keys';
import { KeyNotFoundError, UsageError } from '@tagtrust/shared';
import { ensurePrivateDir, keyPath, keysDir } from './home.js';
import { decodeExported, isExposed, listKeys } from './key-files.js';

/** The environment variable CI puts an exported key file in. */
export const SIGNING_KEY_ENV = 'TAGTRUST_SIGNING_KEY';

interface LocatedKey {
  text: string;
  source: string;
  /** The file, when the key is in one (not in the environment). */
  path?: string;
}

export interface PassphraseRequest {
  /** `new`: choose a passphrase for a key being created; `unlock`: enter an existing key's. */
  purpose: 'new' | 'unlock';
  role: string;
  gun?: string;
  keyId: string;
}

export type PassphraseProvider = (request: PassphraseRequest) => Promise<string>;

/** Passphrases from TAGTRUST_<ROLE>_PASSPHRASE (e.g. TAGTRUST_TARGETS_PASSPHRASE). */
export function passphraseEnvName(role: string): string {
  return `TAGTRUST_${role.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}_PASSPHRASE`;
}

export const environmentPassphrases: PassphraseProvider = async (request) => {
  const name = passphraseEnvName(request.role);
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new KeyNotFoundError(`no passphrase for the ${request.role} key ${request.keyId.slice(0, 8)}: set ${name}, or run on a terminal to be asked`);
  }
  return value;
};

export class KeyStore {
  private readonly unlocked = new Map<string, KeyPair>();
  /** Decryptions in progress, so concurrent unlocks of one key run scrypt once. */
  private readonly unlocking = new Map<string, Promise<KeyPair>>();

  constructor(
    private readonly home: string,
    private readonly passphrases: PassphraseProvider,
    private readonly warn: (message: string) => void = () => {},
  ) {}

  /** Encrypts and stores a new key pair. */
  async add(pair: KeyPair, labels: KeyFileLabels & { role: string }): Promise<string> {
    const passphrase = await this.passphrases({ purpose: 'new', role: labels.role, gun: labels.gun, keyId: pair.keyId });
    const file = await encryptKeyPair(pair, passphrase, labels);
    await ensurePrivateDir(keysDir(this.home));
    const path = keyPath(this.home, pair.keyId);
    await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
    this.unlocked.set(pair.keyId, pair);
    return path;
  }

  /**
   * The full ID of the key in this home whose ID is or starts with `prefix`.
   * @throws KeyNotFoundError when none matches; UsageError when several do
   */
  async resolveKeyId(prefix: string): Promise<string> {
    if (!/^[0-9a-f]{4,64}$/.test(prefix)) throw new UsageError(`key ID "${prefix}" must be 4 to 64 lowercase hex characters`);
    const matches = [...new Set((await listKeys(this.home)).map((k) => k.keyId).filter((id) => id.startsWith(prefix)))];
    if (matches.length === 0) throw new KeyNotFoundError(`no key ${prefix} in ${keysDir(this.home)}: check the ID (\`tagtrust key list\`), or --home`);
    if (matches.length > 1) throw new UsageError(`key ID ${prefix} is ambiguous in ${keysDir(this.home)}: give more characters`);
    return matches[0]!;
  }

  /** True when this home holds the private key of `keyId`. */
  async has(keyId: string): Promise<boolean> {
    return this.unlocked.has(keyId) || (await this.locate(keyId)) !== undefined;
  }

  /** Where the encrypted key of `keyId` is: the environment, its own file, or another file holding it. */
  private async locate(keyId: string): Promise<LocatedKey | undefined> {
    const secret = process.env[SIGNING_KEY_ENV];
    if (secret) {
      const text = decodeExported(secret, SIGNING_KEY_ENV);
      if (parseKeyFile(text, SIGNING_KEY_ENV).keyid === keyId) return { text, source: SIGNING_KEY_ENV };
    }
    const own = keyPath(this.home, keyId);
    const text = await readFile(own, 'utf8').catch(() => undefined);
    if (text !== undefined) return { text, source: own, path: own };
    const other = (await listKeys(this.home)).find((k) => k.keyId === keyId);
    if (!other) return undefined;
    return { text: await readFile(other.file, 'utf8'), source: other.file, path: other.file };
  }

  /** Unlocks every one of `keyIds` this home holds (possibly none). */
  async unlockAll(keyIds: readonly string[], role: string, gun: string): Promise<KeyPair[]> {
    const pairs: KeyPair[] = [];
    for (const keyId of new Set(keyIds)) {
      if (await this.has(keyId)) pairs.push(await this.unlock([keyId], role, gun));
    }
    return pairs;
  }

  /**
   * Unlocks the first of `keyIds` this home holds a private key for.
   * @throws KeyNotFoundError when none is here; WrongPassphraseError from decryption
   */
  async unlock(keyIds: readonly string[], role: string, gun: string): Promise<KeyPair> {
    for (const keyId of keyIds) {
      const cached = this.unlocked.get(keyId);
      if (cached) return cached;
    }
    for (const keyId of keyIds) {
      const pending = this.unlocking.get(keyId);
      if (!pending) continue;
      const pair = await pending.catch(() => undefined);
      if (pair && keyIds.includes(pair.keyId)) return pair;
    }
    const started = this.unlockFromFiles(keyIds, role, gun);
    for (const keyId of keyIds) this.unlocking.set(keyId, started);
    try {
      return await started;
    } finally {
      for (const keyId of keyIds) if (this.unlocking.get(keyId) === started) this.unlocking.delete(keyId);
    }
  }

  private async unlockFromFiles(keyIds: readonly string[], role: string, gun: string): Promise<KeyPair> {
    for (const keyId of keyIds) {
      const located = await this.locate(keyId);
      if (!located) continue;
      const file = parseKeyFile(located.text, located.source);
      if (located.path !== undefined && (await isExposed(located.path))) {
        this.warn(`${located.path} can be read by other users: run \`chmod 600 ${located.path}\``);
      }
      // A named signer key (`tagtrust key generate --name ci`) is unlocked with its own name's passphrase.
      const passphrase = await this.passphrases({ purpose: 'unlock', role: file.name ?? role, gun, keyId });
      const pair = await decryptKeyFile(file, passphrase);
      this.unlocked.set(keyId, pair);
      return pair;
    }
    const listed = keyIds.map((id) => id.slice(0, 8)).join(', ') || 'none';
    // A delegate signing without --role lands here, for the top-level targets role it holds no key of.
    const delegate = role === 'targets' ? `; a delegate signs with --role targets/<name> (see \`tagtrust delegation list ${gun}\`)` : '';
    throw new KeyNotFoundError(
      `no private key for the ${role} role of ${gun} in ${keysDir(this.home)} (it needs ${listed}): use the home the key was created in (--home / TAGTRUST_HOME), \`tagtrust key import\` it, or put it in ${SIGNING_KEY_ENV}${delegate}`,
    );
  }
}
