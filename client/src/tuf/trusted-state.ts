/**
 * The trusted state of a collection on disk (`TAGTRUST_HOME/trust/<gun>/`) and how an update changes it.
 *
 * Rules:
 * - Files are 0600 and directories 0700, whoever wrote them (tuf-js writes with the umask's mode).
 * - An update works on a private copy (`trust/.update-<host>-<pid>-<random>/`); tuf-js writes there,
 *   non-atomically, each role as soon as it verified it (client workflow 5.3.8, 5.4.5, 5.5.7, 5.6.6).
 * - `commitWork` is all-or-nothing: it first writes a journal (`<dir>/.commit-<work>.json`, atomically)
 *   naming the work copy and its files in workflow order, then renames each file in, then removes the
 *   journal. A process killed between two renames leaves the journal; the next `recoverTrustedState`
 *   replays it, so the state is either all old or all new once anyone opens it again.
 * - A file never replaces a newer version of itself (another process may have committed a newer state
 *   meanwhile: the trusted state is the rollback baseline), except after a root rotation, where every
 *   file of the new root is taken (a key rotation may lower timestamp or snapshot versions, spec 5.3.11).
 * - Work copies and journals of processes that died (same host, pid gone) are replayed or removed by
 *   the next update; those of live processes, or of other hosts, are left alone (see STALE_AFTER_MS).
 */
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '@tagtrust/keys';
import type { Metadata, RootSigned, TargetsSigned } from '@tagtrust/shared';
import { ensurePrivateDir, trustDir } from '../home.js';
import type { TrustedMetadata } from './trusted-types.js';

/** Delegated roles kept for later walks, in `<dir>/roles/` (a verified cache, not the rollback baseline). */
export const KEPT_ROLES = 'roles';

/** Top-level files in the order the client workflow verifies them: a commit renames them in this order. */
const WORKFLOW_ORDER = ['root.json', 'timestamp.json', 'snapshot.json', 'targets.json'];

/** A work copy or journal from another host, or without an owner, is removed once this old. */
const STALE_AFTER_MS = 24 * 60 * 60 * 1000;

const WORK_PREFIX = '.update-';
const JOURNAL_PREFIX = '.commit-';

interface Journal {
  /** Name of the work copy in the trust directory. */
  work: string;
  /** Files of the work copy to rename into the collection's directory, in order (`roles/<file>` for kept roles). */
  files: string[];
  /** The work copy's root is newer than the committed one: take every file. */
  rootRotated: boolean;
  /** Version of the work copy's root. */
  rootVersion: number;
}

/** This host, as it appears in the names of work copies. */
const HOST = hostname().replace(/[^A-Za-z0-9]/g, '_').slice(0, 40);

/** Owner of a work copy or journal: `<host>-<pid>-<random>`. */
function ownerTag(): string {
  return `${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A fresh private copy of the trusted state of `dir` (top-level files only; kept roles are read in place). */
export async function createWorkCopy(dir: string): Promise<{ work: string; existing: string[] }> {
  const work = join(dirname(dir), `${WORK_PREFIX}${ownerTag()}`);
  await mkdir(work, { mode: 0o700 });
  const existing = (await readdir(dir)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
  await Promise.all(existing.map((name) => copyFile(join(dir, name), join(work, name))));
  return { work, existing };
}

async function versionOf(path: string): Promise<number> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as Metadata).signed.version;
  } catch {
    return 0;
  }
}

/**
 * Crash test hook (test/trusted-state-crash.test.ts): TAGTRUST_TEST_KILL_AFTER_COMMIT_STEPS=N makes the
 * process SIGKILL itself after step N of a commit's renames, the window a real crash would hit.
 */
function killPointReached(step: number): boolean {
  return process.env.TAGTRUST_TEST_KILL_AFTER_COMMIT_STEPS === String(step);
}

/**
 * Moves the files of `work` into `dir`, all or nothing (journal first), never over a newer version.
 * Removes the work copy.
 */
export async function commitWork(work: string, dir: string): Promise<void> {
  const top = (await readdir(work)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
  const ordered = [...WORKFLOW_ORDER.filter((name) => top.includes(name)), ...top.filter((name) => !WORKFLOW_ORDER.includes(name)).sort()];
  const kept = (await readdir(join(work, KEPT_ROLES)).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
  const files = [...ordered, ...kept.map((name) => `${KEPT_ROLES}/${name}`)];
  for (const name of files) await chmod(join(work, name), 0o600);
  const rootVersion = await versionOf(join(work, 'root.json'));
  const journal: Journal = { work: work.slice(dirname(work).length + 1), files, rootVersion, rootRotated: rootVersion > (await versionOf(join(dir, 'root.json'))) };
  const journalPath = join(dir, `${JOURNAL_PREFIX}${journal.work}.json`);
  await writeFileAtomic(journalPath, JSON.stringify(journal), 0o600);
  await applyJournal(journal, dir);
  await rm(journalPath, { force: true });
  await rm(work, { recursive: true, force: true });
}

async function applyJournal(journal: Journal, dir: string): Promise<void> {
  const work = join(dirname(dir), journal.work);
  // After a later commit installed a newer root, this one is no longer a rotation to take whole.
  const takeAll = journal.rootRotated && (await versionOf(join(dir, 'root.json'))) <= journal.rootVersion;
  let step = 0;
  for (const name of journal.files) {
    const [from, to] = [join(work, name), join(dir, name)];
    const version = await versionOf(from);
    if (version === 0) continue; // already moved by an interrupted run, or unreadable
    if (name.startsWith(`${KEPT_ROLES}/`)) await ensurePrivateDir(join(dir, KEPT_ROLES));
    if (takeAll || version >= (await versionOf(to))) await rename(from, to);
    step += 1;
    if (killPointReached(step)) process.kill(process.pid, 'SIGKILL');
  }
}

/** A journal names its own work copy and only state files in it (never a path out of the trust directory). */
function isSafeJournal(journal: Journal, workName: string): boolean {
  const file = new RegExp(`^(?:${KEPT_ROLES}/)?[^/\\\\]+\\.json$`);
  return (
    journal.work === workName &&
    Array.isArray(journal.files) &&
    journal.files.every((name) => typeof name === 'string' && file.test(name) && !name.includes('..')) &&
    typeof journal.rootVersion === 'number' &&
    typeof journal.rootRotated === 'boolean'
  );
}

/** Is the process that owns a work copy or journal named `<prefix><host>-<pid>-<random>` gone? */
async function ownerIsGone(path: string, name: string): Promise<boolean> {
  const match = /^(.+)-(\d+)-[0-9a-f]{8}$/.exec(name);
  if (match && match[1] === HOST) {
    const pid = Number(match[2]);
    if (pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
  // Another host's (or an older client's) copy: its owner cannot be asked; only age tells.
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > STALE_AFTER_MS;
}

/**
 * Finishes what crashed processes left behind in the trust directory of `dir`: replays the journals
 * of `dir` whose owner is gone, then removes work copies whose owner is gone. Also restores private
 * modes (0700 directories, 0600 files) on the collection's directory and top-level files.
 */
export async function recoverTrustedState(dir: string): Promise<void> {
  await ensurePrivateDir(dir);
  await chmod(dir, 0o700);
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (name.startsWith(JOURNAL_PREFIX) && name.endsWith('.json')) {
      const workName = name.slice(JOURNAL_PREFIX.length, -'.json'.length);
      if (!(await ownerIsGone(path, workName.slice(WORK_PREFIX.length)))) continue;
      const journal = await readFile(path, 'utf8').then((text) => JSON.parse(text) as Journal, () => undefined);
      if (journal && isSafeJournal(journal, workName)) await applyJournal(journal, dir);
      await rm(path, { force: true });
      await rm(join(dirname(dir), workName), { recursive: true, force: true });
    } else if (name.endsWith('.json')) {
      await chmod(path, 0o600);
    }
  }
  for (const name of await readdir(dirname(dir))) {
    if (!name.startsWith(WORK_PREFIX)) continue;
    const path = join(dirname(dir), name);
    if (await ownerIsGone(path, name.slice(WORK_PREFIX.length))) await rm(path, { recursive: true, force: true });
  }
}

/** The four top-level roles of a state directory (a collection's or a work copy). */
export async function readTrusted(dir: string): Promise<TrustedMetadata> {
  const load = async (role: string) => JSON.parse(await readFile(join(dir, `${role}.json`), 'utf8'));
  const [root, timestamp, snapshot, targets] = await Promise.all(['root', 'timestamp', 'snapshot', 'targets'].map(load));
  return { root, timestamp, snapshot, targets };
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
 * Kept delegated roles (`<dir>/roles/<encoded role>.json`): copies of roles this client verified or
 * published, so that a later walk (list, publish into a bin) verifies them instead of downloading
 * them again. Every use verifies the copy against the current snapshot and delegator. An update does
 * not copy them into its work copy (a 100,000-tag collection keeps ~15 MB of bins); it reads them in
 * place and writes the roles it downloads into the work copy's `roles/`, which the commit moves in.
 */
function keptRolePath(dir: string, role: string): string {
  return join(dir, KEPT_ROLES, `${encodeURIComponent(role)}.json`);
}

export async function readKeptRole(dir: string, role: string): Promise<Uint8Array | undefined> {
  return readFile(keptRolePath(dir, role)).catch(() => undefined);
}

export async function keepRole(dir: string, role: string, bytes: Uint8Array): Promise<void> {
  await ensurePrivateDir(join(dir, KEPT_ROLES));
  await writeFileAtomic(keptRolePath(dir, role), bytes, 0o600);
}
