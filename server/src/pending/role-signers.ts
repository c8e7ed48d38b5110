/**
 * Who may sign a staged change and which of its signatures count. No I/O.
 *
 * Rules:
 * - The keys of a role are the ones its delegator lists now (the root for `targets`).
 * - A signature counts when it is by a key the role lists and verifies over the canonical signed
 *   part. One key counts once: signatures are counted by key material (keys/key-identity.ts), so a
 *   key listed under two IDs, or signing twice, counts once.
 * - A proposal passes every check of a publish with the role's threshold lowered to 1.
 */
import { keyIdentity, verifySignatureSafe } from '@tagtrust/keys';
import { NotFoundError, SignatureError, canonicalBytes, delegatorOf } from '@tagtrust/shared';
import type { Metadata, RoleKeys, RootSigned, Signature, TargetsSigned, TufKey } from '@tagtrust/shared';
import { verifyDelegatedRoles } from '../delegations-verify.js';
import { verifyPublish } from '../publish-verify.js';

/** The stored state a staged change of one role is checked against. */
export interface CurrentState {
  root: Metadata<RootSigned>;
  targets: Metadata<TargetsSigned>;
  /** The role and its delegators below the top-level targets, as stored. */
  delegated: Map<string, Metadata<TargetsSigned>>;
  /** The role's latest version (0: none yet). */
  latest: number;
}

/** The keys that sign a role now, as its delegator lists them. */
export interface RoleSigners {
  role: RoleKeys;
  keys: Record<string, TufKey>;
}

/** @throws NotFoundError when the role is not delegated (any more) */
export function signersOf(state: CurrentState, role: string): RoleSigners {
  if (role === 'targets') return { role: state.root.signed.roles.targets, keys: state.root.signed.keys };
  const delegatorName = delegatorOf(role);
  const delegator = delegatorName === 'targets' ? state.targets : state.delegated.get(delegatorName);
  const info = delegator?.signed.delegations?.roles?.find((r) => r.name === role);
  if (!delegator || !info) throw new NotFoundError(`${role} is not delegated by ${delegatorName}: add the delegation first`);
  return { role: info, keys: delegator.signed.delegations!.keys };
}

/**
 * The signatures of `signatures` that count (module rules), one per key: the first valid one of each
 * key material, in order.
 */
export function countedSignatures(signed: TargetsSigned, signatures: readonly Signature[], signers: RoleSigners): Signature[] {
  const bytes = canonicalBytes(signed);
  const seen = new Set<string>();
  const counted: Signature[] = [];
  for (const signature of signatures) {
    const key = signers.role.keyids.includes(signature.keyid) && Object.hasOwn(signers.keys, signature.keyid) ? signers.keys[signature.keyid]! : undefined;
    if (key === undefined || !verifySignatureSafe(key, signature.sig, bytes)) continue;
    const identity = keyIdentity(key);
    if (seen.has(identity)) continue;
    seen.add(identity);
    counted.push(signature);
  }
  return counted;
}

/** Key IDs of the keys whose signatures count. */
export function validSigners(metadata: Metadata<TargetsSigned>, signers: RoleSigners): string[] {
  return countedSignatures(metadata.signed, metadata.signatures, signers).map((s) => s.keyid);
}

/**
 * Every signature must count: by a key of the role, verifying, no key twice.
 * @returns the signers' key IDs @throws SignatureError
 */
export function checkSignatures(metadata: Metadata<TargetsSigned>, role: string, signers: RoleSigners): string[] {
  const counted = new Set(countedSignatures(metadata.signed, metadata.signatures, signers));
  const refuse = (s: Signature, why: string): never => {
    throw new SignatureError(`the signature by key ${s.keyid.slice(0, 8)} on ${role} v${metadata.signed.version} ${why}: sign with one of the role's keys, once`);
  };
  const bytes = canonicalBytes(metadata.signed);
  for (const s of metadata.signatures) {
    if (counted.has(s)) continue;
    if (!signers.role.keyids.includes(s.keyid) || !Object.hasOwn(signers.keys, s.keyid)) refuse(s, `is by a key ${role} does not list`);
    if (!verifySignatureSafe(signers.keys[s.keyid]!, s.sig, bytes)) refuse(s, 'does not verify');
    refuse(s, 'is by a key that signed already (one key counts once)');
  }
  if (counted.size === 0) throw new SignatureError(`${role} v${metadata.signed.version} carries no signature: sign it with one of the role's keys`);
  return [...counted].map((s) => s.keyid);
}

/** Runs the publish checks on a proposal with the role's threshold lowered to 1. */
export function verifyProposal(gun: string, role: string, metadata: Metadata<TargetsSigned>, state: CurrentState, now: Date): void {
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
