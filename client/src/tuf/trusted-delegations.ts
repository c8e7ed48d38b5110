/**
 * The delegated targets roles of one verified collection state: which roles exist, their verified
 * metadata, and lookups in TUF order. No I/O: `update` takes downloaded bytes; the walk that
 * downloads them is delegation-walk.ts.
 *
 * Rules (client workflow 5.6, as tuf-js applies them):
 * - A role is verified against one delegator at a time, and trusted only through the delegators it
 *   verified against: a role two delegators delegate to (a "diamond") may be valid through one and
 *   invalid through the other, and a lookup that reaches it through the other must not use it
 *   (tuf-conformance `test_cached_role_is_verified_against_current_delegator`). Methods take the
 *   delegator; it defaults to the one the role's name implies (`targets/a/b` -> `targets/a`).
 * - A role is accepted only after its delegator (`update` out of order is a caller bug).
 * - Its bytes match the length and sha256 the trusted snapshot lists (hashed bins are listed by
 *   version only: their size is capped by the caller's maxLength as they download); its version
 *   equals the snapshot's; it is signed by the threshold of the keys its delegator lists (counted by
 *   key material); it is not expired; its own delegation keys are listed once each, under their own IDs.
 * - Lookups walk pre-order, follow only delegations whose paths match the name, and stop at a
 *   terminating delegation that matches. Resolution itself goes through tuf-js `getTargetInfo`;
 *   this class serves listing and publishing, which need every role, and agrees with tuf-js on
 *   path matching (shared/delegation-paths.ts).
 * - A role the snapshot does not list has published nothing yet (`unpublished`); a role that
 *   fails verification is `invalid` (for example after its signing key was revoked).
 */
import { createHash } from 'node:crypto';
import { signedKeyMapsProblem, verifyRoleSignatures } from '@tagtrust/keys';
import {
  ExpiredMetadataError,
  MalformedMetadataError,
  MismatchError,
  RepositoryError,
  UsageError,
  binIndexOf,
  binRoleName,
  delegatedRoles,
  delegatorOf,
  findDelegation,
  isDelegatedTarget,
  targetNameHash,
  isExpired,
  validateMetadata,
  MAX_BIT_LENGTH,
} from '@tagtrust/shared';
import type { MetaFileInfo, Metadata, RoleDelegation, SnapshotSigned, TargetsSigned } from '@tagtrust/shared';

export type RoleStatus =
  | { state: 'trusted'; metadata: Metadata<TargetsSigned>; signedBy?: string[] }
  | { state: 'unpublished' }
  | { state: 'invalid'; error: RepositoryError };

/** A role as one walk reaches it: through `delegator`. */
export interface RoleVisit {
  role: string;
  delegator: string;
}

export interface DelegatedRoleView {
  role: string;
  delegator: string;
  info: RoleDelegation;
  status: RoleStatus;
}

/** Key of a (delegator, role) verdict. */
const verdictKey = (role: string, delegator: string) => `${delegator}\n${role}`;

export class TrustedDelegations {
  /** Verdicts per (delegator, role); `targets` is keyed under `root`. */
  private readonly roles = new Map<string, RoleStatus>();
  /** Metadata of each role trusted through at least one delegator: what it delegates, whoever reached it. */
  private readonly verified = new Map<string, Metadata<TargetsSigned>>();

  constructor(
    private readonly snapshot: SnapshotSigned,
    targets: Metadata<TargetsSigned>,
    private readonly now: Date,
  ) {
    this.roles.set(verdictKey('targets', 'root'), { state: 'trusted', metadata: targets });
    this.verified.set('targets', targets);
  }

  /** The snapshot entry of a role: where to download it from, or undefined when unpublished. */
  snapshotEntry(role: string): MetaFileInfo | undefined {
    return this.snapshot.meta[`${role}.json`];
  }

  /** How `delegator` lists `role`. @throws UsageError when the delegator is not trusted yet */
  delegation(role: string, delegator = delegatorOf(role)): RoleDelegation | undefined {
    const metadata = this.trustedAnyhow(delegator);
    if (!metadata) throw new UsageError(`update ${delegator} before ${role}`);
    return findDelegation(metadata.signed.delegations, role);
  }

  /** Records that the snapshot lists no file for `role`. */
  markUnpublished(role: string, delegator = delegatorOf(role)): void {
    this.delegationOrThrow(role, delegator);
    if (this.snapshotEntry(role)) throw new UsageError(`${role} is listed in the snapshot: update it with its bytes`);
    this.roles.set(verdictKey(role, delegator), { state: 'unpublished' });
  }

  /**
   * Verifies downloaded bytes of `role` against snapshot and `delegator` (client workflow 5.6.2-5.6.5)
   * and records the outcome; a verification failure is recorded as `invalid` and rethrown.
   */
  update(role: string, bytes: Uint8Array, delegator = delegatorOf(role)): Metadata<TargetsSigned> {
    const info = this.delegationOrThrow(role, delegator);
    const key = verdictKey(role, delegator);
    try {
      const entry = this.snapshotEntry(role);
      if (!entry) throw new MismatchError(`${role} is not listed in the trusted snapshot`);
      if (entry.length !== undefined && entry.length !== bytes.length) {
        throw new MismatchError(`${role} is ${bytes.length} bytes, the snapshot lists ${entry.length}`);
      }
      const sha256 = entry.hashes?.sha256;
      if (sha256 !== undefined && createHash('sha256').update(bytes).digest('hex') !== sha256) {
        throw new MismatchError(`${role} does not match the sha256 the snapshot lists`);
      }
      let json: unknown;
      try {
        json = JSON.parse(Buffer.from(bytes).toString('utf8'));
      } catch {
        throw new MismatchError(`${role} is not JSON`);
      }
      const metadata = validateMetadata(json, 'targets', role, { reading: true });
      // One key counts once, for the roles this one delegates to (metadata-guard.ts).
      const keyProblem = signedKeyMapsProblem(metadata.signed);
      if (keyProblem !== undefined) throw new MalformedMetadataError(`${role} v${metadata.signed.version} ${keyProblem}`);
      const signedBy = verifyRoleSignatures(metadata, role, info, this.trustedAnyhow(delegator)!.signed.delegations!.keys);
      if (metadata.signed.version !== entry.version) {
        throw new MismatchError(`${role} is v${metadata.signed.version}, the snapshot lists v${entry.version}`);
      }
      if (isExpired(metadata.signed, this.now)) throw new ExpiredMetadataError(`${role} expired at ${metadata.signed.expires}`);
      this.roles.set(key, { state: 'trusted', metadata, signedBy });
      this.verified.set(role, metadata);
      return metadata;
    } catch (err) {
      if (err instanceof RepositoryError) this.roles.set(key, { state: 'invalid', error: err });
      throw err;
    }
  }

  /** Verified metadata of a role through `delegator`, or undefined when unpublished, invalid or not loaded. */
  trusted(role: string, delegator = role === 'targets' ? 'root' : delegatorOf(role)): Metadata<TargetsSigned> | undefined {
    const status = this.roles.get(verdictKey(role, delegator));
    return status?.state === 'trusted' ? status.metadata : undefined;
  }

  /** The key IDs whose signatures made a verified delegated role's threshold, reached through `delegator` (undefined for targets, or a role not trusted). */
  signedBy(role: string, delegator = delegatorOf(role)): string[] | undefined {
    const status = this.roles.get(verdictKey(role, delegator));
    return status?.state === 'trusted' ? status.signedBy : undefined;
  }

  status(role: string, delegator = role === 'targets' ? 'root' : delegatorOf(role)): RoleStatus | undefined {
    return this.roles.get(verdictKey(role, delegator));
  }

  /**
   * The delegations of a role trusted through `delegator`, in the order it lists them (every bin of
   * succinct_roles); none when the role is not trusted through it.
   */
  children(role: string, delegator = role === 'targets' ? 'root' : delegatorOf(role)): RoleDelegation[] {
    return delegatedRoles(this.trusted(role, delegator)?.signed.delegations);
  }

  /** Every (delegator, role) loaded so far, pre-order. */
  views(): DelegatedRoleView[] {
    const out: DelegatedRoleView[] = [];
    const seen = new Set<string>();
    const visit = (role: string, delegator: string) => {
      for (const info of this.children(role, delegator)) {
        const status = this.status(info.name, role);
        const key = verdictKey(info.name, role);
        if (!status || seen.has(key)) continue;
        seen.add(key);
        out.push({ role: info.name, delegator: role, info, status });
        visit(info.name, role);
      }
    };
    visit('targets', 'root');
    return out;
  }

  /**
   * The roles a lookup of `name` visits, in order (client workflow 5.6.7): pre-order, only
   * delegations whose paths match, stopping after a matching terminating delegation.
   */
  lookupOrder(name: string): RoleVisit[] {
    const order: RoleVisit[] = [];
    let hash: string | undefined;
    const nameHash = () => (hash ??= targetNameHash(name));
    const stack: RoleVisit[] = [{ role: 'targets', delegator: 'root' }];
    const visited = new Set<string>();
    while (stack.length > 0) {
      const visit = stack.pop()!;
      const { role, delegator } = visit;
      // As tuf-js: a role is visited once per lookup (5.6.7.1), through the first delegator that reaches it.
      if (visited.has(role)) continue;
      visited.add(role);
      order.push(visit);
      const succinct = this.trusted(role, delegator)?.signed.delegations?.succinct_roles;
      if (succinct) {
        // Hashed bins: exactly one bin matches, and bins are terminating (TAP 15).
        stack.length = 0;
        stack.push({ role: binRoleName(succinct.name_prefix, succinct.bit_length, binIndexOf(name, succinct.bit_length, nameHash())), delegator: role });
        continue;
      }
      const matching: RoleVisit[] = [];
      for (const info of this.children(role, delegator)) {
        if (!isDelegatedTarget(name, info, nameHash)) continue;
        matching.push({ role: info.name, delegator: role });
        if (info.terminating) {
          stack.length = 0;
          break;
        }
      }
      stack.push(...matching.reverse());
    }
    return order;
  }

  private delegationOrThrow(role: string, delegator: string): RoleDelegation {
    const info = this.delegation(role, delegator);
    if (!info) throw new UsageError(`${delegator} does not delegate ${role}`);
    return info;
  }

  /** A delegator's metadata, trusted through any of its own delegators (its delegations are what they are). */
  private trustedAnyhow(role: string): Metadata<TargetsSigned> | undefined {
    return this.verified.get(role);
  }
}

