/**
 * Runs one verified TUF update of a collection (tuf-js Updater, client workflow 5.3-5.6) against the
 * client's persisted trusted state, and commits the new state only if the whole operation succeeds.
 *
 * Rules:
 * - The trusted state of a collection lives in `trust/<gun>/` under TAGTRUST_HOME. tuf-js reads it
 *   as its rollback baseline and writes files non-atomically, so each update works on a private copy;
 *   on success every file is moved back with an atomic rename (never over a newer version another
 *   process committed meanwhile), on failure (any error, including the caller's) the copy is
 *   discarded and the trusted state is exactly what it was.
 * - Every downloaded file passes the MetadataGuard (strict JSON, valid metadata, own key IDs, root
 *   chain limit, target names of this collection) before tuf-js verifies it, and the final state
 *   passes `checkTrusted` (maxAge) before it is committed.
 * - Without a trusted root, the first root is, in order: the caller's `rootFile`, the root pinned for
 *   the collection, or the server's `root.json` (trust on first use, said in a notice). A pin by root
 *   key ID must be met by whichever root is used. With `tofu: false`, an unpinned collection without
 *   a root file is refused.
 */
import { copyFile, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import type { TargetFile } from 'tuf-js';
import { writeFileAtomic } from '@tagtrust/keys';
import { NotFoundError, TagPolicy, UntrustedRootError, checkPolicyChange, delegatorOf, logHeadOf, tufBasePath } from '@tagtrust/shared';
import type { Metadata, RootSigned, SnapshotSigned, TargetsSigned, TimestampSigned } from '@tagtrust/shared';
import type { Deadline } from '../deadline.js';
import { ensurePrivateDir, trustDir } from '../home.js';
import { checkRootAgainstPin, findPin, parseRootDocument } from '../trust/pin-policy.js';
import { loadPins } from '../trust/pin-store.js';
import { FailureLog, accessDenied, mapTufError, watchTrustedSet } from './error-map.js';
import { checkLooksLikeTagtrust, serverFailed } from './first-contact.js';
import { explainOtherRootChain } from './recreated-collection.js';
import { listedFor } from './revoked-signers.js';
import { METADATA_LIMITS } from './download-limits.js';
import { DeadlineFetcher } from './fetcher.js';
import { MetadataGuard } from './metadata-guard.js';
import { TrustedDelegations, loadDelegations, loadDelegationsFor } from './trusted-delegations.js';
import type { RoleFiles } from './trusted-delegations.js';
import './linear-targets.js';
import type { TransportOptions } from '../http/transport.js';
import { SeenImmutableTags } from '../audit/seen-tags.js';
import { checkHeadProgress } from '../audit/log-verify.js';

/** Most new root versions one update walks by default (spec 5.3.3; as python-tuf and tuf-js). */
export const DEFAULT_MAX_ROOT_ROTATIONS = 256;

/** The puller's trust policy for one update. */
export interface TrustPolicy {
  /** Trust a first root from the server when nothing is pinned (default true). */
  tofu?: boolean;
  /** Refuse a timestamp signed longer ago than this, in ms (default: expiry only). */
  maxAgeMs?: number;
  /** Most new roots one update accepts (default 256). */
  maxRootRotations?: number;
}

export interface TrustedMetadata {
  root: Metadata<RootSigned>;
  timestamp: Metadata<TimestampSigned>;
  snapshot: Metadata<SnapshotSigned>;
  targets: Metadata<TargetsSigned>;
}

export interface CollectionSession {
  gun: string;
  metadata: TrustedMetadata;
  /** Looks a target up through the verified delegation tree. */
  getTargetInfo(name: string): Promise<TargetFile | undefined>;
  /** Every delegated role, downloaded and verified on first call (invalid roles are recorded, not thrown). */
  delegations(): Promise<TrustedDelegations>;
  /** Only the delegated roles a lookup of `name` reaches (e.g. one hashed bin), downloaded and verified. */
  delegationsFor(name: string): Promise<TrustedDelegations>;
  /** The immutable tags this client has seen (client/src/audit/seen-tags.ts); saved with the trusted state. */
  immutable: SeenImmutableTags;
}

export interface UpdateContext {
  home: string;
  server: string;
  gun: string;
  deadline: Deadline;
  warn: (message: string) => void;
  /** A root document to trust when the collection has no trusted state yet (instead of TOFU). */
  rootFile?: string;
  policy?: TrustPolicy;
  /** Bearer token for downloads, for servers that require a pull scope (TAGTRUST_TOKEN). */
  token?: string;
  /** Connection settings (CA) for downloads. */
  transport?: TransportOptions;
}

/** Refreshes the collection, runs `use` on the verified session, then commits the new trusted state. */
export async function withTrustedCollection<T>(context: UpdateContext, use: (session: CollectionSession) => Promise<T>): Promise<T> {
  const dir = trustDir(context.home, context.gun);
  await ensurePrivateDir(dir);
  const work = await mkdtemp(join(dir, '..', '.update-'));
  const failures = new FailureLog();
  try {
    const existing = (await readdir(dir)).filter((name) => name.endsWith('.json'));
    await Promise.all(existing.map((name) => copyFile(join(dir, name), join(work, name))));
    const bootstrapFetcher = new DeadlineFetcher(context.deadline, { gun: context.gun, failures, token: context.token, transport: context.transport });
    if (!existing.includes('root.json')) await bootstrapRoot(context, work, bootstrapFetcher);
    const previousTargets = await readFile(join(work, 'targets.json'), 'utf8').then((text) => (JSON.parse(text) as Metadata<TargetsSigned>).signed, () => undefined);
    // A key the trusted targets listed for a role and the new ones do not was revoked (revoked-signers.ts).
    failures.previouslyListed = (role) => (delegatorOf(role) === 'targets' ? listedFor(previousTargets?.delegations, role) : []);
    const previousTimestamp = await readFile(join(work, 'timestamp.json'), 'utf8').then((text) => (JSON.parse(text) as Metadata<TimestampSigned>).signed, () => undefined);
    const trustedRoot = JSON.parse(await readFile(join(work, 'root.json'), 'utf8')) as Metadata<RootSigned>;
    const maxRootRotations = context.policy?.maxRootRotations ?? DEFAULT_MAX_ROOT_ROTATIONS;
    const guard = new MetadataGuard({
      gun: context.gun,
      trustedRootVersion: trustedRoot.signed.version,
      maxRootRotations,
      maxAgeMs: context.policy?.maxAgeMs,
    });
    const fetcher = new DeadlineFetcher(context.deadline, {
      gun: context.gun,
      failures,
      token: context.token,
      transport: context.transport,
      inspect: (file, bytes) => guard.checkDownload(file, bytes),
    });
    let result: T;
    let immutable: SeenImmutableTags;
    try {
      const updater = new Updater({
        metadataDir: work,
        metadataBaseUrl: `${context.server}${tufBasePath(context.gun)}`,
        fetcher,
        config: {
          // One more than the limit, so that a longer chain reaches the guard and is refused.
          maxRootRotations: maxRootRotations + 1,
          rootMaxLength: METADATA_LIMITS.root,
          timestampMaxLength: METADATA_LIMITS.timestamp,
          snapshotMaxLength: METADATA_LIMITS.snapshot,
          targetsMaxLength: METADATA_LIMITS.targets,
        },
      });
      watchTrustedSet(updater, failures);
      await updater.refresh();
      const metadata = await readTrusted(work);
      guard.checkTrusted(metadata, new Date());
      // Signed immutability: the policy only weakens with the root's approval (shared/src/immutability.ts).
      checkPolicyChange(context.gun, previousTargets, metadata.targets.signed, metadata.root.signed);
      // The tag log never shrinks or forks between two timestamps this client trusted (client/src/audit/log-verify.ts).
      checkHeadProgress(context.gun, previousTimestamp && logHeadOf(previousTimestamp), logHeadOf(metadata.timestamp.signed));
      immutable = await SeenImmutableTags.load(dir, context.gun, TagPolicy.of(metadata.targets.signed));
      const baseUrl = `${context.server}${tufBasePath(context.gun)}`;
      const files: RoleFiles = {
        cached: (role) => readKeptRole(dir, role).then((kept) => kept ?? readFile(join(work, `${encodeURIComponent(role)}.json`)).catch(() => undefined)),
        download: (file, max) => fetcher.downloadBytes(`${baseUrl}/${file}`, max),
        keep: (role, bytes) => keepRole(work, role, bytes),
      };
      let tree: Promise<TrustedDelegations> | undefined;
      const delegations = () =>
        (tree ??= (async () => {
          // Loading the tree downloads again, and each successful download clears the failure log:
          // keep the failure a tuf-js lookup recorded before (lookupTarget rethrows its error).
          const pending = failures.latest;
          const trusted = new TrustedDelegations(metadata.snapshot.signed, metadata.targets, new Date());
          await loadDelegations(trusted, files, METADATA_LIMITS.targets);
          if (pending) failures.record(pending);
          return trusted;
        })());
      const delegationsFor = async (name: string) => {
        const pending = failures.latest;
        const trusted = new TrustedDelegations(metadata.snapshot.signed, metadata.targets, new Date());
        await loadDelegationsFor(trusted, name, files, METADATA_LIMITS.targets);
        if (pending) failures.record(pending);
        return trusted;
      };
      result = await use({ gun: context.gun, metadata, getTargetInfo: (name) => updater.getTargetInfo(name), delegations, delegationsFor, immutable });
    } catch (err) {
      const mapped = mapTufError(err, context.gun, context.deadline, failures);
      // Only trust this home kept can be stale; a root just taken from a pin or root file is what the user chose.
      if (!existing.includes('root.json')) throw mapped;
      throw await explainOtherRootChain(mapped, context.gun, trustedRoot, () => bootstrapFetcher.downloadBytes(`${context.server}${tufBasePath(context.gun)}/root.json`, METADATA_LIMITS.root));
    }
    await commit(work, dir);
    await immutable.save();
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Moves the verified files of `work` into `dir` with atomic renames, never replacing a file with an
 * older version of it: another process updating the same collection may have committed a newer state
 * meanwhile, and the trusted state is the rollback baseline. After a root rotation every file is
 * taken (a key rotation may legitimately lower timestamp or snapshot versions, spec 5.3.11).
 */
async function commit(work: string, dir: string): Promise<void> {
  const version = async (path: string): Promise<number> => {
    try {
      return (JSON.parse(await readFile(path, 'utf8')) as Metadata).signed.version;
    } catch {
      return 0;
    }
  };
  const names = (await readdir(work)).filter((name) => name !== KEPT_ROLES);
  const rootRotated = (await version(join(work, 'root.json'))) > (await version(join(dir, 'root.json')));
  for (const name of names) {
    if (rootRotated || (await version(join(work, name))) >= (await version(join(dir, name)))) {
      await rename(join(work, name), join(dir, name));
    }
  }
  // Roles kept during this update (only new ones are in the work copy), by the same rule.
  const kept = await readdir(join(work, KEPT_ROLES)).catch(() => [] as string[]);
  if (kept.length > 0) await ensurePrivateDir(join(dir, KEPT_ROLES));
  for (const name of kept) {
    const [from, to] = [join(work, KEPT_ROLES, name), join(dir, KEPT_ROLES, name)];
    if ((await version(from)) >= (await version(to))) await rename(from, to);
  }
}

/** Records a root this client created itself (init) as the collection's trusted root. */
export async function trustRoot(home: string, gun: string, root: Metadata<RootSigned>): Promise<void> {
  const dir = trustDir(home, gun);
  await ensurePrivateDir(dir);
  for (const name of await readdir(dir)) await rm(join(dir, name), { force: true, recursive: true });
  await writeFileAtomic(join(dir, 'root.json'), JSON.stringify(root), 0o600);
}

/**
 * After a successful publish: stores the targets this client signed and the server accepted as the
 * local copy of `targets.json`, or of the delegated `role` (e.g. a hashed bin) among the kept roles.
 * It is not trusted by being there: the next refresh (client workflow 5.6) verifies it against the
 * new snapshot's version (and hash, where listed) and downloads the server's copy if it does not
 * match. Saves downloading one's own, possibly large, file again.
 */
export async function recordPublishedTargets(home: string, gun: string, targets: Metadata<TargetsSigned>, role = 'targets'): Promise<void> {
  const bytes = JSON.stringify(targets);
  if (role === 'targets') await writeFileAtomic(join(trustDir(home, gun), 'targets.json'), bytes, 0o600);
  else await keepRole(trustDir(home, gun), role, Buffer.from(bytes));
}

/**
 * Kept delegated roles (`<trust dir>/roles/<encoded role>.json`): copies of roles this client
 * verified or published, so that a later walk (list, publish into a bin) verifies them instead of
 * downloading them again. A cache, not the rollback baseline: every use verifies the copy against
 * the current snapshot and delegator. An update does not copy them into its work copy (a
 * 100,000-tag collection keeps ~15 MB of bins); it reads them in place, writes the roles it
 * downloads into the work copy's `roles/`, and `commit` moves those in.
 */
const KEPT_ROLES = 'roles';

function keptRolePath(dir: string, role: string): string {
  return join(dir, KEPT_ROLES, `${encodeURIComponent(role)}.json`);
}

async function readKeptRole(dir: string, role: string): Promise<Uint8Array | undefined> {
  return readFile(keptRolePath(dir, role)).catch(() => undefined);
}

async function keepRole(dir: string, role: string, bytes: Uint8Array): Promise<void> {
  await ensurePrivateDir(join(dir, KEPT_ROLES));
  await writeFileAtomic(keptRolePath(dir, role), bytes, 0o600);
}

async function readTrusted(dir: string): Promise<TrustedMetadata> {
  const load = async (role: string) => JSON.parse(await readFile(join(dir, `${role}.json`), 'utf8'));
  const [root, timestamp, snapshot, targets] = await Promise.all(['root', 'timestamp', 'snapshot', 'targets'].map(load));
  return { root, timestamp, snapshot, targets };
}

async function bootstrapRoot(context: UpdateContext, work: string, fetcher: DeadlineFetcher): Promise<void> {
  const pin = findPin(await loadPins(context.home), context.gun);
  let text: string;
  let source: string;
  if (context.rootFile) {
    source = context.rootFile;
    text = await readFile(context.rootFile, 'utf8').catch((err: Error) => {
      throw new UntrustedRootError(`cannot read root file ${context.rootFile}: ${err.message}`);
    });
  } else if (pin?.root) {
    source = `the pin for ${pin.pattern}`;
    text = JSON.stringify(pin.root);
  } else {
    if (!pin && context.policy?.tofu === false) {
      throw new UntrustedRootError(
        `${context.gun} is not pinned and trust on first use is off (--no-tofu / TAGTRUST_NO_TOFU): ` +
          `pin its root with \`tagtrust trust pin ${context.gun} --root-file FILE\` or --root-keyid ID, or pass --root-file`,
      );
    }
    source = `${context.server}${tufBasePath(context.gun)}/root.json`;
    text = await downloadRoot(source, context, fetcher);
    checkLooksLikeTagtrust(text, context.server, context.gun);
  }
  const root = parseRootDocument(text, source, context.gun);
  if (pin) checkRootAgainstPin(root, pin, context.gun, source);
  if (!context.rootFile && !pin) {
    const keyIds = root.signed.roles.root.keyids.map((id) => id.slice(0, 8)).join(', ');
    context.warn(
      `trusting root v${root.signed.version} of ${context.gun} on first use (root keys ${keyIds}); pin it with \`tagtrust trust pin\` or --root-file to avoid trust on first use`,
    );
  }
  await writeFileAtomic(join(work, 'root.json'), text, 0o600);
}

async function downloadRoot(url: string, context: UpdateContext, fetcher: DeadlineFetcher): Promise<string> {
  try {
    return (await fetcher.downloadBytes(url, METADATA_LIMITS.root)).toString('utf8');
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404) {
      throw new NotFoundError(`collection ${context.gun} does not exist on ${context.server}: check the name, or create it with \`tagtrust init ${context.gun}\``);
    }
    if (status !== undefined && status >= 500 && !context.deadline.expired) throw serverFailed(status, context.server, context.gun, err);
    throw accessDenied(status, context.gun, 'root', err) ?? mapTufError(err, context.gun, context.deadline);
  }
}

