/**
 * The server-held (online) snapshot and timestamp keys of each collection. Private keys are stored
 * sealed with the server master key; unsealed keys are kept in memory only.
 *
 * Rotation: `createPending` makes a new key that is stored as *pending*; the active key keeps
 * signing until a root listing the pending key is committed (Repository.publish), which activates
 * it and deletes the old sealed key; `forget` then drops the old key from memory.
 *
 * The sealed keys read from the store are remembered (a publish would otherwise read four of them).
 * Whoever changes a collection's stored keys calls `changed` after the write; a read that was under
 * way during a change does not fill the memory (a generation count, as in read-cache.ts).
 */
import type { KeyPair } from '@tagtrust/keys';
import { generateKeyPair, sealKeyPair, unsealKeyPair } from '@tagtrust/keys';
import type { SealedKey } from '@tagtrust/keys';
import type { TufKey } from '@tagtrust/shared';
import type { MetadataStore, ServerKeyRole } from './storage/store.js';
import { setBounded } from './bounded-map.js';

/** Most (collection, role, active|pending) sealed-key lookups remembered; the oldest go first. */
const MAX_REMEMBERED = 20_000;

export class OnlineKeys {
  private readonly unsealed = new Map<string, KeyPair>();
  /** `gun\0role\0active|pending` -> the stored sealed key, or null when there is none. */
  private readonly sealed = new Map<string, SealedKey | null>();
  private generation = 0;

  constructor(
    private readonly store: MetadataStore,
    private readonly masterKey: Uint8Array,
  ) {}

  /** The public key of a collection's online role, created on first request. */
  async publicKey(gun: string, role: ServerKeyRole): Promise<{ keyId: string; key: TufKey }> {
    const sealed = (await this.sealedKey(gun, role, 'active')) ?? (await this.create(gun, role));
    return { keyId: sealed.keyid, key: sealed.public };
  }

  /** The key pair to sign with, or undefined if the collection has no key for the role yet. */
  async signer(gun: string, role: ServerKeyRole): Promise<KeyPair | undefined> {
    const sealed = await this.sealedKey(gun, role, 'active');
    return sealed && this.unseal(gun, role, sealed);
  }

  /** The pending (rotation) key pair, or undefined when no rotation is under way. */
  async pendingSigner(gun: string, role: ServerKeyRole): Promise<KeyPair | undefined> {
    const sealed = await this.sealedKey(gun, role, 'pending');
    return sealed && this.unseal(gun, role, sealed);
  }

  /** Call after writing a change to a collection's stored keys (new, pending, activated, deleted). */
  changed(gun: string): void {
    this.generation += 1;
    for (const id of [...this.sealed.keys()]) if (id.startsWith(`${gun}\u0000`)) this.sealed.delete(id);
  }

  /** Call when changes to any collection's stored keys may have been missed (another replica). */
  changedAll(): void {
    this.generation += 1;
    this.sealed.clear();
  }

  /** A new key for a rotation, sealed; the caller stores it as pending. */
  async createPending(gun: string, role: ServerKeyRole): Promise<SealedKey> {
    return sealKeyPair(await generateKeyPair('ed25519'), this.masterKey, sealContext(gun, role));
  }

  /** Drops an unsealed key from memory (after its sealed copy was deleted). */
  forget(gun: string, role: ServerKeyRole, keyId: string): void {
    this.unsealed.delete(cacheKey(gun, role, keyId));
  }

  /** Drops every key of a collection from memory (after its keys were deleted). */
  forgetCollection(gun: string): void {
    this.changed(gun);
    for (const key of [...this.unsealed.keys()]) if (key.startsWith(`${gun}\u0000`)) this.unsealed.delete(key);
  }

  private async sealedKey(gun: string, role: ServerKeyRole, kind: 'active' | 'pending'): Promise<SealedKey | undefined> {
    const id = `${gun}\u0000${role}\u0000${kind}`;
    const remembered = this.sealed.get(id);
    if (remembered !== undefined) return remembered ?? undefined;
    const generation = this.generation;
    const sealed = kind === 'active' ? await this.store.getServerKey(gun, role) : await this.store.getPendingServerKey(gun, role);
    if (generation === this.generation) {
      setBounded(this.sealed, id, sealed ?? null, MAX_REMEMBERED);
    }
    return sealed;
  }

  private unseal(gun: string, role: ServerKeyRole, sealed: SealedKey): KeyPair {
    const id = cacheKey(gun, role, sealed.keyid);
    let pair = this.unsealed.get(id);
    if (!pair) {
      pair = unsealKeyPair(sealed, this.masterKey, sealContext(gun, role));
      this.unsealed.set(id, pair);
    }
    return pair;
  }

  private async create(gun: string, role: ServerKeyRole) {
    const pair = await generateKeyPair('ed25519');
    const stored = await this.store.putServerKeyIfAbsent(gun, role, sealKeyPair(pair, this.masterKey, sealContext(gun, role)));
    this.changed(gun);
    return stored;
  }
}

const cacheKey = (gun: string, role: ServerKeyRole, keyId: string) => `${gun}\u0000${role}\u0000${keyId}`;

function sealContext(gun: string, role: ServerKeyRole): string {
  return `tagtrust ${gun} ${role}`;
}
