/**
 * Verifies a publish request against a collection's current state. No I/O: the caller loads the
 * state and stores the result. Nothing is stored unless every rule below holds.
 *
 * Rules:
 * - The body is a JSON object mapping role names to signed metadata; only `root` and `targets`
 *   are accepted (delegated roles come with delegations).
 * - Each role's version is exactly latest + 1 (1 for a new collection). A version at or below the
 *   latest is a VersionConflictError (409: another publisher got there first); a gap is BadVersionError.
 * - A new root is signed by its own root threshold and, when it replaces a root, by the old root's
 *   threshold too (spec 5.3.4). It uses consistent snapshots and lists the server's online keys
 *   for snapshot and timestamp with threshold 1, since the server signs those roles alone. During a
 *   rotation the root may list the pending key instead (the publish then switches to it).
 * - One key counts once: the keys of a root, and the delegation keys of targets, are each listed
 *   under their own key ID and no key material appears twice (one key written two ways), so no
 *   key can be listed twice to fake a threshold; thresholds count distinct key material too.
 * - Targets are signed by the threshold of the trusted root's targets role (the new root's, when one
 *   is published with it). If a new root changes the targets keys, targets re-signed with the new
 *   keys must come in the same request, so the collection never serves targets its root rejects.
 * - Nothing published may already be expired. Every target name is `<gun>:<tag>` of this collection,
 *   with a sha256 digest and a positive length. An entry equal to the current version's entry of the
 *   same name passed these checks when it was published and is not checked again; the signature
 *   check covers it like every other byte (targets-update.ts).
 */
import {
  BadVersionError,
  ExpiredMetadataError,
  InvalidInputError,
  MalformedMetadataError,
  SignatureError,
  SubstitutionError,
  UntrustedRootError,
  VersionConflictError,
  isExpired,
  isTargetInCollection,
  validateMetadata,
} from '@tagtrust/shared';
import type { Metadata, RootSigned, TargetsSigned } from '@tagtrust/shared';
import { signedKeyMapsProblem, verifyRoleSignatures } from '@tagtrust/keys';
import type { CanonicalTargets } from './targets-update.js';
import { TargetsUpdate } from './targets-update.js';

export interface CollectionState {
  gun: string;
  root?: Metadata<RootSigned>;
  targets?: Metadata<TargetsSigned>;
  /** The canonical form of `targets.signed.targets`, when known (saves re-canonicalising unchanged entries). */
  targetsCanonical?: CanonicalTargets;
  /** Key IDs of the server's online keys for this collection. */
  onlineKeyIds: { snapshot?: string; timestamp?: string };
  /** Key IDs of pending (rotation) online keys, which a new root may list instead. */
  pendingKeyIds?: { snapshot?: string; timestamp?: string };
}

export interface VerifiedPublish {
  /** The root that is trusted after the publish (new or current). */
  root: Metadata<RootSigned>;
  newRoot?: Metadata<RootSigned>;
  newTargets?: Metadata<TargetsSigned>;
  /** The canonical form of the new targets' entries, for the next publish's CollectionState. */
  newTargetsCanonical?: CanonicalTargets;
  /** The key IDs whose signatures on the new targets made the threshold. */
  newTargetsSignedBy?: string[];
}

const ACCEPTED_ROLES = new Set(['root', 'targets']);
const SHA256_HEX = /^[0-9a-f]{64}$/;

export function verifyPublish(body: unknown, state: CollectionState, now: Date): VerifiedPublish {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidInputError('the publish body must be a JSON object mapping role names to signed metadata');
  }
  const request = body as Record<string, unknown>;
  const roles = Object.keys(request);
  const unknown = roles.filter((role) => !ACCEPTED_ROLES.has(role));
  if (unknown.length > 0) {
    throw new InvalidInputError(`cannot publish role ${unknown.slice(0, 3).map((r) => JSON.stringify(r.slice(0, 60))).join(', ')}${unknown.length > 3 ? ` and ${unknown.length - 3} more` : ''}: only root and targets are accepted`);
  }
  if (roles.length === 0) throw new InvalidInputError('the publish body is empty: send signed root and/or targets');

  const newRoot = request.root === undefined ? undefined : validateMetadata(request.root, 'root');
  // Entries equal to the current version's were checked when they were published (targets-update.ts).
  const update = new TargetsUpdate(state.targets?.signed.targets, state.targetsCanonical);
  const newTargets = request.targets === undefined ? undefined : validateMetadata(request.targets, 'targets', 'targets', { knownTarget: update.isUnchanged });
  if (!state.root && !newRoot) {
    throw new InvalidInputError(`collection ${state.gun} has no root yet: initialise it with \`tagtrust init ${state.gun}\``);
  }
  if (!state.targets && !newTargets) {
    throw new InvalidInputError(`a new collection needs signed targets with its root (collection ${state.gun})`);
  }

  if (newRoot) checkVersion('root', newRoot.signed.version, state.root?.signed.version ?? 0);
  if (newTargets) checkVersion('targets', newTargets.signed.version, state.targets?.signed.version ?? 0);

  if (newRoot) verifyRoot(newRoot, state, now);
  const root = newRoot ?? state.root!;
  let newTargetsCanonical: CanonicalTargets | undefined;
  let newTargetsSignedBy: string[] | undefined;
  if (newTargets) {
    let canonical;
    try {
      canonical = update.signedBytes(newTargets.signed);
    } catch (err) {
      throw new MalformedMetadataError(`targets metadata cannot be expressed as canonical JSON (floats and undefined are not allowed): ${(err as Error).message}`, { cause: err });
    }
    verifyKeyMaps(newTargets.signed);
    newTargetsSignedBy = verifyRoleSignatures(newTargets, 'targets', root.signed.roles.targets, root.signed.keys, canonical.bytes);
    if (isExpired(newTargets.signed, now)) {
      throw new ExpiredMetadataError(`targets v${newTargets.signed.version} expired at ${newTargets.signed.expires}: sign it with a later expiry`);
    }
    verifyTargetEntries(newTargets.signed, state.gun, update);
    newTargetsCanonical = canonical.canonical;
  } else if (newRoot) {
    try {
      verifyRoleSignatures(state.targets!, 'targets', root.signed.roles.targets, root.signed.keys);
    } catch (err) {
      throw new SignatureError(
        `the new root changes the targets keys, and the current targets are not signed by them: publish targets re-signed with the new key in the same request`,
        { cause: err },
      );
    }
  }
  return { root, newRoot, newTargets, newTargetsCanonical, ...(newTargetsSignedBy ? { newTargetsSignedBy } : {}) };
}

/**
 * One key counts once: every key under its own key ID, no key material twice (keys/key-identity.ts),
 * so that clients counting key IDs count distinct keys.
 * @throws InvalidInputError
 */
export function verifyKeyMaps(signed: RootSigned | TargetsSigned, role: string = signed._type): void {
  const problem = signedKeyMapsProblem(signed);
  if (problem !== undefined) {
    throw new InvalidInputError(`${role} v${signed.version} ${problem}: list each key once, under its own key ID (one key counts once towards a threshold)`);
  }
}

function checkVersion(role: string, version: number, latest: number): void {
  if (version <= latest) {
    throw new VersionConflictError(role, latest, `${role} v${version} is stale: the collection is already at v${latest}; fetch the latest, re-apply your change and sign again`);
  }
  if (version !== latest + 1) {
    throw new BadVersionError(`${role} v${version} skips versions: the next version must be ${latest + 1}`);
  }
}

function verifyRoot(newRoot: Metadata<RootSigned>, state: CollectionState, now: Date): void {
  const signed = newRoot.signed;
  if (state.root) {
    try {
      verifyRoleSignatures(newRoot, 'root', state.root.signed.roles.root, state.root.signed.keys);
    } catch (err) {
      throw new UntrustedRootError(`root v${signed.version} is not signed by the current root keys (v${state.root.signed.version}): sign it with the old root key as well as the new one`, { cause: err });
    }
  }
  verifyKeyMaps(signed);
  verifyRoleSignatures(newRoot, 'root', signed.roles.root, signed.keys);
  if (isExpired(signed, now)) throw new ExpiredMetadataError(`root v${signed.version} expired at ${signed.expires}: sign it with a later expiry`);
  if (!signed.consistent_snapshot) throw new InvalidInputError('root must set consistent_snapshot: true (tagtrust serves versioned metadata files)');
  for (const role of ['snapshot', 'timestamp'] as const) {
    const keyId = state.onlineKeyIds[role];
    const pendingId = state.pendingKeyIds?.[role];
    const listed = signed.roles[role];
    const listsServerKey = [keyId, pendingId].some((id) => id !== undefined && listed.keyids.includes(id));
    if (!listsServerKey || listed.threshold !== 1) {
      const pending = pendingId ? ` or its pending key ${pendingId.slice(0, 8)}` : '';
      throw new InvalidInputError(
        `root must list the server's ${role} key${keyId ? ` ${keyId.slice(0, 8)}` : ''}${pending} with threshold 1: fetch it from ${role}.key (or rotate it with \`tagtrust key rotate\`) and sign the root again`,
      );
    }
  }
}

/**
 * Checks every changed entry; unchanged ones were checked when they were published, and so were the
 * names of entries the current targets hold.
 */
function verifyTargetEntries(targets: TargetsSigned, gun: string, update: TargetsUpdate): void {
  for (const [name, info] of Object.entries(targets.targets)) {
    if (update.has(name, info)) continue;
    if (!update.isKnownName(name) && !isTargetInCollection(name, gun)) {
      throw new SubstitutionError(`target "${name}" is not a tag of collection ${gun}: target names must be ${gun}:<tag>`);
    }
    const sha256 = info.hashes.sha256;
    if (sha256 === undefined || !SHA256_HEX.test(sha256)) {
      throw new InvalidInputError(`target "${name}" needs hashes.sha256 of 64 lowercase hex characters (the manifest digest)`);
    }
    if (info.length < 1) throw new InvalidInputError(`target "${name}" has length ${info.length}: it must be the manifest size in bytes`);
  }
}
