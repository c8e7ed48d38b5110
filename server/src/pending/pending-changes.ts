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
 * - A change based on a version that is no longer the latest (stale) or past its expiry is never
 *   published: approving it fails (409 / 400) and deletes it.
 * - Writes to the staging area of one collection are serialised.
 * - At most MAX_OPEN_PER_ROLE changes of one role are open (neither stale nor expired) at a time, so
 *   a signer cannot fill the staging area; a further proposal is refused until some are published,
 *   go stale or expire.
 */
import { randomBytes } from 'node:crypto';
import { verifySignature } from '@tagtrust/keys';
import {
  ExpiredMetadataError,
  InvalidInputError,
  NotFoundError,
  SignatureError,
  VersionConflictError,
  canonicalBytes,
  delegationChain,
  delegatorOf,
  expiresAfter,
  isDelegatedRoleName,
  isExpired,
  validateMetadata,
} from '@tagtrust/shared';
import type {
  Metadata,
  PendingChange,
  PendingResult,
  PendingStatus,
  RoleKeys,
  RootSigned,
  Signature,
  TargetsSigned,
  TufKey,
} from '@tagtrust/shared';
import { CollectionLocks } from '../collection-lock.js';
import { verifyDelegatedRoles } from '../delegations-verify.js';
import { verifyPublish } from '../publish-verify.js';
import type { Repository } from '../repository.js';
import type { MetadataStore } from '../storage/store.js';

/** Open changes one role may have waiting at a time. */
export const MAX_OPEN_PER_ROLE = 32;

export interface PendingChangesOptions {
  store: MetadataStore;
  repository: Repository;
  /** How long a proposal stays open at most, in ms. */
  lifetimeMs: number;
  now?: () => Date;
}

/** The keys that sign a role now, as its delegator lists them. */
interface RoleSigners {
  role: RoleKeys;
  keys: Record<string, TufKey>;
}

interface CurrentState {
  root: Metadata<RootSigned>;
  targets: Metadata<TargetsSigned>;
  delegated: Map<string, Metadata<TargetsSigned>>;
  latest: number;
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
    return this.locks.run(gun, async () => {
      const { role, metadata } = parseProposal(body);
      const now = this.now();
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
      };
      await this.store.putPending(gun, change.id, JSON.stringify(change));
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
    return this.locks.run(gun, async () => {
      const signatures = parseApproval(body);
      const text = await this.store.getPending(gun, id);
      if (text === undefined) throw new NotFoundError(`${gun} has no pending change ${id}: it was published, refused or never proposed; run \`tagtrust pending list ${gun}\``);
      const change = JSON.parse(text) as PendingChange;
      const now = this.now();
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
      const byKey = new Map(change.metadata.signatures.map((s) => [s.keyid, s]));
      for (const signature of signatures) byKey.set(signature.keyid, signature);
      const metadata: Metadata<TargetsSigned> = { signed: change.metadata.signed, signatures: [...byKey.values()] };
      const signers = signersOf(state, change.role);
      const fresh: Metadata<TargetsSigned> = { signed: change.metadata.signed, signatures };
      checkSignatures(fresh, change.role, signers);
      const signedBy = validSigners(metadata, signers);
      if (signedBy.length >= signers.role.threshold) {
        return { published: await this.repository.publish(gun, { [change.role]: metadata }, actor, { deletePending: [id] }) };
      }
      const updated: PendingChange = { ...change, metadata };
      await this.store.putPending(gun, id, JSON.stringify(updated));
      return { pending: { ...updated, signedBy, threshold: signers.role.threshold, state: 'open' } };
    });
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
  return { role, metadata: validateMetadata(request.metadata, 'targets', role) };
}

function parseApproval(body: unknown): Signature[] {
  const signatures = (body as { signatures?: unknown } | null)?.signatures;
  if (!Array.isArray(signatures) || signatures.length === 0 || !signatures.every((s) => typeof s?.keyid === 'string' && typeof s?.sig === 'string')) {
    throw new InvalidInputError('an approval is {"signatures": [{"keyid": <hex>, "sig": <hex>}, ...]}');
  }
  return signatures as Signature[];
}

function signersOf(state: CurrentState, role: string): RoleSigners {
  if (role === 'targets') return { role: state.root.signed.roles.targets, keys: state.root.signed.keys };
  const delegatorName = delegatorOf(role);
  const delegator = delegatorName === 'targets' ? state.targets : state.delegated.get(delegatorName);
  const info = delegator?.signed.delegations?.roles?.find((r) => r.name === role);
  if (!delegator || !info) throw new NotFoundError(`${role} is not delegated by ${delegatorName}: add the delegation first`);
  return { role: info, keys: delegator.signed.delegations!.keys };
}

/** Runs the publish checks on a proposal with the role's threshold lowered to 1. */
function verifyProposal(gun: string, role: string, metadata: Metadata<TargetsSigned>, state: CurrentState, now: Date): void {
  if (role === 'targets') {
    const root = structuredClone(state.root);
    root.signed.roles.targets.threshold = 1;
    verifyPublish({ targets: metadata }, { gun, root, targets: state.targets, onlineKeyIds: {} }, now);
    return;
  }
  const delegatorName = delegatorOf(role);
  const current = new Map(state.delegated);
  let targets = state.targets;
  const relaxed = structuredClone(delegatorName === 'targets' ? state.targets : current.get(delegatorName)!);
  for (const info of relaxed.signed.delegations?.roles ?? []) if (info.name === role) info.threshold = 1;
  if (delegatorName === 'targets') targets = relaxed;
  else current.set(delegatorName, relaxed);
  verifyDelegatedRoles(new Map([[role, metadata]]), { gun, targets, current }, now);
}

/** Key IDs of the role whose signatures verify. */
function validSigners(metadata: Metadata<TargetsSigned>, signers: RoleSigners): string[] {
  const bytes = canonicalBytes(metadata.signed);
  return metadata.signatures
    .filter((s) => signers.role.keyids.includes(s.keyid) && signers.keys[s.keyid] !== undefined && safeVerify(signers.keys[s.keyid]!, s.sig, bytes))
    .map((s) => s.keyid);
}

/** Every signature must be by a key of the role and verify. @returns the signers @throws SignatureError */
function checkSignatures(metadata: Metadata<TargetsSigned>, role: string, signers: RoleSigners): string[] {
  const valid = new Set(validSigners(metadata, signers));
  for (const s of metadata.signatures) {
    if (!valid.has(s.keyid)) {
      const why = signers.role.keyids.includes(s.keyid) ? 'does not verify' : `is by a key ${role} does not list`;
      throw new SignatureError(`the signature by key ${s.keyid.slice(0, 8)} on ${role} v${metadata.signed.version} ${why}: sign with one of the role's keys`);
    }
  }
  if (valid.size === 0) throw new SignatureError(`${role} v${metadata.signed.version} carries no signature: sign it with one of the role's keys`);
  return [...valid];
}

function safeVerify(key: TufKey, sig: string, bytes: Buffer): boolean {
  try {
    return verifySignature(key, sig, bytes);
  } catch {
    return false;
  }
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
