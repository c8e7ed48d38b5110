/**
 * Sealing server-held private keys (snapshot, timestamp) at rest under a 32-byte master key.
 *
 * AES-256-GCM with a random 96-bit IV; the additional authenticated data binds the sealing context
 * (e.g. 'registry.example.com/team/app timestamp') and the key ID, so a sealed key cannot be moved to
 * another collection or role unnoticed. The master key and private keys never appear in messages.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { InvalidInputError, UsageError, type TufKey } from '@tagtrust/shared';
import type { KeyPair } from './generate.js';
import { shortKeyId } from './signature.js';
import { publicKeyObject } from './tuf-key.js';

/** A private key encrypted under the server's master key. Binary fields are base64. */
export interface SealedKey {
  keyid: string;
  public: TufKey;
  iv: string;
  tag: string;
  ciphertext: string;
}

const MASTER_KEY_LENGTH = 32;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const AAD_PREFIX = 'tagtrust-sealed-key-v1';

function checkMasterKey(masterKey: Uint8Array): void {
  if (!(masterKey instanceof Uint8Array) || masterKey.length !== MASTER_KEY_LENGTH) {
    throw new UsageError(`the master key must be ${MASTER_KEY_LENGTH} bytes (use parseMasterKey or generateMasterKey)`);
  }
}

/** NUL-separated so that no (context, keyid) pair can be confused with another. */
function associatedData(context: string, keyId: string): Buffer {
  return Buffer.from(`${AAD_PREFIX}\u0000${context}\u0000${keyId}`, 'utf8');
}

/** Encrypts a key pair's private key (PKCS#8 DER) under `masterKey`, bound to `context` and its key ID. */
export function sealKeyPair(pair: KeyPair, masterKey: Uint8Array, context: string): SealedKey {
  checkMasterKey(masterKey);
  if (typeof context !== 'string') throw new UsageError('the sealing context must be a string');
  const iv = randomBytes(IV_LENGTH);
  const plaintext = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
    cipher.setAAD(associatedData(context, pair.keyId));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      keyid: pair.keyId,
      public: { keytype: pair.publicKey.keytype, scheme: pair.publicKey.scheme, keyval: { public: pair.publicKey.keyval.public } },
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  } finally {
    plaintext.fill(0);
  }
}

function decodeField(value: unknown, field: string, context: string, length?: number): Buffer {
  const bytes = typeof value === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(value) ? Buffer.from(value, 'base64') : undefined;
  if (bytes === undefined || bytes.length === 0 || (length !== undefined && bytes.length !== length)) {
    throw new InvalidInputError(`cannot unseal the ${context} key: its ${field} is malformed (the stored key is corrupt)`);
  }
  return bytes;
}

/**
 * Decrypts a sealed key. Throws InvalidInputError when the master key or context is not the one it was
 * sealed with, or the sealed key is malformed or does not match its public key.
 */
export function unsealKeyPair(sealed: SealedKey, masterKey: Uint8Array, context: string): KeyPair {
  checkMasterKey(masterKey);
  if (sealed === null || typeof sealed !== 'object' || typeof sealed.keyid !== 'string') {
    throw new InvalidInputError(`cannot unseal the ${context} key: the sealed key is malformed`);
  }
  const what = `${context} key ${shortKeyId(sealed.keyid)}`;
  const iv = decodeField(sealed.iv, 'iv', what, IV_LENGTH);
  const tag = decodeField(sealed.tag, 'tag', what, TAG_LENGTH);
  const ciphertext = decodeField(sealed.ciphertext, 'ciphertext', what);
  const publicKey = publicKeyObject(sealed.public);
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', masterKey, iv);
    decipher.setAAD(associatedData(context, sealed.keyid));
    decipher.setAuthTag(tag);
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (err) {
    throw new InvalidInputError(
      `cannot unseal the ${what}: the master key does not match the one it was sealed with, or it was sealed for another collection or role (check TAGTRUST_MASTER_KEY)`,
      { cause: err },
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: plaintext, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new InvalidInputError(`cannot unseal the ${what}: it does not hold a usable private key`, { cause: err });
  } finally {
    plaintext.fill(0);
  }
  if (!createPublicKey(privateKey).equals(publicKey)) {
    throw new InvalidInputError(`cannot unseal the ${what}: its private key does not match its public key (the stored key is corrupt)`);
  }
  return {
    keyId: sealed.keyid,
    publicKey: { keytype: sealed.public.keytype, scheme: sealed.public.scheme, keyval: { public: sealed.public.keyval.public } },
    privateKey,
  };
}

/**
 * Parses a master key given as 64 hex characters or as base64 of 32 bytes (surrounding whitespace
 * ignored). Throws UsageError explaining the format; the message never contains the value.
 */
export function parseMasterKey(text: string): Buffer {
  const value = typeof text === 'string' ? text.trim() : '';
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(value) || /^[A-Za-z0-9_-]{43}$/.test(value)) {
    const bytes = Buffer.from(value, value.endsWith('=') ? 'base64' : 'base64url');
    if (bytes.length === MASTER_KEY_LENGTH) return bytes;
  }
  throw new UsageError(
    `the master key must be ${MASTER_KEY_LENGTH} random bytes written as 64 hex characters or 44 base64 characters ` +
      `(generate one with \`openssl rand -hex 32\`); the value given (${value.length} characters) is neither`,
  );
}

/** A new random 32-byte master key. */
export function generateMasterKey(): Buffer {
  return randomBytes(MASTER_KEY_LENGTH);
}
