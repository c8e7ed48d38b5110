/**
 * The shape of encrypted key files ('tagtrust-key-v1') and their validation when read.
 * Messages name the file and the field at fault, never the file's content.
 */
import { InvalidInputError, type TufKey } from '@tagtrust/shared';

export const KEY_FILE_FORMAT = 'tagtrust-key-v1';

/** Labels stored (in the clear, but authenticated) with an encrypted key. */
export interface KeyFileLabels {
  role?: string;
  gun?: string;
  name?: string;
}

/** A passphrase-encrypted private key, as stored in JSON. Binary fields are base64. */
export interface EncryptedKeyFile extends KeyFileLabels {
  format: typeof KEY_FILE_FORMAT;
  keyid: string;
  public: TufKey;
  kdf: { name: 'scrypt'; salt: string; N: number; r: number; p: number };
  cipher: { name: 'aes-256-gcm'; iv: string; tag: string };
  /** PKCS#8 DER of the private key, encrypted. */
  ciphertext: string;
  /** ISO 8601 creation time. */
  created: string;
}

/** Bounds on KDF parameters read from a file, so a crafted file cannot exhaust memory or CPU. */
const MAX_SCRYPT_N = 2 ** 20;
const MIN_SCRYPT_N = 2 ** 10;
const MAX_SCRYPT_R = 32;
const MAX_SCRYPT_P = 16;
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
const MAX_LABEL_LENGTH = 1024;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function base64Field(value: unknown, field: string, fail: (why: string) => never, bytes?: number): string {
  if (typeof value !== 'string' || value.length === 0 || !BASE64.test(value)) fail(`${field} must be non-empty base64`);
  if (bytes !== undefined && Buffer.from(value, 'base64').length !== bytes) fail(`${field} must encode ${bytes} bytes`);
  return value;
}

function integerField(value: unknown, field: string, min: number, max: number, fail: (why: string) => never): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * Validates an encrypted key file's shape and returns a clean copy holding only the known fields.
 * Throws InvalidInputError naming `where` (a path, or 'key file').
 */
export function checkKeyFile(value: unknown, where: string): EncryptedKeyFile {
  const fail = (why: string): never => {
    throw new InvalidInputError(`${where} is not a valid tagtrust key file: ${why}`);
  };
  if (!isObject(value)) return fail('expected a JSON object');
  if (value.format !== KEY_FILE_FORMAT) fail(`format must be "${KEY_FILE_FORMAT}"`);
  const { keyid, kdf, cipher, created } = value;
  if (typeof keyid !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(keyid)) fail('keyid must be a key ID (printable, no spaces)');
  const pub = value.public;
  if (
    !isObject(pub) ||
    typeof pub.keytype !== 'string' ||
    typeof pub.scheme !== 'string' ||
    !isObject(pub.keyval) ||
    typeof pub.keyval.public !== 'string'
  ) {
    fail('public must be TUF key JSON {keytype, scheme, keyval: {public}}');
  }
  const publicKey = pub as unknown as TufKey;
  const labels: KeyFileLabels = {};
  for (const label of ['role', 'gun', 'name'] as const) {
    const v = value[label];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length > MAX_LABEL_LENGTH) fail(`${label} must be a string`);
    labels[label] = v as string;
  }
  if (!isObject(kdf) || kdf.name !== 'scrypt') return fail('kdf.name must be "scrypt"');
  const salt = base64Field(kdf.salt, 'kdf.salt', fail);
  const N = integerField(kdf.N, 'kdf.N', MIN_SCRYPT_N, MAX_SCRYPT_N, fail);
  if ((N & (N - 1)) !== 0) fail('kdf.N must be a power of 2');
  const r = integerField(kdf.r, 'kdf.r', 1, MAX_SCRYPT_R, fail);
  const p = integerField(kdf.p, 'kdf.p', 1, MAX_SCRYPT_P, fail);
  if (128 * N * r > MAX_SCRYPT_MEMORY) fail('kdf parameters need too much memory');
  if (!isObject(cipher) || cipher.name !== 'aes-256-gcm') return fail('cipher.name must be "aes-256-gcm"');
  const iv = base64Field(cipher.iv, 'cipher.iv', fail, 12);
  const tag = base64Field(cipher.tag, 'cipher.tag', fail, 16);
  const ciphertext = base64Field(value.ciphertext, 'ciphertext', fail);
  if (typeof created !== 'string' || Number.isNaN(Date.parse(created))) fail('created must be an ISO 8601 time');
  return {
    format: KEY_FILE_FORMAT,
    keyid: keyid as string,
    public: { keytype: publicKey.keytype, scheme: publicKey.scheme, keyval: { public: publicKey.keyval.public } },
    ...labels,
    kdf: { name: 'scrypt', salt, N, r, p },
    cipher: { name: 'aes-256-gcm', iv, tag },
    ciphertext,
    created: created as string,
  };
}

/** Parses and validates the JSON text of a key file read from `path`; InvalidInputError names the path. */
export function parseKeyFile(json: string, path: string): EncryptedKeyFile {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    // The parser's message can quote the file's content: keep only our own, and no cause.
    throw new InvalidInputError(`${path} is not a valid tagtrust key file: it is not JSON`);
  }
  return checkKeyFile(value, path);
}
