/**
 * Key algorithms and key pair generation over node:crypto.
 * A KeyPair holds the private key as a KeyObject (never exported in the clear) next to its TUF public
 * key JSON and key ID.
 */
import { generateKeyPair as generateNodeKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { UsageError, type TufKey } from '@tagtrust/shared';
import { keyIdOf, tufKeyOf } from './tuf-key.js';

export type KeyAlgorithm = 'ed25519' | 'ecdsa-p256' | 'rsa-pss';

/** A signing key: TUF public key JSON, its key ID, and the private key (in memory only). */
export interface KeyPair {
  keyId: string;
  publicKey: TufKey;
  privateKey: KeyObject;
}

export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = 'ed25519';
/** RSA modulus size for generated keys. */
export const RSA_MODULUS_BITS = 3072;

const ALGORITHM_NAMES: Readonly<Record<string, KeyAlgorithm>> = {
  ed25519: 'ed25519',
  ecdsa: 'ecdsa-p256',
  'ecdsa-p256': 'ecdsa-p256',
  rsa: 'rsa-pss',
  'rsa-pss': 'rsa-pss',
};

/** Maps a user-given algorithm name ('ed25519', 'ecdsa', 'ecdsa-p256', 'rsa', 'rsa-pss') to a KeyAlgorithm. */
export function parseKeyAlgorithm(name: string): KeyAlgorithm {
  const normalized = typeof name === 'string' ? name.trim().toLowerCase() : '';
  const algorithm = Object.hasOwn(ALGORITHM_NAMES, normalized) ? ALGORITHM_NAMES[normalized] : undefined;
  if (algorithm === undefined) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 40)) : String(name);
    throw new UsageError(
      `unknown key algorithm ${shown}: choose one of ${Object.keys(ALGORITHM_NAMES).join(', ')} (default ${DEFAULT_KEY_ALGORITHM})`,
    );
  }
  return algorithm;
}

const generate = promisify(generateNodeKeyPair);

async function generatePrivateKey(algorithm: KeyAlgorithm): Promise<KeyObject> {
  switch (algorithm) {
    case 'ed25519':
      return (await generate('ed25519')).privateKey;
    case 'ecdsa-p256':
      return (await generate('ec', { namedCurve: 'prime256v1' })).privateKey;
    case 'rsa-pss':
      // An ordinary rsaEncryption key: the PSS padding is chosen at signing time, and SPKI with the
      // rsaEncryption OID is what other TUF implementations expect in keyval.public.
      return (await generate('rsa', { modulusLength: RSA_MODULUS_BITS, publicExponent: 0x10001 })).privateKey;
    default:
      throw new UsageError(`unknown key algorithm ${JSON.stringify(String(algorithm))}: choose ed25519, ecdsa-p256 or rsa-pss`);
  }
}

/** Generates a new key pair (default ed25519; RSA keys are 3072-bit and take about a second). */
export async function generateKeyPair(algorithm: KeyAlgorithm = DEFAULT_KEY_ALGORITHM): Promise<KeyPair> {
  const privateKey = await generatePrivateKey(algorithm);
  return keyPairFromPrivateKey(privateKey);
}

/**
 * A KeyPair for an existing private key, with the conventional key ID (sha256 of the canonical public
 * key JSON). Throws InvalidInputError for a key tagtrust cannot sign with.
 */
export function keyPairFromPrivateKey(privateKey: KeyObject): KeyPair {
  if (privateKey.type !== 'private') {
    throw new UsageError('keyPairFromPrivateKey needs a private key');
  }
  const publicKey = tufKeyOf(privateKey);
  return { keyId: keyIdOf(publicKey), publicKey, privateKey };
}
