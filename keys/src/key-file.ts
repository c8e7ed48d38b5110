/**
 * Passphrase-encrypted private key files for publishers (kept under ~/.tagtrust/keys).
 *
 * Format 'tagtrust-key-v1' (JSON): the private key as PKCS#8 DER, encrypted with AES-256-GCM under a
 * key derived from the passphrase with scrypt. Everything in the file except the IV, tag and ciphertext
 * (format, key ID, public key, labels, KDF parameters, creation time) is bound as GCM additional
 * authenticated data, so editing any of it makes decryption fail. The private key never appears in
 * the file, in messages or in logs in the clear.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, randomBytes, scrypt, type KeyObject } from 'node:crypto';
import { InvalidInputError, UsageError, WrongPassphraseError, canonicalBytes } from '@tagtrust/shared';
import type { KeyPair } from './generate.js';
import { shortKeyId } from './signature.js';
import { publicKeyObject } from './tuf-key.js';
import { KEY_FILE_FORMAT, checkKeyFile, type EncryptedKeyFile, type KeyFileLabels } from './key-file-format.js';

const SCRYPT_N = 2 ** 15;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const AES_KEY_LENGTH = 32;
const IV_LENGTH = 12;

function deriveKey(passphrase: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  // scrypt needs about 128 * N * r bytes; leave headroom over node's 32 MiB default.
  const maxmem = 256 * N * r + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize('NFC'), salt, AES_KEY_LENGTH, { N, r, p, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/** The additional authenticated data: every field but iv, tag and ciphertext, as canonical JSON. */
function associatedData(file: EncryptedKeyFile): Buffer {
  return canonicalBytes({
    format: file.format,
    keyid: file.keyid,
    public: { keytype: file.public.keytype, scheme: file.public.scheme, keyval: { public: file.public.keyval.public } },
    role: file.role ?? null,
    gun: file.gun ?? null,
    name: file.name ?? null,
    kdf: { name: file.kdf.name, salt: file.kdf.salt, N: file.kdf.N, r: file.kdf.r, p: file.kdf.p },
    cipher: file.cipher.name,
    created: file.created,
  });
}

/** How a key file is named in messages: role or name, the first 8 hex of its key ID, its collection. */
function describe(file: Pick<EncryptedKeyFile, 'keyid' | 'role' | 'gun' | 'name'>): string {
  const what = file.role !== undefined ? `${file.role} key` : file.name !== undefined ? `key "${file.name}"` : 'key';
  return `${what} ${shortKeyId(file.keyid)}${file.gun !== undefined ? ` of ${file.gun}` : ''}`;
}

/** Encrypts a key pair under `passphrase` (scrypt N=2^15, r=8, p=1; AES-256-GCM). */
export async function encryptKeyPair(pair: KeyPair, passphrase: string, labels: KeyFileLabels = {}): Promise<EncryptedKeyFile> {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new UsageError('a passphrase is required to encrypt a key: it must not be empty');
  }
  for (const label of ['role', 'gun', 'name'] as const) {
    const value = labels[label];
    if (value !== undefined && typeof value !== 'string') throw new UsageError(`the key file's ${label} label must be a string`);
  }
  publicKeyObject(pair.publicKey);
  const salt = randomBytes(16);
  const iv = randomBytes(IV_LENGTH);
  const file: EncryptedKeyFile = {
    format: KEY_FILE_FORMAT,
    keyid: pair.keyId,
    public: { keytype: pair.publicKey.keytype, scheme: pair.publicKey.scheme, keyval: { public: pair.publicKey.keyval.public } },
    ...(labels.role !== undefined ? { role: labels.role } : {}),
    ...(labels.gun !== undefined ? { gun: labels.gun } : {}),
    ...(labels.name !== undefined ? { name: labels.name } : {}),
    kdf: { name: 'scrypt', salt: salt.toString('base64'), N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P },
    cipher: { name: 'aes-256-gcm', iv: iv.toString('base64'), tag: '' },
    ciphertext: '',
    created: new Date().toISOString(),
  };
  const key = await deriveKey(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P);
  const plaintext = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(associatedData(file));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    file.cipher.tag = cipher.getAuthTag().toString('base64');
    file.ciphertext = ciphertext.toString('base64');
  } finally {
    plaintext.fill(0);
    key.fill(0);
  }
  // Guarantee that what we write reads back (e.g. a key ID or label the reader would refuse).
  try {
    checkKeyFile(file, 'key file');
  } catch (err) {
    throw new UsageError(`cannot encrypt ${describe(file)}: ${(err as Error).message}`, { cause: err });
  }
  return file;
}

/**
 * Decrypts a key file. Throws WrongPassphraseError when the passphrase does not decrypt it (or the file
 * was edited), InvalidInputError for a malformed file or one whose private key does not match its
 * public key.
 */
export async function decryptKeyFile(file: EncryptedKeyFile, passphrase: string): Promise<KeyPair> {
  const checked = checkKeyFile(file, 'key file');
  if (typeof passphrase !== 'string') throw new UsageError('the passphrase must be a string');
  const publicKey = publicKeyObject(checked.public);
  const key = await deriveKey(passphrase, Buffer.from(checked.kdf.salt, 'base64'), checked.kdf.N, checked.kdf.r, checked.kdf.p);
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(checked.cipher.iv, 'base64'));
    decipher.setAAD(associatedData(checked));
    decipher.setAuthTag(Buffer.from(checked.cipher.tag, 'base64'));
    plaintext = Buffer.concat([decipher.update(Buffer.from(checked.ciphertext, 'base64')), decipher.final()]);
  } catch (err) {
    throw new WrongPassphraseError(
      `wrong passphrase for ${describe(checked)}: the passphrase does not decrypt this key file ` +
        `(or the file's key ID, labels or public key were edited); check the passphrase and try again`,
      { cause: err },
    );
  } finally {
    key.fill(0);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: plaintext, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new InvalidInputError(`the ${describe(checked)} file decrypts but does not hold a usable private key`, { cause: err });
  } finally {
    plaintext.fill(0);
  }
  if (!createPublicKey(privateKey).equals(publicKey)) {
    throw new InvalidInputError(
      `the ${describe(checked)} file's private key does not match its public key: the file is corrupt; restore it from a backup`,
    );
  }
  return { keyId: checked.keyid, publicKey: checked.public, privateKey };
}
