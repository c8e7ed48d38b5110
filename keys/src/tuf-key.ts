/**
 * TUF public key JSON <-> node:crypto KeyObjects, and key IDs.
 *
 * Key JSON tagtrust produces (and tuf-js / python-tuf verify):
 * - ed25519: `{keytype:'ed25519', scheme:'ed25519', keyval:{public:<64 hex raw key>}}`
 * - ECDSA:   `{keytype:'ecdsa', scheme:'ecdsa-sha2-nistp256', keyval:{public:<PEM SPKI>}}`
 * - RSA:     `{keytype:'rsa', scheme:'rsassa-pss-sha256', keyval:{public:<PEM SPKI>}}`
 * Accepted on input as well: keytype 'ecdsa-sha2-nistp256', ed25519 keys as PEM SPKI and ECDSA keys as
 * hex of the uncompressed point (as tuf-js accepts them).
 *
 * Parsed keys are cached (bounded, least recently used evicted) because signature verification runs on
 * the server's hot path and parsing a PEM costs more than verifying an ed25519 signature.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { InvalidInputError, canonicalBytes, type KeyScheme, type TufKey } from '@tagtrust/shared';

/** The three signing schemes, by the kind of key they use. */
export type KeyKind = 'ed25519' | 'ecdsa' | 'rsa';

/** A public key ready for node:crypto, with the scheme its TUF JSON names. */
export interface ParsedPublicKey {
  kind: KeyKind;
  scheme: KeyScheme;
  key: KeyObject;
}

const PEM_PUBLIC_HEADER = '-----BEGIN PUBLIC KEY-----';
/** DER SPKI prefix of an Ed25519 public key (RFC 8410); the 32 raw key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** DER SPKI prefix of a P-256 public key; the 65-byte uncompressed point follows. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

const CACHE_LIMIT = 1000;
const cache = new Map<string, ParsedPublicKey | InvalidInputError>();

/**
 * The TUF key ID: hex sha256 of the canonical JSON of the whole key object, every field included
 * (e.g. `keyid_hash_algorithms`, `x-tuf-on-ci-keyowner`), as the specification defines it. Keys
 * tagtrust writes hold only keytype, scheme and keyval.
 * @throws InvalidInputError when the key cannot be expressed as canonical JSON (floats, undefined)
 */
export function keyIdOf(key: TufKey): string {
  let bytes: Buffer;
  try {
    bytes = canonicalBytes(key);
  } catch (err) {
    throw new InvalidInputError(`invalid public key: it cannot be expressed as canonical JSON (${(err as Error).message})`, { cause: err });
  }
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The node:crypto public key for TUF key JSON.
 * Throws InvalidInputError for an unsupported keytype/scheme or a key that does not parse.
 */
export function publicKeyObject(key: TufKey): KeyObject {
  return parsePublicKey(key).key;
}

/** Like {@link publicKeyObject}, also saying which scheme the key verifies with. Cached. */
export function parsePublicKey(key: TufKey): ParsedPublicKey {
  if (key === null || typeof key !== 'object' || key.keyval === null || typeof key.keyval !== 'object') {
    throw new InvalidInputError('invalid public key: expected TUF key JSON {keytype, scheme, keyval: {public}}');
  }
  const { keytype, scheme } = key;
  const material = key.keyval.public;
  if (typeof keytype !== 'string' || typeof scheme !== 'string' || typeof material !== 'string') {
    throw new InvalidInputError('invalid public key: keytype, scheme and keyval.public must be strings');
  }
  const cacheKey = `${keytype}\u0000${scheme}\u0000${material}`;
  const hit = cache.get(cacheKey);
  if (hit !== undefined) {
    // Refresh the entry so the least recently used one is evicted first.
    cache.delete(cacheKey);
    cache.set(cacheKey, hit);
    if (hit instanceof InvalidInputError) throw hit;
    return hit;
  }
  let result: ParsedPublicKey | InvalidInputError;
  try {
    result = parseUncached(keytype, scheme, material);
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    result = err;
  }
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(cacheKey, result);
  if (result instanceof InvalidInputError) throw result;
  return result;
}

function parseUncached(keytype: string, scheme: string, material: string): ParsedPublicKey {
  if (keytype === 'ed25519') {
    requireScheme(keytype, scheme, 'ed25519');
    const key = /^[0-9a-fA-F]{64}$/.test(material)
      ? derKey(Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(material, 'hex')]), keytype)
      : pemKey(material, keytype);
    requireType(key, 'ed25519', keytype);
    return { kind: 'ed25519', scheme: 'ed25519', key };
  }
  if (keytype === 'ecdsa' || keytype === 'ecdsa-sha2-nistp256') {
    requireScheme(keytype, scheme, 'ecdsa-sha2-nistp256');
    const key = /^04[0-9a-fA-F]{128}$/.test(material)
      ? derKey(Buffer.concat([P256_SPKI_PREFIX, Buffer.from(material, 'hex')]), keytype)
      : pemKey(material, keytype);
    requireType(key, 'ec', keytype);
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new InvalidInputError(
        `invalid ${keytype} public key: scheme ecdsa-sha2-nistp256 needs a P-256 key, this one is on curve ${String(key.asymmetricKeyDetails?.namedCurve)}`,
      );
    }
    return { kind: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', key };
  }
  if (keytype === 'rsa') {
    requireScheme(keytype, scheme, 'rsassa-pss-sha256');
    const key = pemKey(material, keytype);
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') {
      throw new InvalidInputError(`invalid rsa public key: keyval.public holds a ${String(key.asymmetricKeyType)} key`);
    }
    return { kind: 'rsa', scheme: 'rsassa-pss-sha256', key };
  }
  throw new InvalidInputError(
    `unsupported key type ${JSON.stringify(keytype.slice(0, 40))}: tagtrust supports ed25519, ecdsa (ecdsa-sha2-nistp256) and rsa (rsassa-pss-sha256) keys`,
  );
}

function requireScheme(keytype: string, scheme: string, expected: KeyScheme): void {
  if (scheme !== expected) {
    throw new InvalidInputError(
      `unsupported scheme ${JSON.stringify(scheme.slice(0, 40))} for ${keytype} key: tagtrust supports ${expected}`,
    );
  }
}

function requireType(key: KeyObject, expected: string, keytype: string): void {
  if (key.asymmetricKeyType !== expected) {
    throw new InvalidInputError(`invalid ${keytype} public key: keyval.public holds a ${String(key.asymmetricKeyType)} key`);
  }
}

function derKey(der: Buffer, keytype: string): KeyObject {
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (err) {
    throw new InvalidInputError(`invalid ${keytype} public key: keyval.public does not parse`, { cause: err });
  }
}

/** Only a PEM "PUBLIC KEY" block: createPublicKey would also accept certificates and private keys. */
function pemKey(pem: string, keytype: string): KeyObject {
  if (!pem.trimStart().startsWith(PEM_PUBLIC_HEADER)) {
    throw new InvalidInputError(
      `invalid ${keytype} public key: keyval.public must be ${keytype === 'ed25519' ? '64 hex characters or ' : ''}a PEM SPKI public key (${PEM_PUBLIC_HEADER})`,
    );
  }
  try {
    return createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new InvalidInputError(`invalid ${keytype} public key: keyval.public is not a parsable PEM public key`, {
      cause: err,
    });
  }
}

/** TUF key JSON for a node:crypto public (or private: its public half is used) key. */
export function tufKeyOf(key: KeyObject): TufKey {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  switch (pub.asymmetricKeyType) {
    case 'ed25519': {
      const jwk = pub.export({ format: 'jwk' });
      if (typeof jwk.x !== 'string') throw new InvalidInputError('cannot export the ed25519 public key');
      return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: Buffer.from(jwk.x, 'base64url').toString('hex') } };
    }
    case 'ec':
      if (pub.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new InvalidInputError('unsupported ECDSA curve: tagtrust supports P-256 (ecdsa-sha2-nistp256) only');
      }
      return { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: spkiPem(pub) } };
    case 'rsa':
      return { keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: spkiPem(pub) } };
    default:
      throw new InvalidInputError(
        `unsupported key type ${String(pub.asymmetricKeyType)}: tagtrust supports ed25519, ECDSA P-256 and RSA keys`,
      );
  }
}

function spkiPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}
