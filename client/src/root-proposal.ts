/**
 * Root proposals: a new root (N+1) that travels between key holders until enough of them signed it.
 * The file carries the root (and, when the targets key changes, targets re-signed with the new key)
 * as JSON; each holder adds signatures with `tagtrust root sign FILE`; `tagtrust root publish FILE`
 * sends it once the thresholds are met.
 *
 * Rules (TUF spec 5.3.4, as the server enforces them too):
 * - Root N+1 must be signed by the threshold of root N's root keys AND by its own threshold.
 * - A proposal is only meaningful against the root it was made from: `basedOn` records N, and
 *   signing or publishing checks it against the client's verified current root.
 */
import { readFile } from 'node:fs/promises';
import { keyIdentity, verifySignature } from '@tagtrust/keys';
import { InvalidInputError, UntrustedRootError, canonicalBytes, rootPolicyChange, validateMetadata } from '@tagtrust/shared';
import type { Metadata, RoleKeys, RootSigned, TargetsSigned, TufKey } from '@tagtrust/shared';

export const ROOT_PROPOSAL_FORMAT = 'tagtrust-root-proposal-v1';

export interface RootProposal {
  format: typeof ROOT_PROPOSAL_FORMAT;
  gun: string;
  /** The root version this proposal replaces. */
  basedOn: number;
  /** What the proposal changes, in words (e.g. "rotate the timestamp key"). */
  description: string;
  root: Metadata<RootSigned>;
  /** Targets re-signed with a new targets key, published together with the root. */
  targets?: Metadata<TargetsSigned>;
}

/** How many of a role's keys signed, against its threshold. */
export interface ThresholdStatus {
  signed: string[];
  threshold: number;
  met: boolean;
}

export interface ProposalStatus {
  /** Signatures by the current root's root keys (root N). */
  current: ThresholdStatus;
  /** Signatures by the proposed root's own root keys (root N+1). */
  proposed: ThresholdStatus;
  ready: boolean;
}

/** Reads and validates a proposal file. @throws InvalidInputError */
export async function loadRootProposal(path: string): Promise<RootProposal> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new InvalidInputError(`cannot read root proposal ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const proposal = value as Partial<RootProposal> | null;
  if (!proposal || proposal.format !== ROOT_PROPOSAL_FORMAT || typeof proposal.gun !== 'string' || typeof proposal.basedOn !== 'number') {
    throw new InvalidInputError(`${path} is not a tagtrust root proposal (format ${ROOT_PROPOSAL_FORMAT}): create one with \`tagtrust root prepare\` or \`tagtrust key rotate --out\``);
  }
  return {
    format: ROOT_PROPOSAL_FORMAT,
    gun: proposal.gun,
    basedOn: proposal.basedOn,
    description: String(proposal.description ?? ''),
    root: validateMetadata(proposal.root, 'root'),
    ...(proposal.targets === undefined ? {} : { targets: validateMetadata(proposal.targets, 'targets') }),
  };
}

/** @throws UntrustedRootError when the proposal does not replace exactly `current` */
export function checkProposalBase(proposal: RootProposal, current: Metadata<RootSigned>): void {
  const version = current.signed.version;
  if (proposal.basedOn !== version || proposal.root.signed.version !== version + 1) {
    throw new UntrustedRootError(
      `the proposal for ${proposal.gun} replaces root v${proposal.basedOn} with v${proposal.root.signed.version}, but the current root is v${version}: prepare a new proposal from the current root`,
    );
  }
}

/** Keys count by key material (one key listed under two IDs counts once), as the server counts them. */
function thresholdStatus(root: Metadata<RootSigned>, role: RoleKeys, keys: Record<string, TufKey>): ThresholdStatus {
  const bytes = canonicalBytes(root.signed);
  const identities = new Set<string>();
  const signed = role.keyids.filter((keyId) => {
    const key = keys[keyId];
    if (key === undefined || !root.signatures.some((s) => s.keyid === keyId && safeVerify(key, s.sig, bytes))) return false;
    const identity = keyIdentity(key);
    if (identities.has(identity)) return false;
    identities.add(identity);
    return true;
  });
  return { signed, threshold: role.threshold, met: signed.length >= role.threshold };
}

function safeVerify(key: TufKey, sig: string, bytes: Buffer): boolean {
  try {
    return verifySignature(key, sig, bytes);
  } catch {
    return false;
  }
}

/** Which valid signatures the proposal carries from the current and the proposed root keys. */
export function proposalStatus(proposal: RootProposal, current: Metadata<RootSigned>): ProposalStatus {
  const currentStatus = thresholdStatus(proposal.root, current.signed.roles.root, current.signed.keys);
  const proposed = thresholdStatus(proposal.root, proposal.root.signed.roles.root, proposal.root.signed.keys);
  return { current: currentStatus, proposed, ready: currentStatus.met && proposed.met };
}

/** One line per role whose keys or threshold the proposal changes. */
export function describeRootChanges(current: RootSigned, proposed: RootSigned): string[] {
  const short = (ids: string[]) => ids.map((id) => id.slice(0, 8)).join(',') || 'none';
  const lines: string[] = [];
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
    const a = current.roles[role];
    const b = proposed.roles[role];
    if (a.threshold === b.threshold && a.keyids.length === b.keyids.length && a.keyids.every((id) => b.keyids.includes(id))) continue;
    lines.push(`${role}: keys ${short(a.keyids)} (threshold ${a.threshold}) -> ${short(b.keyids)} (threshold ${b.threshold})`);
  }
  const approval = rootPolicyChange(proposed);
  if (approval) lines.push(`immutability policy: approves ${approval.immutable.join(' ') || '(none)'} for targets v${approval.targets}`);
  return lines;
}

/** One line saying how far a proposal is from its thresholds. */
export function describeStatus(status: ProposalStatus): string {
  const part = (name: string, s: ThresholdStatus) => `${s.signed.length} of ${s.threshold} ${name} root keys`;
  return `signed by ${part('current', status.current)} and ${part('new', status.proposed)}${status.ready ? ': ready to publish' : ''}`;
}
