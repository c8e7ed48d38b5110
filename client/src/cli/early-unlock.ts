/**
 * Decrypting the targets key (scrypt N=2^15, r=8: about 0.1 s on the thread pool, more on a busy
 * machine) is the longest step of `tagtrust sign`. The publisher starts it from the locally trusted
 * root while it refreshes the metadata; the CLI starts it earlier still, before the publisher's
 * modules (tuf-js, @tufjs/models and ours) are loaded, so that loading them runs on the main thread
 * while scrypt runs on the thread pool. Same key and same rule as the publisher (signing-key-hint.ts),
 * in the KeyStore the publisher then uses, so scrypt runs once.
 * Nothing is weakened: the same key file is decrypted with the same passphrase, only sooner.
 */
import type { KeyStore } from '../keystore.js';
import { signingKeyHint } from '../signing-key-hint.js';

/**
 * Starts unlocking the key a sign of `gun` will use (the targets key, or the bin key of a binned
 * collection) and returns once scrypt is under way (or the unlock ended: no trusted root or key here,
 * no passphrase; the publisher then reports it as usual).
 * @param passphraseGiven settles when the key store's passphrase provider has answered
 */
export async function unlockTargetsKeyEarly(keys: KeyStore, home: string, gun: string, passphraseGiven: Promise<void>): Promise<void> {
  const hint = signingKeyHint(home, gun);
  if (!hint) return; // no trusted metadata yet: the publisher's refresh deals with it
  const unlocked = keys.unlock(hint.keyIds, hint.label, gun).then(
    () => {},
    () => {}, // the publisher unlocks again and reports the error
  );
  await Promise.race([passphraseGiven, unlocked]);
  // The key store calls scrypt in the microtasks that follow the passphrase: let them run.
  await new Promise((resolve) => setImmediate(resolve));
}
