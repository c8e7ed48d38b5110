/**
 * The server-held (online) snapshot and timestamp keys of each collection. Private keys are stored
 * sealed with the server master key; unsealed keys are kept in memory only.
 */
import type { KeyPair } from '@tagtrust/keys';
import { generateKeyPair, sealKeyPair, unsealKeyPair } from '@tagtrust/keys';
import type { TufKey } from '@tagtrust/shared';
import type { MetadataStore, ServerKeyRole } from './storage/store.js';

export class OnlineKeys {
  private readonly unsealed = new Map<string, KeyPair>();

  constructor(
    private readonly store: MetadataStore,
    private readonly masterKey: Uint8Array,
  ) {}

  /** The public key of a collection's online role, created on first request. */
  async publicKey(gun: string, role: ServerKeyRole): Promise<{ keyId: string; key: TufKey }> {
    const sealed = (await this.store.getServerKey(gun, role)) ?? (await this.create(gun, role));
    return { keyId: sealed.keyid, key: sealed.public };
  }

  /** The key pair to sign with, or undefined if the collection has no key for the role yet. */
  async signer(gun: string, role: ServerKeyRole): Promise<KeyPair | undefined> {
    const sealed = await this.store.getServerKey(gun, role);
    if (!sealed) return undefined;
    const cacheKey = `${gun}\u0000${role}\u0000${sealed.keyid}`;
    let pair = this.unsealed.get(cacheKey);
    if (!pair) {
      pair = unsealKeyPair(sealed, this.masterKey, sealContext(gun, role));
      this.unsealed.set(cacheKey, pair);
    }
    return pair;
  }

  private async create(gun: string, role: ServerKeyRole) {
    const pair = await generateKeyPair('ed25519');
    return this.store.putServerKeyIfAbsent(gun, role, sealKeyPair(pair, this.masterKey, sealContext(gun, role)));
  }
}

function sealContext(gun: string, role: ServerKeyRole): string {
  return `tagtrust ${gun} ${role}`;
}
