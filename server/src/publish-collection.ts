/**
 * One publish, under the collection lock: verify, then sign snapshot and timestamp, then one atomic
 * commit, then remember what was committed (Repository.publish).
 *
 * Rules:
 * - Every accepted publish is recorded in the audit trail in the same atomic write as the change,
 *   with its tag changes, delegation changes, root key changes and policy change.
 * - Delegated roles in a publish are verified against their delegators (delegations-verify.ts) and
 *   committed in the same atomic write; a publish of an approved pending change deletes it there too.
 * - Online-key rotation: a publish that commits a root listing a pending key activates that key and
 *   deletes the old one atomically, and its snapshot/timestamp carry signatures by both keys, so
 *   clients in the middle of an update under the old root still accept them. Afterwards only the
 *   new key signs.
 * - The tag log's append and the immutability check happen in tag-log/publish-log.ts, before
 *   anything is signed.
 */
import { NotFoundError } from '@tagtrust/shared';
import type { PublishResponse, RootSigned, SnapshotSigned, TimestampSigned } from '@tagtrust/shared';
import type { KeyPair } from '@tagtrust/keys';
import { publishTagChanges, rootKeyChanges } from './audit.js';
import type { CollectionState } from './collection-state.js';
import { prepareDelegatedPublish } from './delegated-publish.js';
import { splitPublishBody } from './delegations-verify.js';
import { serialise, signSnapshot, signTimestamp } from './online-signing.js';
import { verifyPublish } from './publish-verify.js';
import type { AuditEntry, ServerKeyRole, StoredFile } from './storage/store.js';
import { preparePublishLog } from './tag-log/publish-log.js';

const SERVER_ROLES: ServerKeyRole[] = ['snapshot', 'timestamp'];

/** The keys that sign this publish's snapshot and timestamp, and the pending keys it activates. */
interface ServerSigners {
  signers: Record<ServerKeyRole, KeyPair[]>;
  activateKeys: Partial<Record<ServerKeyRole, string>>;
}

/**
 * Verifies and commits a publish of `gun`. Call under the collection lock.
 * @throws VersionConflictError, the errors of verifyPublish and preparePublishLog, NotFoundError
 */
export async function publishToCollection(state: CollectionState, gun: string, body: unknown, actor: string, options: { deletePending?: string[] }): Promise<PublishResponse> {
  if (state.freshVersions) {
    // Another replica may have published, or started a key rotation, since this one last looked.
    await state.catchUp(gun);
    state.onlineKeys.changed(gun);
  }
  const now = state.now();
  const [root, currentTargets, snapshot, timestamp] = await Promise.all([
    state.loadLatest<RootSigned>(gun, 'root'),
    state.loadLatestTargets(gun),
    state.loadLatest<SnapshotSigned>(gun, 'snapshot'),
    state.loadLatest<TimestampSigned>(gun, 'timestamp'),
  ]);
  const targets = currentTargets?.metadata;
  const [snapshotKey, timestampKey, pendingSnapshot, pendingTimestamp] = await Promise.all([
    state.onlineKeys.signer(gun, 'snapshot'),
    state.onlineKeys.signer(gun, 'timestamp'),
    state.onlineKeys.pendingSigner(gun, 'snapshot'),
    state.onlineKeys.pendingSigner(gun, 'timestamp'),
  ]);
  const { topLevel, delegated } = splitPublishBody(body);
  const onlyDelegated = delegated.size > 0 && Object.keys(topLevel).length === 0;
  if (onlyDelegated && (!root || !targets)) throw new NotFoundError(`collection ${gun} has no root yet: initialise it before delegating`);
  const verified = onlyDelegated
    ? { root: root!, newRoot: undefined, newTargets: undefined }
    : verifyPublish(
        topLevel,
        {
          gun,
          root,
          targets,
          targetsCanonical: currentTargets?.canonical,
          onlineKeyIds: { snapshot: snapshotKey?.keyId, timestamp: timestampKey?.keyId },
          pendingKeyIds: { snapshot: pendingSnapshot?.keyId, timestamp: pendingTimestamp?.keyId },
        },
        now,
      );
  const delegatedChange = await prepareDelegatedPublish((role) => state.loadLatestDelegated(gun, role), gun, delegated, targets, verified.newTargets ?? targets!, now);
  if (!snapshotKey || !timestampKey) {
    throw new NotFoundError(`collection ${gun} has no online keys: fetch snapshot.key and timestamp.key first`);
  }
  const active = { snapshot: snapshotKey, timestamp: timestampKey };
  const { signers, activateKeys } = serverSigners(verified.newRoot?.signed, active, { snapshot: pendingSnapshot, timestamp: pendingTimestamp });
  const files: StoredFile[] = [];
  if (verified.newRoot) files.push({ role: 'root', version: verified.newRoot.signed.version, text: serialise(verified.newRoot) });
  const changedTargets: StoredFile[] = [];
  if (verified.newTargets) {
    changedTargets.push({ role: 'targets', version: verified.newTargets.signed.version, text: serialise(verified.newTargets) });
  }
  changedTargets.push(...delegatedChange.files);
  const log = await preparePublishLog(state.tagLog, state.store, {
    gun,
    actor,
    now,
    targetsBefore: targets?.signed,
    targetsAfter: verified.newTargets?.signed ?? targets?.signed,
    root: verified.root.signed,
    roles: [
      ...(verified.newTargets ? [{ role: 'targets', before: targets?.signed, after: verified.newTargets.signed }] : []),
      ...delegatedChange.verified.map(({ role, metadata, before }) => ({ role, before, after: metadata.signed })),
    ],
    loadStored: async (role) => (await state.loadLatestDelegated(gun, role))?.metadata,
  });
  const newSnapshot = signSnapshot(snapshot?.signed, changedTargets, signers.snapshot, now, state.lifetimes.snapshot);
  const newTimestamp = signTimestamp(timestamp?.signed.version ?? 0, newSnapshot, signers.timestamp, now, state.lifetimes.timestamp, log.head);
  files.push(...changedTargets, newSnapshot, newTimestamp);
  const versions = Object.fromEntries(files.map((f) => [f.role, f.version]));
  const audit: AuditEntry = { time: now.toISOString(), actor, action: 'publish', versions };
  const tags = publishTagChanges(gun, {
    targetsBefore: targets?.signed,
    ...(verified.newTargets ? { targets: { role: 'targets', before: targets?.signed, after: verified.newTargets.signed, signedBy: verified.newTargetsSignedBy ?? [] } } : {}),
    bins: delegatedChange.bins,
    delegated: delegatedChange.roles,
  });
  if (tags && (tags.length > 0 || verified.newTargets)) audit.tags = tags;
  const keyChanges = verified.newRoot && rootKeyChanges(root?.signed, verified.newRoot.signed);
  if (keyChanges) audit.rootKeyChanges = keyChanges;
  if (Object.keys(activateKeys).length > 0) audit.keys = { activated: activateKeys };
  if (delegatedChange.events.length > 0) audit.delegations = delegatedChange.events;
  if (log.policy) audit.policy = log.policy;
  await state.commit(gun, files, {
    root: root?.signed.version ?? 0,
    targets: targets?.signed.version ?? 0,
    snapshot: snapshot?.signed.version ?? 0,
    timestamp: timestamp?.signed.version ?? 0,
    ...delegatedChange.expectedLatest,
  }, { audit, activateKeys, ...(options.deletePending ? { deletePending: options.deletePending } : {}), ...(log.append ? { log: log.append } : {}) });
  state.tagLog.committed(gun, log);
  if (verified.newTargets) {
    // The next publish starts from these targets: keep the verified object instead of parsing them again.
    const file = state.cache.get(gun, 'targets');
    if (file?.version === verified.newTargets.signed.version) {
      state.parsedTargets.set(gun, file, { metadata: verified.newTargets, canonical: verified.newTargetsCanonical });
    }
  }
  for (const { role, metadata, canonical } of delegatedChange.verified) {
    const file = state.cache.get(gun, role);
    if (file?.version === metadata.signed.version) state.parsedDelegated.set(gun, file, { metadata, canonical });
  }
  if (Object.keys(activateKeys).length > 0) state.onlineKeys.changed(gun);
  for (const role of Object.keys(activateKeys) as ServerKeyRole[]) state.onlineKeys.forget(gun, role, active[role].keyId);
  state.timestampExpiry.set(gun, now.getTime() + state.lifetimes.timestamp);
  if (verified.newRoot) state.expiries.set(gun, 'root', Date.parse(verified.newRoot.signed.expires));
  if (verified.newTargets) state.expiries.set(gun, 'targets', Date.parse(verified.newTargets.signed.expires));
  state.expiries.setFromText(gun, 'snapshot', newSnapshot.text);
  state.expiries.setFromText(gun, 'timestamp', newTimestamp.text);
  return { gun, versions };
}

/** A new root listing a pending key switches the role to it; that one publish is signed by both keys. */
function serverSigners(
  newRoot: RootSigned | undefined,
  active: Record<ServerKeyRole, KeyPair>,
  pending: Record<ServerKeyRole, KeyPair | undefined>,
): ServerSigners {
  const activateKeys: Partial<Record<ServerKeyRole, string>> = {};
  const signers: Record<ServerKeyRole, KeyPair[]> = { snapshot: [active.snapshot], timestamp: [active.timestamp] };
  for (const role of SERVER_ROLES) {
    const next = pending[role];
    if (newRoot && next && newRoot.roles[role].keyids.includes(next.keyId)) {
      activateKeys[role] = next.keyId;
      signers[role] = [next, active[role]];
    }
  }
  return { signers, activateKeys };
}
