/**
 * The shape of what the staging area stores: signatures exactly as a published file carries them.
 * No I/O.
 *
 * Rules:
 * - An approval body is exactly `{"signatures": [...]}` with 1 to MAX_APPROVAL_SIGNATURES entries; a
 *   signature is exactly `{keyid, sig}`: a key ID of 64 lower-case hex characters and a signature of
 *   lower-case hex (whole bytes, at most MAX_SIGNATURE_HEX characters), each key ID once. Anything
 *   else (upper-case hex, extra fields, junk) is refused before any verification or storage.
 * - A proposal's signatures follow the same rule, and only `{signed, signatures}` is stored.
 * - A stored change is at most MAX_PENDING_CHANGE_BYTES of JSON: what no client could download as a
 *   targets role is not stored.
 */
import { InvalidInputError, TooLargeError } from '@tagtrust/shared';
import type { Metadata, Signature, TargetsSigned } from '@tagtrust/shared';

/** Signatures one approval may add (more than any signer holds keys for one role). */
export const MAX_APPROVAL_SIGNATURES = 16;
/** Hex characters of the longest signature tagtrust verifies (RSA with an 8,192-bit modulus). */
export const MAX_SIGNATURE_HEX = 2048;
/** Bytes an approval body may have: the largest valid approval fits with room to spare. */
export const APPROVAL_BODY_LIMIT = 64 * 1024;
/** Bytes of JSON one stored pending change may take: the size clients accept for a targets role. */
export const MAX_PENDING_CHANGE_BYTES = 5_000_000;

const KEY_ID = /^[0-9a-f]{64}$/;
const SIG = /^(?:[0-9a-f]{2})+$/;
const SHAPE = '{"signatures": [{"keyid": <64 lower-case hex>, "sig": <lower-case hex>}, ...]}';

/** The signatures of an approval body. @throws InvalidInputError */
export function parseApproval(body: unknown): Signature[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidInputError(`an approval is ${SHAPE}`);
  const fields = Object.keys(body);
  if (fields.length !== 1 || fields[0] !== 'signatures') {
    throw new InvalidInputError(`an approval is ${SHAPE}, with no other field (got ${describeFields(fields)})`);
  }
  const { signatures } = body as { signatures: unknown };
  if (!Array.isArray(signatures) || signatures.length === 0 || signatures.length > MAX_APPROVAL_SIGNATURES) {
    throw new InvalidInputError(`an approval is ${SHAPE} with 1 to ${MAX_APPROVAL_SIGNATURES} signatures`);
  }
  return parseSignatures(signatures, 'the approval');
}

/**
 * Signatures in their one stored form. @throws InvalidInputError naming the entry and what is wrong
 * @param what the document they come from, for messages
 */
export function parseSignatures(signatures: readonly unknown[], what: string): Signature[] {
  const seen = new Set<string>();
  return signatures.map((entry, i) => {
    const field = `signatures[${i}] of ${what}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new InvalidInputError(`${field} is not a {"keyid", "sig"} object`);
    const fields = Object.keys(entry);
    if (fields.length !== 2 || !fields.includes('keyid') || !fields.includes('sig')) {
      throw new InvalidInputError(`${field} must have exactly the fields keyid and sig (got ${describeFields(fields)})`);
    }
    const { keyid, sig } = entry as Record<string, unknown>;
    if (typeof keyid !== 'string' || !KEY_ID.test(keyid)) throw new InvalidInputError(`${field}: keyid must be 64 lower-case hex characters`);
    if (typeof sig !== 'string' || sig.length > MAX_SIGNATURE_HEX || !SIG.test(sig)) {
      throw new InvalidInputError(`${field}: sig must be lower-case hex of whole bytes, at most ${MAX_SIGNATURE_HEX} characters`);
    }
    if (seen.has(keyid)) throw new InvalidInputError(`${field} repeats key ${keyid.slice(0, 8)}: one signature per key`);
    seen.add(keyid);
    return { keyid, sig };
  });
}

/** The proposal as stored: `{signed, signatures}` and nothing else, signatures in stored form. @throws InvalidInputError */
export function storedProposal(metadata: Metadata<TargetsSigned>, role: string): Metadata<TargetsSigned> {
  return { signed: metadata.signed, signatures: parseSignatures(metadata.signatures, `the proposed ${role}`) };
}

/** @throws TooLargeError when the serialised change is over MAX_PENDING_CHANGE_BYTES */
export function checkStoredSize(text: string, what: string): void {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_PENDING_CHANGE_BYTES) {
    throw new TooLargeError(`${what} would take ${bytes} bytes, over the staging area's limit of ${MAX_PENDING_CHANGE_BYTES} (what clients read for a targets role): split the change`);
  }
}

function describeFields(fields: readonly string[]): string {
  if (fields.length === 0) return 'none';
  const shown = fields.slice(0, 5).map((f) => JSON.stringify(f.slice(0, 40)));
  return fields.length > 5 ? `${shown.join(', ')} and ${fields.length - 5} more` : shown.join(', ');
}
