/**
 * Decrypting the targets key (scrypt N=2^15, r=8: about 0.1 s on the thread pool, more on a busy
 * machine) is the longest step of `tagtrust sign`. The publisher starts it from the locally trusted
 * root while it refreshes the metadata; the CLI starts it earlier still, before the publisher's
 * modules (tuf-js, @tufjs/models and ours) are loaded, so that loading them runs on the main thread
 * while scrypt runs on the thread pool. Same key and same rule as the publisher (the targets keys
 * the locally trusted root lists), in the KeyStore the publisher then uses, so scrypt runs once.
 * Nothing is weakened: the same key file is decrypted with the same passphrase, only sooner.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trustDir } from '../home.js';
import type { KeyStore } from '../keystore.js';

/**
 * Starts unlocking the targets key of `gun` and returns once scrypt is under way (or the unlock
 * ended: no trusted root or key here, no passphrase; the publisher then reports it as usual).
 * @param passphraseGiven settles when the key store's passphrase provider has answered
 */
export async function unlockTargetsKeyEarly(keys: KeyStore, home: string, gun: string, passphraseGiven: Promise<void>): Promise<void> {
  let keyIds: unknown;
  try {
    keyIds = JSON.parse(readFileSync(join(trustDir(home, gun), 'root.json'), 'utf8'))?.signed?.roles?.targets?.keyids;
  } catch {
    return; // no trusted root yet (or unreadable): the publisher's refresh deals with it
  }
  if (!Array.isArray(keyIds) || !keyIds.every((id) => typeof id === 'string')) return;
  const unlocked = keys.unlock(keyIds, 'targets', gun).then(
    () => {},
    () => {}, // the publisher unlocks again and reports the error
  );
  await Promise.race([passphraseGiven, unlocked]);
  // The key store calls scrypt in the microtasks that follow the passphrase: let them run.
  await new Promise((resolve) => setImmediate(resolve));
}
