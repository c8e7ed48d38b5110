/**
 * Keys and signatures of Notary v1 (Docker Content Trust) metadata, verified over node:crypto.
 *
 * Notary's key JSON is `{keytype, keyval: {public, private: null}}` with `public` in base64:
 * - `ecdsa`, `rsa`: the DER SubjectPublicKeyInfo; `ed25519`: the raw 32 bytes;
 * - `ecdsa-x509`, `rsa-x509`: a PEM certificate (its public key is the key).
 * A key ID is the sha256 of the canonical JSON of the key object. Signatures are base64 over the
 * canonical JSON of `signed`: `ecdsa` is r||s (IEEE P1363), `eddsa` is Ed25519, `rsapss` RSA-PSS with
 * SHA-256, `rsapkcs1v15` RSA PKCS#1 v1.5 with SHA-256.
 *
 * Rules: a key listed under an ID that is not its own is refused; a threshold counts distinct key
 * material (two IDs for one public key count once); a malformed signature entry counts for nothing.
 */
import { constants, createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SignatureError, canonicalBytes } from '@tagtrust/shared';

export interface NotaryKey {
  keytype: string;
  keyval: { public: string; private?: null };
}

export interface NotarySignature {
  keyid: string;
  method: string;
  sig: string;
}

export interface NotaryRoleKeys {
  keyids: string[];
  threshold: number;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The public key of a Notary key object. @throws SignatureError for a key this reader cannot use */
export function notaryPublicKey(key: NotaryKey, where: string): KeyObject {
  try {
    const raw = Buffer.from(key.keyval.public, 'base64');
    switch (key.keytype) {
      case 'ecdsa-x509':
      case 'rsa-x509':
        return new X509Certificate(raw).publicKey;
      case 'ed25519':
        if (raw.length !== 32) throw new Error('an ed25519 key is 32 bytes');
        return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
      case 'ecdsa':
      case 'rsa':
        return createPublicKey({ key: raw, format: 'der', type: 'spki' });
      default:
        throw new Error(`unknown key type "${key.keytype}"`);
    }
  } catch (err) {
    throw new SignatureError(`${where}: a key cannot be read (${(err as Error).message}): the Notary metadata is damaged`, { cause: err });
  }
}

/** The key ID Notary gives a key object: sha256 of its canonical JSON. */
export function notaryKeyId(key: NotaryKey): string {
  return createHash('sha256').update(canonicalBytes(key)).digest('hex');
}

/** The identity of a key's material (sha256 of its SPKI DER), whatever its encoding. */
function materialOf(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

function verifies(method: string, key: KeyObject, data: Buffer, sig: Buffer): boolean {
  try {
    switch (method) {
      case 'ecdsa':
        return key.asymmetricKeyType === 'ec' && verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
      case 'eddsa':
      case 'ed25519':
        return key.asymmetricKeyType === 'ed25519' && verify(null, data, key, sig);
      case 'rsapss':
        return key.asymmetricKeyType === 'rsa' && verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
      case 'rsapkcs1v15':
        return key.asymmetricKeyType === 'rsa' && verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

/**
 * Checks that `signatures` over `signed` meet `role`'s threshold with keys from `keys`, counting each
 * key material once.
 * @throws SignatureError naming the role and the count
 */
export function checkNotarySignatures(
  what: string,
  signed: unknown,
  signatures: readonly NotarySignature[],
  keys: Readonly<Record<string, NotaryKey>>,
  role: NotaryRoleKeys,
): void {
  if (!Number.isSafeInteger(role.threshold) || role.threshold < 1) throw new SignatureError(`${what}: its role has threshold ${String(role.threshold)}: the Notary metadata is damaged`);
  const data = canonicalBytes(signed);
  const counted = new Set<string>();
  for (const keyId of new Set(role.keyids)) {
    const key = keys[keyId];
    if (!key) continue;
    if (notaryKeyId(key) !== keyId) throw new SignatureError(`${what}: key ${keyId.slice(0, 8)} is listed under an ID that is not its own: refusing the Notary metadata`);
    const publicKey = notaryPublicKey(key, what);
    const material = materialOf(publicKey);
    if (counted.has(material)) continue;
    const valid = signatures.some(
      (s) => s !== null && typeof s === 'object' && s.keyid === keyId && typeof s.sig === 'string' && typeof s.method === 'string' && verifies(s.method, publicKey, data, Buffer.from(s.sig, 'base64')),
    );
    if (valid) counted.add(material);
  }
  if (counted.size < role.threshold) {
    throw new SignatureError(`${what} is signed by ${counted.size} of the ${role.threshold} distinct key(s) its role needs: refusing the Notary metadata (tampered, or signed with other keys)`);
  }
}
