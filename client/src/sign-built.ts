/**
 * Signing metadata this library built. One key counts once: metadata whose key maps (root keys,
 * delegation keys) list a key under an ID that is not its own, or one key twice, is refused before it
 * is signed (keys/key-identity.ts), as the server and every client would refuse it.
 */
import { signMetadata, signedKeyMapsProblem } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { InvalidInputError } from '@tagtrust/shared';
import type { AnySigned, Metadata } from '@tagtrust/shared';

/** @throws InvalidInputError when a key map of `signed` is not well-formed */
export function checkKeyMaps(signed: AnySigned, role: string = signed._type): void {
  const problem = signedKeyMapsProblem(signed);
  if (problem !== undefined) {
    throw new InvalidInputError(`refusing to sign ${role} v${signed.version}: it ${problem}; list each key once, under its own key ID`);
  }
}

/** signMetadata after {@link checkKeyMaps}. */
export function signBuilt<T extends AnySigned>(signed: T, signers: KeyPair[], role?: string): Metadata<T> {
  checkKeyMaps(signed, role);
  return signMetadata(signed, signers);
}
