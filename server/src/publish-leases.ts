/**
 * Publish leases: one publisher at a time per collection, first come first served.
 *
 * Without them every publisher that loses a race (409) repeats its whole refresh-sign-post cycle, so
 * N concurrent publishers make O(N²) attempts and most miss their deadline. A publisher that takes
 * the collection's lease first refreshes, signs and posts while nobody else who follows the protocol
 * can move the collection, so its publish normally succeeds at the first attempt: N publishers cost N
 * cycles. Leases are advisory: a publish without one is still accepted (the version check still
 * refuses a stale one), so old clients keep working and a lost lease costs only a retry.
 *
 * Rules:
 * - Waiters are granted the lease in arrival order. A waiter that goes away (its connection closed)
 *   leaves the queue.
 * - A lease ends when its holder releases it (DELETE, or a successful publish that carries it in the
 *   `x-tagtrust-lease` header, which saves the client a request) or after `ttlMs` (a holder that died
 *   blocks the others for at most that long).
 * - The queue of one collection is bounded (`maxQueue`), and so is a wait (`maxWaitMs`): past either
 *   the request is refused with a ServerError (503) that says the collection is busy.
 */
import { randomBytes } from 'node:crypto';
import { ServerError } from '@tagtrust/shared';

export interface PublishLeaseOptions {
  /** How long a lease lasts unless released (default 10 s). */
  ttlMs?: number;
  /** Most publishers waiting for one collection (default 1,000). */
  maxQueue?: number;
  /** Longest wait for a lease (default 60 s). */
  maxWaitMs?: number;
}

export interface Lease {
  lease: string;
  ttlMs: number;
  /** Publishers that were waiting ahead of this one when it asked. */
  waitedBehind: number;
}

interface Waiter {
  grant: (id: string) => void;
  fail: (err: Error) => void;
}

interface CollectionLease {
  holder?: { id: string; timer: NodeJS.Timeout };
  queue: Waiter[];
}

export class PublishLeases {
  private readonly ttlMs: number;
  private readonly maxQueue: number;
  private readonly maxWaitMs: number;
  private readonly collections = new Map<string, CollectionLease>();

  constructor(options: PublishLeaseOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.maxQueue = options.maxQueue ?? 1_000;
    this.maxWaitMs = options.maxWaitMs ?? 60_000;
  }

  /**
   * Waits for the lease of `gun`.
   * @param signal aborts the wait (the client went away)
   * @throws ServerError when the queue is full or the wait passes `maxWaitMs`; the abort reason when aborted
   */
  acquire(gun: string, signal: AbortSignal): Promise<Lease> {
    const state = this.collections.get(gun) ?? { queue: [] };
    this.collections.set(gun, state);
    const waitedBehind = state.queue.length + (state.holder ? 1 : 0);
    if (!state.holder) return Promise.resolve({ lease: this.grantTo(gun, state), ttlMs: this.ttlMs, waitedBehind });
    if (state.queue.length >= this.maxQueue) {
      return Promise.reject(new ServerError(`${gun} is busy: ${state.queue.length} publishers are waiting to publish to it; retry later`));
    }
    return new Promise<Lease>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        const index = state.queue.indexOf(waiter);
        if (index >= 0) state.queue.splice(index, 1);
      };
      const waiter: Waiter = {
        grant: (id) => {
          leave();
          resolve({ lease: id, ttlMs: this.ttlMs, waitedBehind });
        },
        fail: (err) => {
          leave();
          reject(err);
        },
      };
      const aborted = () => waiter.fail(signal.reason as Error);
      const timer = setTimeout(
        () => waiter.fail(new ServerError(`${gun} stayed busy for ${this.maxWaitMs / 1000}s with ${state.queue.length} publishers waiting; retry later`)),
        this.maxWaitMs,
      );
      timer.unref();
      signal.addEventListener('abort', aborted, { once: true });
      state.queue.push(waiter);
    });
  }

  /** Ends a lease early. @returns false when `id` is not the collection's current lease (expired or unknown) */
  release(gun: string, id: string): boolean {
    const state = this.collections.get(gun);
    if (!state?.holder || state.holder.id !== id) return false;
    this.next(gun, state);
    return true;
  }

  /** True when `id` is the current lease of `gun`. */
  holds(gun: string, id: string): boolean {
    return this.collections.get(gun)?.holder?.id === id;
  }

  /** Hands the lease to the first waiter, or frees the collection. */
  private next(gun: string, state: CollectionLease): void {
    clearTimeout(state.holder?.timer);
    state.holder = undefined;
    const waiter = state.queue[0];
    if (waiter) waiter.grant(this.grantTo(gun, state));
    else this.collections.delete(gun);
  }

  private grantTo(gun: string, state: CollectionLease): string {
    const id = randomBytes(16).toString('hex');
    const timer = setTimeout(() => this.next(gun, state), this.ttlMs);
    timer.unref();
    state.holder = { id, timer };
    return id;
  }
}
