/**
 * The level database under LevelStore, written durably and never written again after a failed write
 * until it has been reopened.
 *
 * Rules:
 * - Every write is one atomic batch with `sync: true`: it is on the disk (fdatasync of the write-ahead
 *   log) before the promise resolves, so an acknowledged change survives a process crash, an OS crash
 *   and a power loss.
 * - One batch is in flight at a time. Writes that arrive meanwhile go into the next batch together
 *   (group commit: one fsync for all of them; each caller's operations stay atomic, and they all
 *   succeed or all fail). No write can land behind a failed one in the same log.
 * - A failed write (full disk, I/O error, file size limit) may leave a torn record at the end of the
 *   write-ahead log. LevelDB would append later records after it, and on the next open it drops the
 *   log from the torn record on: acknowledged writes would be lost. So after a failed write nothing is
 *   written to this instance again. Writes fail at once with StorageUnavailableError (HTTP 503) while
 *   a background loop closes and reopens the database (recovery keeps every synced record and drops
 *   only the torn tail, then starts a fresh log); writes resume once the reopen succeeds.
 * - While the disk has no free space at all, reopening is not attempted (it would close the database
 *   for nothing); reads keep working from the open instance until then.
 */
import { statfs } from 'node:fs/promises';
import type { AbstractBatchOperation, AbstractSublevel } from 'abstract-level';
import { Level } from 'level';
import { StorageUnavailableError, describeStorageFault } from './storage-fault.js';

export type WriteOp = AbstractBatchOperation<Level<string, string>, string, string>;
export type Sublevel = AbstractSublevel<Level<string, string>, string | Buffer | Uint8Array, string, string>;

/** What the operator sees on /healthz and /readyz. */
export interface StorageHealth {
  writable: boolean;
  /** Why writes are refused, e.g. "no space left on device in /srv/tagtrust/db". */
  error?: string;
  /** ISO time of the failed write. */
  since?: string;
}

export interface DurableLevelOptions {
  /** Called after a successful reopen: whatever was remembered about the database must be forgotten. */
  onReopen?: () => void;
  log?: (line: string) => void;
  /** How long between reopen attempts after a failed write, in ms (default 1 s). */
  reopenIntervalMs?: number;
}

/** Below this many free bytes a reopen is not attempted (recovery needs room for a table and a log). */
const MIN_FREE_BYTES_TO_REOPEN = 64 * 1024;

export class DurableLevel {
  private fault?: { reason: string; since: Date };
  private retry?: NodeJS.Timeout;
  private closed = false;
  /** Every sublevel handed out: reopened with the database. */
  private readonly sublevels: Sublevel[] = [];
  /** Writes waiting for the batch in flight to finish. */
  private queue: { ops: WriteOp[]; done: (err?: unknown) => void }[] = [];
  private writing = false;

  private constructor(
    readonly db: Level<string, string>,
    private readonly location: string,
    private readonly options: DurableLevelOptions,
  ) {}

  /**
   * Opens (creating if needed) the database at `location`.
   * @throws StorageUnavailableError naming the fault (e.g. no space left on device) when the disk refuses
   */
  static async open(location: string, options: DurableLevelOptions = {}): Promise<DurableLevel> {
    const db = new Level<string, string>(location, { valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (err) {
      if (isLocked(err)) throw err;
      throw new StorageUnavailableError(`cannot open the database: ${describeStorageFault(err, location)}; free space or fix the disk, then start again`, { cause: err });
    }
    return new DurableLevel(db, location, options);
  }

  /** A sublevel of utf8 strings that stays usable across reopens (read through it; write through `write`). */
  sublevel(name: string): Sublevel {
    const sub = this.db.sublevel<string, string>(name, { valueEncoding: 'utf8' });
    this.sublevels.push(sub);
    return sub;
  }

  /**
   * Writes `ops` atomically and durably.
   * @throws StorageUnavailableError when this write failed (nothing of it is acknowledged) or writes
   *   are refused since an earlier failure
   */
  write(ops: WriteOp[]): Promise<void> {
    if (this.fault) return Promise.reject(this.refused());
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ ops, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.writing) void this.writeQueued();
    });
  }

  /** Writes everything queued as one synced batch, until the queue is empty. */
  private async writeQueued(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      const failure = this.fault ? this.refused() : await this.writeBatch(group.flatMap((w) => w.ops));
      for (const w of group) w.done(failure);
    }
    this.writing = false;
  }

  private async writeBatch(ops: WriteOp[]): Promise<StorageUnavailableError | undefined> {
    try {
      await this.db.batch(ops, { sync: true });
      return undefined;
    } catch (err) {
      const reason = describeStorageFault(err, this.location);
      if (!this.closed) {
        this.fault = { reason, since: new Date() };
        this.options.log?.(`tagtrust-server: storage write failed: ${reason}; refusing writes until the database is reopened`);
        this.scheduleReopen();
      }
      return new StorageUnavailableError(`storing the change failed (${reason}): it was not published; retry once the operator has freed space`, { cause: err });
    }
  }

  private refused(): StorageUnavailableError {
    const { reason, since } = this.fault!;
    return new StorageUnavailableError(`the server cannot store changes right now (${reason}, since ${since.toISOString()}): retry once the operator has freed space`);
  }

  health(): StorageHealth {
    return this.fault ? { writable: false, error: this.fault.reason, since: this.fault.since.toISOString() } : { writable: true };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.db.close();
  }

  private scheduleReopen(): void {
    this.retry = setTimeout(() => void this.reopen(), this.options.reopenIntervalMs ?? 1000);
    this.retry.unref();
  }

  private async reopen(): Promise<void> {
    if (this.closed || !this.fault) return;
    if ((await freeBytes(this.location)) < MIN_FREE_BYTES_TO_REOPEN) return this.scheduleReopen();
    try {
      await this.db.close();
      await this.db.open();
      // A closed sublevel stays closed when its parent reopens.
      await Promise.all(this.sublevels.map((sub) => sub.open()));
    } catch (err) {
      if (this.closed) return;
      this.fault.reason = describeStorageFault(err, this.location);
      this.options.log?.(`tagtrust-server: reopening the database failed: ${this.fault.reason}; retrying`);
      return this.scheduleReopen();
    }
    if (this.closed) return;
    this.options.onReopen?.();
    this.options.log?.(`tagtrust-server: database reopened after "${this.fault.reason}"; accepting writes again`);
    this.fault = undefined;
  }
}

async function freeBytes(location: string): Promise<number> {
  try {
    const stats = await statfs(location);
    return stats.bavail * stats.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

export function isLocked(err: unknown): boolean {
  return (err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED' || (err as { code?: string }).code === 'LEVEL_LOCKED';
}
