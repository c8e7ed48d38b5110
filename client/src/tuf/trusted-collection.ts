/**
 * Runs one verified TUF update of a collection (tuf-js Updater, client workflow 5.3-5.6) against the
 * client's persisted trusted state, and commits the new state only if the whole operation succeeds.
 *
 * Rules:
 * - The trusted state of a collection lives in `trust/<gun>/` under TAGTRUST_HOME. tuf-js reads it
 *   as its rollback baseline and writes files non-atomically, so each update works on a private copy;
 *   on success every file is moved back with an atomic rename, on failure the copy is discarded and
 *   the trusted state is exactly what it was.
 * - Without a trusted root: a root given by the caller (`rootFile`) is used, otherwise the server's
 *   current root is trusted on first use (TOFU) and a notice says so.
 */
import { copyFile, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import type { TargetFile } from 'tuf-js';
import { verifyRoleSignatures, writeFileAtomic } from '@tagtrust/keys';
import { NotFoundError, TooLargeError, UntrustedRootError, tufBasePath, validateMetadata } from '@tagtrust/shared';
import type { Metadata, RootSigned, SnapshotSigned, TargetsSigned, TimestampSigned } from '@tagtrust/shared';
import type { Deadline } from '../deadline.js';
import { ensurePrivateDir, trustDir } from '../home.js';
import { mapTufError } from './error-map.js';
import { DeadlineFetcher } from './fetcher.js';
import { TrustedDelegations, loadDelegations } from './trusted-delegations.js';

/** Size caps for downloaded metadata (bytes); a larger file is cut off, not read whole. */
export const METADATA_LIMITS = {
  root: 512_000,
  timestamp: 16_384,
  snapshot: 2_000_000,
  targets: 5_000_000,
};

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
}

export interface UpdateContext {
  home: string;
  server: string;
  gun: string;
  deadline: Deadline;
  warn: (message: string) => void;
  /** A root document to trust when the collection has no trusted state yet (instead of TOFU). */
  rootFile?: string;
}

/** Refreshes the collection, runs `use` on the verified session, then commits the new trusted state. */
export async function withTrustedCollection<T>(context: UpdateContext, use: (session: CollectionSession) => Promise<T>): Promise<T> {
  const dir = trustDir(context.home, context.gun);
  await ensurePrivateDir(dir);
  const work = await mkdtemp(join(dir, '..', '.update-'));
  const fetcher = new DeadlineFetcher(context.deadline);
  try {
    const existing = (await readdir(dir)).filter((name) => name.endsWith('.json'));
    await Promise.all(existing.map((name) => copyFile(join(dir, name), join(work, name))));
    if (!existing.includes('root.json')) await bootstrapRoot(context, work, fetcher);
    const updater = new Updater({
      metadataDir: work,
      metadataBaseUrl: `${context.server}${tufBasePath(context.gun)}`,
      fetcher,
      config: {
        rootMaxLength: METADATA_LIMITS.root,
        timestampMaxLength: METADATA_LIMITS.timestamp,
        snapshotMaxLength: METADATA_LIMITS.snapshot,
        targetsMaxLength: METADATA_LIMITS.targets,
      },
    });
    let result: T;
    try {
      await updater.refresh();
      const metadata = await readTrusted(work);
      const baseUrl = `${context.server}${tufBasePath(context.gun)}`;
      let tree: Promise<TrustedDelegations> | undefined;
      const delegations = () =>
        (tree ??= (async () => {
          const trusted = new TrustedDelegations(metadata.snapshot.signed, metadata.targets, new Date());
          await loadDelegations(trusted, (file, max) => fetcher.downloadBytes(`${baseUrl}/${file}`, max), METADATA_LIMITS.targets);
          return trusted;
        })());
      result = await use({ gun: context.gun, metadata, getTargetInfo: (name) => updater.getTargetInfo(name), delegations });
    } catch (err) {
      throw mapTufError(err, context.gun, context.deadline, fetcher);
    }
    for (const name of await readdir(work)) await rename(join(work, name), join(dir, name));
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Records a root this client created itself (init) as the collection's trusted root. */
export async function trustRoot(home: string, gun: string, root: Metadata<RootSigned>): Promise<void> {
  const dir = trustDir(home, gun);
  await ensurePrivateDir(dir);
  for (const name of await readdir(dir)) await rm(join(dir, name), { force: true });
  await writeFileAtomic(join(dir, 'root.json'), JSON.stringify(root), 0o600);
}

async function readTrusted(dir: string): Promise<TrustedMetadata> {
  const load = async (role: string) => JSON.parse(await readFile(join(dir, `${role}.json`), 'utf8'));
  const [root, timestamp, snapshot, targets] = await Promise.all(['root', 'timestamp', 'snapshot', 'targets'].map(load));
  return { root, timestamp, snapshot, targets };
}

async function bootstrapRoot(context: UpdateContext, work: string, fetcher: DeadlineFetcher): Promise<void> {
  let text: string;
  let source: string;
  if (context.rootFile) {
    source = context.rootFile;
    text = await readFile(context.rootFile, 'utf8').catch((err: Error) => {
      throw new UntrustedRootError(`cannot read root file ${context.rootFile}: ${err.message}`);
    });
  } else {
    source = `${context.server}${tufBasePath(context.gun)}/root.json`;
    text = await downloadRoot(source, context, fetcher);
  }
  let root: Metadata<RootSigned>;
  try {
    root = validateMetadata(JSON.parse(text), 'root');
    verifyRoleSignatures(root, 'root', root.signed.roles.root, root.signed.keys);
  } catch (err) {
    throw new UntrustedRootError(`the root of ${context.gun} from ${source} is not a valid self-signed root: ${(err as Error).message}`, { cause: err });
  }
  if (!context.rootFile) {
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
    if (/Max length/.test(String(err))) throw new TooLargeError(`the root of ${context.gun} is larger than ${METADATA_LIMITS.root} bytes; refusing it`);
    throw mapTufError(err, context.gun, context.deadline, fetcher);
  }
}
