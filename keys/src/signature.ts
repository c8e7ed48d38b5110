/**
 * Raw signatures over bytes, in the encodings TUF clients verify:
 * - ed25519: pure Ed25519 over the data (64-byte signature);
 * - ecdsa-sha2-nistp256: ECDSA P-256 over SHA-256, DER-encoded signature;
 * - rsassa-pss-sha256: RSASSA-PSS, SHA-256 and MGF1-SHA-256, salt length 32 (the digest length) when
 *   signing, as python-securesystemslib signs; any salt length is accepted when verifying, as
 *   securesystemslib and tuf-js verify.
 * Signatures are hex strings.
 */
import { constants, sign, verify, type KeyObject, type SignKeyObjectInput, type VerifyKeyObjectInput } from 'node:crypto';
import { InvalidInputError, UsageError, type Signature, type TufKey } from '@tagtrust/shared';
import type { KeyPair } from './generate.js';
import { parsePublicKey, type KeyKind } from './tuf-key.js';

const SHA256_LENGTH = 32;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;

/** Signs `data` with the pair's private key using the scheme its public key JSON names. */
export function signBytes(pair: KeyPair, data: Uint8Array): Signature {
  const kind = signingKind(pair);
  let sig: Buffer;
  try {
    switch (kind) {
      case 'ed25519':
        sig = sign(null, data, pair.privateKey);
        break;
      case 'ecdsa':
        sig = sign('sha256', data, { key: pair.privateKey, dsaEncoding: 'der' } satisfies SignKeyObjectInput);
        break;
      case 'rsa':
        sig = sign('sha256', data, {
          key: pair.privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: SHA256_LENGTH,
        } satisfies SignKeyObjectInput);
        break;
    }
  } catch (err) {
    // node:crypto errors name no key material, but keep our own message short and safe.
    throw new UsageError(`cannot sign with key ${shortKeyId(pair.keyId)}: the private key does not fit its scheme`, {
      cause: err,
    });
  }
  return { keyid: pair.keyId, sig: sig.toString('hex') };
}

/** Which scheme a key pair signs with; its private key must be of the kind the public key JSON names. */
function signingKind(pair: KeyPair): KeyKind {
  let kind: KeyKind;
  try {
    kind = parsePublicKey(pair.publicKey).kind;
  } catch (err) {
    throw new UsageError(`cannot sign with key ${shortKeyId(pair.keyId)}: its public key is not usable`, { cause: err });
  }
  const privateKey: KeyObject = pair.privateKey;
  const actual = privateKey?.type === 'private' ? privateKey.asymmetricKeyType : undefined;
  const fits =
    (kind === 'ed25519' && actual === 'ed25519') ||
    (kind === 'ecdsa' && actual === 'ec') ||
    (kind === 'rsa' && (actual === 'rsa' || actual === 'rsa-pss'));
  if (!fits) {
    throw new UsageError(
      `cannot sign with key ${shortKeyId(pair.keyId)}: its private key is ${actual === undefined ? 'not a private key' : `an ${actual} key`} but its public key is ${pair.publicKey.scheme}`,
    );
  }
  return kind;
}

/**
 * True when `signature` (hex) is a valid signature of `data` by `key`. Returns false for any bad,
 * malformed or wrongly encoded signature; throws InvalidInputError only when the key itself is unusable
 * (unsupported keytype/scheme, unparsable key). Parsed keys are cached.
 */
export function verifySignature(key: TufKey, signature: string, data: Uint8Array): boolean {
  const parsed = parsePublicKey(key);
  if (typeof signature !== 'string' || !HEX.test(signature)) return false;
  const sig = Buffer.from(signature, 'hex');
  try {
    switch (parsed.kind) {
      case 'ed25519':
        return sig.length === 64 && verify(null, data, parsed.key, sig);
      case 'ecdsa':
        return verify('sha256', data, { key: parsed.key, dsaEncoding: 'der' } satisfies VerifyKeyObjectInput, sig);
      case 'rsa':
        return verify(
          'sha256',
          data,
          {
            key: parsed.key,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_AUTO,
          } satisfies VerifyKeyObjectInput,
          sig,
        );
    }
  } catch {
    return false;
  }
}

/** Like {@link verifySignature} but false (instead of an error) for an unusable key too. */
export function verifySignatureSafe(key: TufKey, signature: string, data: Uint8Array): boolean {
  try {
    return verifySignature(key, signature, data);
  } catch (err) {
    if (err instanceof InvalidInputError) return false;
    throw err;
  }
}

/** The first 8 hex characters of a key ID, for messages. */
export function shortKeyId(keyId: string): string {
  return typeof keyId === 'string' ? keyId.slice(0, 8) : '?';
}
