/**
 * The delegated targets roles of one verified collection state: which roles exist, their verified
 * metadata, and lookups in TUF order. No I/O: `update` takes downloaded bytes; the walk that
 * downloads them is {@link loadDelegations}.
 *
 * Rules (client workflow 5.6, as tuf-js applies them):
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

export interface DelegatedRoleView {
  role: string;
  delegator: string;
  info: RoleDelegation;
  status: RoleStatus;
}

export class TrustedDelegations {
  private readonly roles = new Map<string, RoleStatus>();

  constructor(
    private readonly snapshot: SnapshotSigned,
    targets: Metadata<TargetsSigned>,
    private readonly now: Date,
  ) {
    this.roles.set('targets', { state: 'trusted', metadata: targets });
  }

  /** The snapshot entry of a role: where to download it from, or undefined when unpublished. */
  snapshotEntry(role: string): MetaFileInfo | undefined {
    return this.snapshot.meta[`${role}.json`];
  }

  /** How the delegator of `role` lists it. @throws UsageError when the delegator is not trusted yet */
  delegation(role: string): RoleDelegation | undefined {
    const delegator = this.trusted(delegatorOf(role));
    if (!delegator) throw new UsageError(`update ${delegatorOf(role)} before ${role}`);
    return findDelegation(delegator.signed.delegations, role);
  }

  /** Records that the snapshot lists no file for `role`. */
  markUnpublished(role: string): void {
    this.delegationOrThrow(role);
    if (this.snapshotEntry(role)) throw new UsageError(`${role} is listed in the snapshot: update it with its bytes`);
    this.roles.set(role, { state: 'unpublished' });
  }

  /**
   * Verifies downloaded bytes of `role` against snapshot and delegator (client workflow 5.6.2-5.6.5)
   * and records the outcome; a verification failure is recorded as `invalid` and rethrown.
   */
  update(role: string, bytes: Uint8Array): Metadata<TargetsSigned> {
    const info = this.delegationOrThrow(role);
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
      const metadata = validateMetadata(json, 'targets', role);
      // One key counts once, for the roles this one delegates to (metadata-guard.ts).
      const keyProblem = signedKeyMapsProblem(metadata.signed);
      if (keyProblem !== undefined) throw new MalformedMetadataError(`${role} v${metadata.signed.version} ${keyProblem}`);
      const signedBy = verifyRoleSignatures(metadata, role, info, this.trusted(delegatorOf(role))!.signed.delegations!.keys);
      if (metadata.signed.version !== entry.version) {
        throw new MismatchError(`${role} is v${metadata.signed.version}, the snapshot lists v${entry.version}`);
      }
      if (isExpired(metadata.signed, this.now)) throw new ExpiredMetadataError(`${role} expired at ${metadata.signed.expires}`);
      this.roles.set(role, { state: 'trusted', metadata, signedBy });
      return metadata;
    } catch (err) {
      if (err instanceof RepositoryError) this.roles.set(role, { state: 'invalid', error: err });
      throw err;
    }
  }

  /** Verified metadata of a role, or undefined when it is unpublished, invalid or not loaded. */
  trusted(role: string): Metadata<TargetsSigned> | undefined {
    const status = this.roles.get(role);
    return status?.state === 'trusted' ? status.metadata : undefined;
  }

  /** The key IDs whose signatures made a verified delegated role's threshold (undefined for targets, or a role not trusted). */
  signedBy(role: string): string[] | undefined {
    const status = this.roles.get(role);
    return status?.state === 'trusted' ? status.signedBy : undefined;
  }

  status(role: string): RoleStatus | undefined {
    return this.roles.get(role);
  }

  /** The delegations of a trusted role, in the order its delegator lists them (every bin of succinct_roles). */
  children(role: string): RoleDelegation[] {
    return delegatedRoles(this.trusted(role)?.signed.delegations);
  }

  /** Every delegated role loaded so far, pre-order. */
  views(): DelegatedRoleView[] {
    const out: DelegatedRoleView[] = [];
    const visit = (role: string) => {
      for (const info of this.children(role)) {
        const status = this.roles.get(info.name);
        if (!status) continue;
        out.push({ role: info.name, delegator: role, info, status });
        visit(info.name);
      }
    };
    visit('targets');
    return out;
  }

  /**
   * The roles a lookup of `name` visits, in order (client workflow 5.6.7): pre-order, only
   * delegations whose paths match, stopping after a matching terminating delegation.
   */
  lookupOrder(name: string): string[] {
    const order: string[] = [];
    let hash: string | undefined;
    const nameHash = () => (hash ??= targetNameHash(name));
    const stack = ['targets'];
    const visited = new Set<string>();
    while (stack.length > 0) {
      const role = stack.pop()!;
      if (visited.has(role)) continue;
      visited.add(role);
      order.push(role);
      const succinct = this.trusted(role)?.signed.delegations?.succinct_roles;
      if (succinct) {
        // Hashed bins: exactly one bin matches, and bins are terminating (TAP 15).
        stack.length = 0;
        stack.push(binRoleName(succinct.name_prefix, succinct.bit_length, binIndexOf(name, succinct.bit_length, nameHash())));
        continue;
      }
      const matching: string[] = [];
      for (const info of this.children(role)) {
        if (!isDelegatedTarget(name, info, nameHash)) continue;
        matching.push(info.name);
        if (info.terminating) {
          stack.length = 0;
          break;
        }
      }
      stack.push(...matching.reverse());
    }
    return order;
  }

  private delegationOrThrow(role: string): RoleDelegation {
    const info = this.delegation(role);
    if (!info) throw new UsageError(`${delegatorOf(role)} does not delegate ${role}`);
    return info;
  }
}

/** Where the walk gets the bytes of delegated roles. */
export interface RoleFiles {
  /** The copy of `role` kept by an earlier update, if any: verified like a download, downloaded again when it fails. */
  cached(role: string): Promise<Uint8Array | undefined>;
  /** Downloads `fileName` (`<version>.<role>.json`), at most `maxLength` bytes. */
  download(fileName: string, maxLength: number): Promise<Uint8Array>;
  /** Keeps the verified, downloaded bytes of `role` for later updates. */
  keep(role: string, bytes: Uint8Array): Promise<void>;
}

/** Downloads in flight at once while walking the children of one role (e.g. the bins of a `list`). */
const PARALLEL_DOWNLOADS = 8;

/**
 * Loads and verifies every delegated role reachable from the trusted targets, pre-order.
 * A role that fails verification is recorded as invalid and its subtree skipped; download
 * failures (network, timeout) abort. At most `maxRoles` roles (every bin of the largest succinct
 * layout plus room for explicit roles).
 */
export function loadDelegations(delegations: TrustedDelegations, files: RoleFiles, maxLength: number, maxRoles = 2 ** MAX_BIT_LENGTH + 1024): Promise<void> {
  return walkDelegations(delegations, files, maxLength, () => true, maxRoles);
}

/**
 * Loads and verifies only the delegated roles a lookup of `name` can reach: children whose
 * paths, hash prefixes or bin match it, recursively. Publishing into one hashed bin thus loads
 * that bin, never the other bins.
 */
export function loadDelegationsFor(delegations: TrustedDelegations, name: string, files: RoleFiles, maxLength: number): Promise<void> {
  let hash: string | undefined;
  const nameHash = () => (hash ??= targetNameHash(name));
  return walkDelegations(delegations, files, maxLength, (info) => isDelegatedTarget(name, info, nameHash), Infinity);
}

/**
 * Pre-order walk from `targets`: verifies each not yet loaded child that `follow` accepts, from its
 * kept copy when that still verifies (the snapshot's version, and length and hash where listed),
 * else downloaded (bounded by the snapshot's length, or `maxLength` when it lists none, as for
 * hashed bins). The children of one role are fetched a few at a time; they are verified in order.
 */
async function walkDelegations(
  delegations: TrustedDelegations,
  files: RoleFiles,
  maxLength: number,
  follow: (info: RoleDelegation) => boolean,
  maxRoles: number,
): Promise<void> {
  let loaded = 0;
  const download = (role: string): Promise<Uint8Array> => {
    const entry = delegations.snapshotEntry(role)!;
    return files.download(`${entry.version}.${encodeURIComponent(role)}.json`, entry.length ?? maxLength);
  };
  const visit = async (role: string): Promise<void> => {
    const children = delegations.children(role).filter((info) => follow(info) && delegations.status(info.name) === undefined);
    const budget = children.slice(0, Math.max(0, maxRoles - loaded));
    loaded += budget.length;
    const published = budget.filter((info) => delegations.snapshotEntry(info.name) !== undefined);
    const fetched = new Map<string, Promise<{ bytes: Uint8Array; kept: boolean }>>();
    let next = 0;
    let verified = 0;
    // Up to PARALLEL_DOWNLOADS children ahead of the one being verified.
    const startMore = () => {
      for (; next < published.length && next - verified < PARALLEL_DOWNLOADS; next += 1) {
        const name = published[next]!.name;
        const loading = files.cached(name).then(async (kept) => (kept ? { bytes: kept, kept: true } : { bytes: await download(name), kept: false }));
        loading.catch(() => {}); // awaited in order below; a failure ahead of that is not unhandled
        fetched.set(name, loading);
      }
    };
    startMore();
    for (const info of budget) {
      if (!delegations.snapshotEntry(info.name)) {
        delegations.markUnpublished(info.name);
        continue;
      }
      let { bytes, kept } = await fetched.get(info.name)!;
      verified += 1;
      startMore();
      let accepted = kept && updates(delegations, info.name, bytes);
      if (!accepted && kept) {
        // The kept copy is out of date: the current version from the server (a failed download aborts).
        bytes = await download(info.name);
        kept = false;
      }
      accepted ||= updates(delegations, info.name, bytes);
      if (!accepted) continue;
      if (!kept) await files.keep(info.name, bytes);
      await visit(info.name);
    }
  };
  await visit('targets');
}

/** Verifies and records `bytes` of `role`: false when verification refused them (recorded as invalid). */
function updates(delegations: TrustedDelegations, role: string, bytes: Uint8Array): boolean {
  try {
    delegations.update(role, bytes);
    return true;
  } catch (err) {
    if (err instanceof RepositoryError) return false;
    throw err;
  }
}
