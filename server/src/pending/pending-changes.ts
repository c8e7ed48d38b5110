/**
 * The staging area: changes to a targets role that wait for more signatures (shared/pending-api.ts).
 *
 * Rules:
 * - A proposal is verified like a publish (versions, content, paths, GUN, expiry), except that it
 *   needs only one valid signature by a key of the role. Every signature it carries, and every
 *   signature added later, must verify against a key the role currently lists.
 * - Signatures are counted against the role's keys at the moment of counting, so a key revoked
 *   after it approved no longer counts.
 * - A change is published, through Repository.publish with its full verification, as soon as the
 *   role's threshold is met; the publish deletes the pending change in the same atomic commit.
 * - Approvals are validated before they are stored (approval.ts): exactly `{keyid, sig}` in canonical
 *   form, by a key of the role, verifying against the proposal. One key counts once: signatures
 *   count by key material, and a key that signed already keeps its signature (a second approval by
 *   it changes nothing), so a valid signature is never replaced.
 * - A change based on a version that is no longer the latest (stale) or past its expiry is never
 *   published: approving it fails (409 / 400) and deletes it. Every write to a collection's staging
 *   area first deletes its other stale and expired changes, and so does the background renewal
 *   loop (`pruneAll`), so they do not pile up.
 * - The proposer (the token that proposed it) or an admin may withdraw a change.
 * - Writes to the staging area of one collection are serialised.
 * - At most MAX_OPEN_PER_ROLE changes of one role are open (neither stale nor expired) at a time, so
 *   a signer cannot fill the staging area; a further proposal is refused until some are published,
 *   go stale or expire.
 */
import { randomBytes } from 'node:crypto';
import {
  ExpiredMetadataError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
  VersionConflictError,
  delegationChain,
  expiresAfter,
  isDelegatedRoleName,
  isExpired,
  validateMetadata,
} from '@tagtrust/shared';
import type { Metadata, PendingChange, PendingResult, PendingStatus, RootSigned, TargetsSigned, WithdrawResult } from '@tagtrust/shared';
import { CollectionLocks } from '../collection-lock.js';
import type { Repository } from '../repository.js';
import type { MetadataStore } from '../storage/store.js';
import { checkStoredSize, parseApproval, storedProposal } from './approval.js';
import type { CurrentState } from './role-signers.js';
import { checkSignatures, countedSignatures, signersOf, validSigners, verifyProposal } from './role-signers.js';

/** Open changes one role may have waiting at a time. */
export const MAX_OPEN_PER_ROLE = 32;

export interface PendingChangesOptions {
  store: MetadataStore;
  repository: Repository;
  /** How long a proposal stays open at most, in ms. */
  lifetimeMs: number;
  now?: () => Date;
}

/** Who asks: the token name, and whether it has the admin scope. */
export interface PendingCaller {
  name: string;
  admin: boolean;
}

export class PendingChanges {
  private readonly store: MetadataStore;
  private readonly repository: Repository;
  private readonly lifetimeMs: number;
  private readonly now: () => Date;
  private readonly locks = new CollectionLocks();

  constructor(options: PendingChangesOptions) {
    this.store = options.store;
    this.repository = options.repository;
    this.lifetimeMs = options.lifetimeMs;
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Proposes the next version of a role. Publishes at once when its signatures already meet the threshold.
   * @throws InvalidInputError, VersionConflictError (stale), and the verification errors of a publish
   * @param actor the token name recorded in the audit trail if this publishes
   */
  propose(gun: string, body: unknown, actor: string): Promise<PendingResult> {
    return this.exclusive(gun, async () => {
      const { role, metadata } = parseProposal(body);
      const now = this.now();
      await this.prune(gun, now);
      const state = await this.load(gun, role);
      const signers = signersOf(state, role);
      verifyProposal(gun, role, metadata, state, now);
      const signedBy = checkSignatures(metadata, role, signers);
      if (signedBy.length >= signers.role.threshold) return { published: await this.repository.publish(gun, { [role]: metadata }, actor) };
      const open = (await this.store.listPending(gun))
        .map((text) => JSON.parse(text) as PendingChange)
        .filter((change) => change.role === role && stateOf(change, state.latest, now) === 'open');
      if (open.length >= MAX_OPEN_PER_ROLE) {
        throw new InvalidInputError(
          `${role} of ${gun} already has ${open.length} open pending changes, the most it may have: approve them (\`tagtrust pending list ${gun}\`) or let them expire before proposing more`,
        );
      }
      const expiry = Math.min(now.getTime() + this.lifetimeMs, Date.parse(metadata.signed.expires));
      const change: PendingChange = {
        id: randomBytes(8).toString('hex'),
        gun,
        role,
        metadata,
        baseVersion: state.latest,
        created: expiresAfter(now, 0),
        expires: expiresAfter(new Date(expiry), 0),
        proposer: actor,
      };
      await this.put(change);
      return { pending: { ...change, signedBy, threshold: signers.role.threshold, state: 'open' } };
    });
  }

  /** The pending changes of a collection, each with its signatures counted against the current keys. */
  async list(gun: string): Promise<PendingStatus[]> {
    const now = this.now();
    const changes = (await this.store.listPending(gun)).map((text) => JSON.parse(text) as PendingChange);
    const out: PendingStatus[] = [];
    for (const change of changes) {
      const state = await this.load(gun, change.role).catch(() => undefined);
      const signers = state && tryCatch(() => signersOf(state, change.role));
      const signedBy = signers ? validSigners(change.metadata, signers) : [];
      const status = stateOf(change, state?.latest, now);
      out.push({ ...change, signedBy, threshold: signers?.role.threshold ?? 0, state: status });
    }
    return out;
  }

  /**
   * Adds signatures to a pending change; publishes it when the threshold is met.
   * @throws NotFoundError (no such change), ExpiredMetadataError, VersionConflictError (stale),
   *   SignatureError (a signature that does not verify), and the verification errors of a publish
   * @param actor the token name recorded in the audit trail when the approval publishes the change
   */
  approve(gun: string, id: string, body: unknown, actor: string): Promise<PendingResult> {
    return this.exclusive(gun, async () => {
      const signatures = parseApproval(body);
      const text = await this.store.getPending(gun, id);
      if (text === undefined) throw new NotFoundError(`${gun} has no pending change ${id}: it was published, withdrawn, refused or never proposed; run \`tagtrust pending list ${gun}\``);
      const change = JSON.parse(text) as PendingChange;
      const now = this.now();
      await this.prune(gun, now, id);
      if (isExpiredAt(change, now)) {
        await this.store.deletePending(gun, id);
        throw new ExpiredMetadataError(`pending change ${id} (${change.role} v${change.metadata.signed.version}) expired at ${change.expires}: propose it again`);
      }
      const state = await this.load(gun, change.role);
      if (state.latest !== change.baseVersion) {
        await this.store.deletePending(gun, id);
        throw new VersionConflictError(
          change.role,
          state.latest,
          `pending change ${id} is stale: it changes ${change.role} v${change.baseVersion}, but the collection is at v${state.latest}; propose the change again from the latest`,
        );
      }
      const signed = change.metadata.signed;
      const signers = signersOf(state, change.role);
      // Verified before anything is stored: every new signature counts on its own.
      checkSignatures({ signed, signatures }, change.role, signers);
      // Stored signatures come first: a key that signed already keeps its signature.
      const metadata: Metadata<TargetsSigned> = { signed, signatures: countedSignatures(signed, [...change.metadata.signatures, ...signatures], signers) };
      const signedBy = metadata.signatures.map((s) => s.keyid);
      if (signedBy.length >= signers.role.threshold) {
        return { published: await this.repository.publish(gun, { [change.role]: metadata }, actor, { deletePending: [id] }) };
      }
      const updated: PendingChange = { ...change, metadata };
      if (JSON.stringify(updated.metadata.signatures) !== JSON.stringify(change.metadata.signatures)) await this.put(updated);
      return { pending: { ...updated, signedBy, threshold: signers.role.threshold, state: 'open' } };
    });
  }

  /**
   * Withdraws a pending change: it is deleted and can no longer be approved.
   * @throws NotFoundError (no such change), ForbiddenError (neither its proposer nor an admin)
   */
  withdraw(gun: string, id: string, caller: PendingCaller): Promise<WithdrawResult> {
    return this.exclusive(gun, async () => {
      const text = await this.store.getPending(gun, id);
      if (text === undefined) throw new NotFoundError(`${gun} has no pending change ${id}: it was published, withdrawn, refused or never proposed; run \`tagtrust pending list ${gun}\``);
      const change = JSON.parse(text) as PendingChange;
      if (!caller.admin && change.proposer !== caller.name) {
        throw new ForbiddenError(
          `pending change ${id} was proposed by ${change.proposer === undefined ? 'an unrecorded token' : `token ${change.proposer}`}: only its proposer or an admin may withdraw it`,
        );
      }
      await this.store.deletePending(gun, id);
      await this.prune(gun, this.now());
      return { withdrawn: id, role: change.role, version: change.metadata.signed.version };
    });
  }

  /**
   * One read-then-write of a collection's staging area at a time: in this process, and across the
   * replicas sharing the store (two approvals of one change on two replicas must not lose one).
   */
  private exclusive<T>(gun: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(gun, () => this.store.withCollectionLock(gun, task));
  }

  /** Deletes the stale and expired changes of every collection (the background renewal loop). */
  async pruneAll(): Promise<number> {
    let pruned = 0;
    for await (const gun of this.store.listCollections()) pruned += await this.exclusive(gun, () => this.prune(gun, this.now()));
    return pruned;
  }

  /**
   * Deletes the stale and expired changes of a collection, except `keep` (whose own refusal says why).
   * Call under the collection's lock. @returns how many it deleted
   */
  private async prune(gun: string, now: Date, keep?: string): Promise<number> {
    const changes = (await this.store.listPending(gun)).map((text) => JSON.parse(text) as PendingChange);
    const latest = new Map<string, number>();
    let pruned = 0;
    for (const change of changes) {
      if (change.id === keep) continue;
      if (!latest.has(change.role)) latest.set(change.role, (await this.store.getLatest(gun, change.role))?.version ?? 0);
      if (stateOf(change, latest.get(change.role), now) === 'open') continue;
      await this.store.deletePending(gun, change.id);
      pruned += 1;
    }
    return pruned;
  }

  private async put(change: PendingChange): Promise<void> {
    const text = JSON.stringify(change);
    checkStoredSize(text, `pending change ${change.id} to ${change.role}`);
    await this.store.putPending(change.gun, change.id, text);
  }

  private async load(gun: string, role: string): Promise<CurrentState> {
    const read = async (name: string) => {
      const file = await this.store.getLatest(gun, name);
      return file === undefined ? undefined : (JSON.parse(file.text) as Metadata<TargetsSigned>);
    };
    const rootFile = await this.store.getLatest(gun, 'root');
    const targets = await read('targets');
    if (!rootFile || !targets) throw new NotFoundError(`collection ${gun} does not exist: initialise it first`);
    const delegated = new Map<string, Metadata<TargetsSigned>>();
    if (role !== 'targets') {
      for (const name of [...delegationChain(role).slice(1), role]) {
        const metadata = await read(name);
        if (metadata) delegated.set(name, metadata);
      }
    }
    const latest = role === 'targets' ? targets.signed.version : (delegated.get(role)?.signed.version ?? 0);
    return { root: JSON.parse(rootFile.text) as Metadata<RootSigned>, targets, delegated, latest };
  }
}

function parseProposal(body: unknown): { role: string; metadata: Metadata<TargetsSigned> } {
  const request = body as { role?: unknown; metadata?: unknown } | null;
  if (typeof request !== 'object' || request === null || typeof request.role !== 'string') {
    throw new InvalidInputError('a proposal is {"role": "targets" | "targets/<name>", "metadata": <signed targets metadata>}');
  }
  const role = request.role;
  if (role !== 'targets' && !isDelegatedRoleName(role)) {
    throw new InvalidInputError(`cannot stage role ${JSON.stringify(role)}: only targets and delegated targets/<name> roles wait for approvals`);
  }
  return { role, metadata: storedProposal(validateMetadata(request.metadata, 'targets', role), role) };
}

/** Whether a change can still be published: not expired, and based on its role's latest version (undefined: unknown). */
function stateOf(change: PendingChange, latest: number | undefined, now: Date): PendingStatus['state'] {
  if (isExpiredAt(change, now)) return 'expired';
  return latest === change.baseVersion ? 'open' : 'stale';
}

function isExpiredAt(change: PendingChange, now: Date): boolean {
  return Date.parse(change.expires) <= now.getTime() || isExpired(change.metadata.signed, now);
}

function tryCatch<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
