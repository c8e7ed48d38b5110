/**
 * Signing TUF metadata and checking a role's signature threshold.
 * Signatures cover canonicalBytes(metadata.signed) (OLPC canonical JSON, UTF-8).
 */
import {
  MalformedMetadataError,
  SignatureError,
  canonicalBytes,
  type AnySigned,
  type Metadata,
  type RoleKeys,
  type Signature,
  type TufKey,
} from '@tagtrust/shared';
import type { KeyPair } from './generate.js';
import { keyIdentity } from './key-identity.js';
import { signBytes, verifySignatureSafe } from './signature.js';

/** Key IDs shown in messages are cut to this many hex characters. */
const SHOWN_KEYID_LENGTH = 10;
const MAX_SHOWN_KEYIDS = 5;

function canonicalSignedBytes(signed: unknown, what: string): Buffer {
  try {
    return canonicalBytes(signed);
  } catch (err) {
    throw new MalformedMetadataError(
      `${what} cannot be expressed as canonical JSON (floats and undefined are not allowed): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Metadata with one signature per signer over canonicalBytes(signed), deduplicated by key ID.
 * The result refers to `signed` itself (no copy): do not modify it afterwards.
 */
export function signMetadata<T extends AnySigned>(signed: T, signers: KeyPair[]): Metadata<T> {
  const bytes = canonicalSignedBytes(signed, `${String(signed?._type)} metadata`);
  const seen = new Set<string>();
  const signatures: Signature[] = [];
  for (const signer of signers) {
    if (seen.has(signer.keyId)) continue;
    seen.add(signer.keyId);
    signatures.push(signBytes(signer, bytes));
  }
  return { signed, signatures };
}

/** A copy of `metadata` with the signer's signature, replacing any existing one from the same key ID. */
export function addSignature<T extends AnySigned>(metadata: Metadata<T>, signer: KeyPair): Metadata<T> {
  const signature = signBytes(signer, canonicalSignedBytes(metadata.signed, `${String(metadata.signed?._type)} metadata`));
  const others = (Array.isArray(metadata.signatures) ? metadata.signatures : []).filter((s) => s.keyid !== signer.keyId);
  return { ...metadata, signatures: [...others, signature] };
}

function describeKeyIds(keyIds: readonly string[]): string {
  if (keyIds.length === 0) return 'none';
  const shown = keyIds
    .slice(0, MAX_SHOWN_KEYIDS)
    // Key IDs can come from outside data: show only printable ASCII.
    .map((id) => id.replace(/[^\x21-\x7e]/g, '?'))
    .map((id) => (id.length > SHOWN_KEYID_LENGTH ? `${id.slice(0, SHOWN_KEYID_LENGTH)}…` : id));
  const more = keyIds.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

/**
 * Checks that at least `role.threshold` distinct keys listed in `role.keyids` signed `metadata`.
 * A key counts when one of its signatures verifies against `keys[keyid]` over canonicalBytes(signed).
 * Keys count by key material (key-identity.ts), not by key ID: one key listed under several IDs, in
 * one encoding or several, counts once. Several signatures from one key ID count once; signatures by
 * key IDs the role does not list are ignored; a listed key missing from `keys` (or unusable) does not
 * count. Throws SignatureError below the threshold and MalformedMetadataError for a malformed role or
 * signature list.
 * @param signedBytes canonicalBytes(metadata.signed), when the caller has computed them already
 *   (byte for byte the same; the server builds them incrementally for large targets)
 * @returns the key IDs whose signatures made the threshold (for the audit trail)
 */
export function verifyRoleSignatures(
  metadata: Metadata,
  roleName: string,
  role: RoleKeys,
  keys: Record<string, TufKey>,
  signedBytes?: Buffer,
): string[] {
  if (role === null || typeof role !== 'object') {
    throw new MalformedMetadataError(`the ${roleName} role is missing or not an object`);
  }
  const { threshold, keyids } = role;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1) {
    throw new MalformedMetadataError(`the ${roleName} role's threshold must be an integer of at least 1`);
  }
  if (!Array.isArray(keyids) || !keyids.every((id) => typeof id === 'string')) {
    throw new MalformedMetadataError(`the ${roleName} role's keyids must be a list of strings`);
  }
  if (metadata === null || typeof metadata !== 'object' || !Array.isArray(metadata.signatures)) {
    throw new MalformedMetadataError(`${roleName} metadata has no signatures list`);
  }

  const byKeyId = new Map<string, string[]>();
  for (const entry of metadata.signatures as unknown[]) {
    if (entry === null || typeof entry !== 'object') continue;
    const { keyid, sig } = entry as Partial<Signature>;
    if (typeof keyid !== 'string' || typeof sig !== 'string') continue;
    const list = byKeyId.get(keyid);
    if (list === undefined) byKeyId.set(keyid, [sig]);
    else list.push(sig);
  }

  const listed = [...new Set(keyids)];
  const counted = new Set<string>();
  const signedBy: string[] = [];
  let count = 0;
  let bytes = signedBytes;
  for (const keyId of listed) {
    if (count >= threshold) break;
    const sigs = byKeyId.get(keyId);
    if (sigs === undefined) continue;
    const key = keys !== null && typeof keys === 'object' && Object.hasOwn(keys, keyId) ? keys[keyId] : undefined;
    if (key === undefined) continue;
    bytes ??= canonicalSignedBytes(metadata.signed, `${roleName} metadata`);
    const data = bytes;
    if (!sigs.some((sig) => verifySignatureSafe(key, sig, data))) continue;
    // A signature verified, so the key parses and has an identity.
    const identity = keyIdentity(key);
    if (counted.has(identity)) continue;
    counted.add(identity);
    signedBy.push(keyId);
    count += 1;
  }
  if (count >= threshold) return signedBy;

  const listedSet = new Set(listed);
  const unlisted = [...byKeyId.keys()].filter((id) => !listedSet.has(id));
  const unlistedNote = unlisted.length > 0 ? `; also signed by keys the role does not list: ${describeKeyIds(unlisted)}` : '';
  throw new SignatureError(
    `${roleName} is signed by ${count} of the ${threshold} required keys (listed: ${describeKeyIds(listed)}${unlistedNote}); ` +
      `sign it with the role's key or check which root you trust`,
  );
}
