/**
 * Key identity is key material: one key counts once, however its TUF key JSON writes it.
 *
 * Rules:
 * - `keyIdentity` parses any public key tagtrust accepts (tuf-key.ts: ed25519 as hex of either case
 *   or PEM; ECDSA P-256 under `ecdsa` or `ecdsa-sha2-nistp256`, as hex or PEM, compressed or not;
 *   RSA as PEM with the rsaEncryption or RSASSA-PSS algorithm; PEM with any whitespace node reads)
 *   and returns sha256 over the kind of key and its raw public material: the 32 Ed25519 bytes, the
 *   uncompressed P-256 point, or the RSAPublicKey DER (modulus and exponent). Two encodings of one
 *   key have one identity; two keys never share one.
 * - A key map (root `keys`, `delegations.keys`) is well-formed when every key is one tagtrust can
 *   use, is listed under its own key ID (keyIdOf: sha256 of the whole key object's canonical JSON),
 *   and no key material appears twice. Then distinct key IDs mean distinct keys, which is what TUF
 *   clients that count key IDs (tuf-js, python-tuf) rely on for thresholds.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { InvalidInputError } from '@tagtrust/shared';
import type { AnySigned, TufKey } from '@tagtrust/shared';
import { keyIdOf, parsePublicKey } from './tuf-key.js';
import type { ParsedPublicKey } from './tuf-key.js';

const SHOWN_KEYID_LENGTH = 8;
/** Computed once per parsed key (parsePublicKey caches the parsed objects). */
const identities = new WeakMap<ParsedPublicKey, string>();

/**
 * Hex sha256 identifying the key material of a TUF public key, equal for every encoding of one key.
 * @throws InvalidInputError for a key tagtrust cannot use (unsupported type or scheme, unparsable)
 */
export function keyIdentity(key: TufKey): string {
  const parsed = parsePublicKey(key);
  let identity = identities.get(parsed);
  if (identity === undefined) {
    identity = createHash('sha256').update(`${parsed.kind}\u0000`).update(rawMaterial(parsed)).digest('hex');
    identities.set(parsed, identity);
  }
  return identity;
}

function rawMaterial({ kind, key }: ParsedPublicKey): Buffer {
  if (kind === 'rsa') return rsaPublicKeyDer(key);
  const jwk = key.export({ format: 'jwk' });
  const x = Buffer.from(String(jwk.x), 'base64url');
  if (kind === 'ed25519') return x;
  return Buffer.concat([Buffer.from([4]), x, Buffer.from(String(jwk.y), 'base64url')]);
}

/**
 * The subjectPublicKey of an RSA SPKI: the RSAPublicKey DER, the same for the rsaEncryption and
 * RSASSA-PSS algorithm identifiers (node re-encodes it canonically from the parsed modulus and exponent).
 */
function rsaPublicKeyDer(key: KeyObject): Buffer {
  const spki = key.export({ type: 'spki', format: 'der' });
  const outer = readDer(spki, 0);
  const algorithm = readDer(spki, outer.start);
  const bits = readDer(spki, algorithm.end);
  if (outer.tag !== 0x30 || algorithm.tag !== 0x30 || bits.tag !== 0x03) throw new InvalidInputError('invalid rsa public key: unexpected SPKI structure');
  // The first content byte of a BIT STRING counts its unused bits (0 here).
  return spki.subarray(bits.start + 1, bits.end);
}

/** One DER element at `offset`: its tag and where its content starts and ends. */
function readDer(der: Buffer, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i += 1) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  return { tag, start, end: start + length };
}

/**
 * What is wrong with a key map, or undefined when it is well-formed (module rules): a phrase that
 * completes "<metadata> ...", e.g. "lists one ed25519 key twice, under IDs 1a2b3c4d and 5e6f7a8b".
 */
export function keyMapProblem(keys: Record<string, TufKey>): string | undefined {
  const seen = new Map<string, string>();
  for (const [keyId, key] of Object.entries(keys)) {
    let ownId: string;
    let identity: string;
    try {
      ownId = keyIdOf(key);
      identity = keyIdentity(key);
    } catch (err) {
      return `lists key ${short(keyId)}, which tagtrust cannot use (${(err as Error).message})`;
    }
    if (ownId !== keyId) return `lists a key under ID ${short(keyId)}, which is not that key's ID (${short(ownId)}, the sha256 of its canonical JSON)`;
    const first = seen.get(identity);
    if (first !== undefined) {
      return `lists one ${parsePublicKey(key).kind} key twice, under IDs ${short(first)} and ${short(keyId)} (the same public key written two ways)`;
    }
    seen.set(identity, keyId);
  }
  return undefined;
}

/** {@link keyMapProblem} of the key maps a role's signed part holds (root keys, delegation keys), naming which. */
export function signedKeyMapsProblem(signed: AnySigned): string | undefined {
  if (signed._type === 'root') return keyMapProblem(signed.keys);
  if (signed._type === 'targets' && signed.delegations !== undefined) {
    const problem = keyMapProblem(signed.delegations.keys);
    return problem === undefined ? undefined : `delegates to keys but ${problem}`;
  }
  return undefined;
}

function short(keyId: string): string {
  return keyId.slice(0, SHOWN_KEYID_LENGTH).replace(/[^\x21-\x7e]/g, '?');
}
