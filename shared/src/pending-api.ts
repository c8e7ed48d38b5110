/**
 * The staging area for changes that need more signatures than one signer holds (thresholds > 1,
 * signers on different machines). One pending change proposes the next version of one targets
 * role (`targets` or a delegated role); signers fetch it, check it and add their signatures; the
 * server publishes it atomically once the role's threshold is met.
 *
 *   POST /v2/<gun>/_trust/pending        propose: {role, metadata} (metadata carries >= 1 signature)
 *   GET  /v2/<gun>/_trust/pending        list: PendingStatus[]
 *   POST /v2/<gun>/_trust/pending/<id>   approve: {signatures} -> PendingResult
 *   DELETE /v2/<gun>/_trust/pending/<id> withdraw (its proposer or an admin) -> WithdrawResult
 */
import type { PublishResponse } from './api.js';
import type { Metadata, Signature, TargetsSigned } from './tuf-types.js';

export function pendingBasePath(gun: string): string {
  return `/v2/${gun}/_trust/pending`;
}

export interface ProposeRequest {
  role: string;
  metadata: Metadata<TargetsSigned>;
}

export interface ApproveRequest {
  signatures: Signature[];
}

export interface PendingChange {
  id: string;
  gun: string;
  role: string;
  /** The proposed metadata, with the signatures collected so far. */
  metadata: Metadata<TargetsSigned>;
  /** The role's version when the change was proposed; it publishes baseVersion + 1. */
  baseVersion: number;
  created: string;
  /** After this the server refuses to publish it (the earlier of its lifetime and the metadata's expiry). */
  expires: string;
  /** The name of the token that proposed it (absent for changes proposed before it was recorded). */
  proposer?: string;
}

export interface PendingStatus extends PendingChange {
  /** Key IDs of the role whose signatures verify against the role's current keys. */
  signedBy: string[];
  threshold: number;
  /** `stale`: the role has moved past baseVersion since; `expired`: past `expires`. Neither can publish. */
  state: 'open' | 'stale' | 'expired';
}

/** What a proposal or approval did: still pending, or published. */
export interface PendingResult {
  pending?: PendingStatus;
  published?: PublishResponse;
}

/** What a withdrawal deleted. */
export interface WithdrawResult {
  withdrawn: string;
  role: string;
  /** The version the change would have published. */
  version: number;
}
