/**
 * Staged tag changes (Notary's changelist): `tagtrust sign|unsign --stage` records a change in
 * TAGTRUST_HOME/changes/<gun, URI-encoded>.json without a server or a key; `tagtrust publish` signs
 * and publishes them all in one publish and drops them once the server has acknowledged it.
 *
 * Rules: one staged change per tag (a later one replaces it); at most MAX_STAGED_CHANGES per
 * collection; files 0600 in a 0700 directory, replaced atomically (write, fsync, rename) under a
 * lock file, so two commands staging at once lose nothing; a file that does not parse is refused
 * with the way out (`tagtrust reset <gun> --all`), never half-read.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@tagtrust/keys';
import { InvalidInputError, NotFoundError, TagTrustError, TimeoutError, TooLargeError, isBinRoleName, isDelegatedRoleName, parseDigest, parseGun, targetName } from '@tagtrust/shared';
import { ensurePrivateDir } from '../home.js';

export const CHANGELIST_FORMAT = 'tagtrust-changelist/1';
/** Most staged changes per collection (one publish signs them all). */
export const MAX_STAGED_CHANGES = 10_000;
/** Largest changelist file read (10,000 changes take about 3 MB). */
const MAX_FILE_BYTES = 8 * 1024 * 1024;
// Long enough for a queue of staging commands on a busy machine (each write is fsynced).
const LOCK_WAIT_MS = 15_000;
/** A lock file older than this was left by a command that died: it is taken over. */
const STALE_LOCK_MS = 30_000;

/** A change to stage: sign `tag` -> digest/size, or unsign it. */
export type NewChange =
  | { action: 'sign'; tag: string; digest: string; size: number; mediaType?: string; role?: string }
  | { action: 'unsign'; tag: string; role?: string };

/** A staged change: what was staged, an id and when (ISO 8601). */
export type StagedChange = NewChange & { id: string; staged: string };

interface ChangelistFile {
  format: typeof CHANGELIST_FORMAT;
  gun: string;
  changes: StagedChange[];
}

export const changesDir = (home: string) => join(home, 'changes');
export const changelistPath = (home: string, gun: string) => join(changesDir(home), `${encodeURIComponent(gun)}.json`);

/** The staged changes of `gun`, oldest first; none when nothing is staged. @throws InvalidInputError for a corrupt file */
export async function readChangelist(home: string, gunInput: string): Promise<StagedChange[]> {
  const gun = parseGun(gunInput);
  const path = changelistPath(home, gun);
  let text: string;
  try {
    const size = (await stat(path)).size;
    if (size > MAX_FILE_BYTES) throw new TooLargeError(`${path} is ${size} bytes, over the ${MAX_FILE_BYTES} a changelist may have: drop it with \`tagtrust reset ${gun} --all\``);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    return parseChangelist(JSON.parse(text) as unknown, gun);
  } catch (err) {
    throw new InvalidInputError(`${path} is not a tagtrust changelist (${(err as Error).message}): drop it with \`tagtrust reset ${gun} --all\``, { cause: err });
  }
}

/** Every collection with staged changes in this home, by name. */
export async function readAllChangelists(home: string): Promise<{ gun: string; changes: StagedChange[] }[]> {
  const files = await readdir(changesDir(home)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const guns = files.filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => decodeURIComponent(f.slice(0, -'.json'.length)));
  const all = await Promise.all(guns.sort().map(async (gun) => ({ gun, changes: await readChangelist(home, gun) })));
  return all.filter((list) => list.changes.length > 0);
}

/**
 * Stages `changes` for `gun`: each replaces a staged change of the same tag.
 * @returns the collection's staged changes afterwards
 * @throws TooLargeError past MAX_STAGED_CHANGES
 */
export async function stageChanges(home: string, gunInput: string, changes: NewChange[]): Promise<StagedChange[]> {
  const gun = parseGun(gunInput);
  const now = new Date().toISOString();
  const staged = changes.map((change) => {
    try {
      return checkChange(gun, { ...change, id: randomBytes(8).toString('hex'), staged: now });
    } catch (err) {
      if (err instanceof TagTrustError) throw err;
      throw new InvalidInputError(`cannot stage ${gun}:${change.tag}: ${(err as Error).message}`);
    }
  });
  return updateChangelist(home, gun, (current) => {
    const tags = new Set(staged.map((c) => c.tag));
    const next = [...current.filter((c) => !tags.has(c.tag)), ...staged];
    if (next.length > MAX_STAGED_CHANGES) {
      throw new TooLargeError(`${gun} would have ${next.length} staged changes, over the ${MAX_STAGED_CHANGES} one publish takes: run \`tagtrust publish ${gun}\` first`);
    }
    return next;
  });
}

/**
 * Drops staged changes of `gun`: those of `tags`, or all. A corrupt changelist is dropped whole with `all`.
 * @returns the dropped changes (empty when a corrupt file was dropped)
 * @throws NotFoundError when one of `tags` has no staged change (nothing is dropped then)
 */
export async function dropChanges(home: string, gunInput: string, which: { tags: string[] } | { all: true }): Promise<StagedChange[]> {
  const gun = parseGun(gunInput);
  if ('all' in which) {
    const current = await readChangelist(home, gun).catch(() => []);
    await withLock(home, gun, () => rm(changelistPath(home, gun), { force: true }));
    return current;
  }
  let dropped: StagedChange[] = [];
  await updateChangelist(home, gun, (current) => {
    const missing = which.tags.find((tag) => !current.some((c) => c.tag === tag));
    if (missing !== undefined) throw new NotFoundError(`${gun}:${missing} has no staged change: \`tagtrust status ${gun}\` lists them`);
    dropped = current.filter((c) => which.tags.includes(c.tag));
    return current.filter((c) => !which.tags.includes(c.tag));
  });
  return dropped;
}

/** Drops the staged changes with these ids (the ones a publish just landed); changes staged since stay. */
export async function dropPublished(home: string, gun: string, ids: string[]): Promise<void> {
  const published = new Set(ids);
  await updateChangelist(home, gun, (current) => current.filter((c) => !published.has(c.id)));
}

async function updateChangelist(home: string, gun: string, update: (current: StagedChange[]) => StagedChange[]): Promise<StagedChange[]> {
  return withLock(home, gun, async () => {
    const next = update(await readChangelist(home, gun));
    const path = changelistPath(home, gun);
    if (next.length === 0) {
      await rm(path, { force: true });
    } else {
      const file: ChangelistFile = { format: CHANGELIST_FORMAT, gun, changes: next };
      await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, 0o600);
    }
    return next;
  });
}

/** Runs `job` holding `<changelist>.lock` (created exclusively; taken over when stale). */
async function withLock<T>(home: string, gun: string, job: () => Promise<T>): Promise<T> {
  // Creates the home too (recursive), 0700 like every directory of a home.
  await ensurePrivateDir(changesDir(home));
  const lock = `${changelistPath(home, gun)}.lock`;
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) await rm(lock, { force: true });
      else if (Date.now() > until) throw new TimeoutError(`another tagtrust command has held ${lock} for ${Math.round(age / 1000)} s: wait for it, or remove the file if none runs`);
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  try {
    return await job();
  } finally {
    await rm(lock, { force: true });
  }
}

function parseChangelist(value: unknown, gun: string): StagedChange[] {
  const file = value as Partial<ChangelistFile> | null;
  if (typeof file !== 'object' || file === null || file.format !== CHANGELIST_FORMAT) throw new Error(`format is not ${CHANGELIST_FORMAT}`);
  if (file.gun !== gun) throw new Error(`it holds changes of ${String(file.gun)}`);
  if (!Array.isArray(file.changes) || file.changes.length > MAX_STAGED_CHANGES) throw new Error('changes is not a list of at most 10,000');
  return file.changes.map((change) => checkChange(gun, change as StagedChange));
}

/** A staged change as it must be: a valid tag, digest and size, no other fields. @throws on anything else */
function checkChange(gun: string, change: StagedChange): StagedChange {
  if (typeof change !== 'object' || change === null) throw new Error('a change is not an object');
  const { id, staged, action, tag, role } = change;
  if (typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id) || typeof staged !== 'string' || typeof tag !== 'string') throw new Error('a change lacks its id, time or tag');
  targetName(gun, tag);
  if (role !== undefined && (typeof role !== 'string' || !(role === 'targets' || isDelegatedRoleName(role) || isBinRoleName(role)))) throw new Error(`role of ${tag} is not a role name`);
  const common = { id, staged, tag, ...(role === undefined ? {} : { role }) };
  if (action === 'unsign') return { action, ...common };
  if (action !== 'sign') throw new Error(`action of ${tag} is neither sign nor unsign`);
  const { digest, size, mediaType } = change;
  parseDigest(digest);
  if (!Number.isSafeInteger(size) || size < 1) throw new Error(`size of ${tag} is not a positive whole number`);
  if (mediaType !== undefined && (typeof mediaType !== 'string' || mediaType.length > 255)) throw new Error(`mediaType of ${tag} is not a short string`);
  return { action, ...common, digest, size, ...(mediaType === undefined ? {} : { mediaType }) };
}
