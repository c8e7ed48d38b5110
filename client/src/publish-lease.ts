/**
 * The client side of publish leases (server/src/publish-leases.ts): a publisher waits for its turn
 * on the collection, then refreshes, signs and posts while no other publisher moves it, and releases
 * the lease. N concurrent publishers then cost N refresh-sign-post cycles instead of O(N²).
 * A server without leases (older) answers 404: the publish goes ahead without one.
 */
import { TimeoutError } from '@tagtrust/shared';
import type { Deadline } from './deadline.js';
import type { ServerApi } from './server-api.js';

/** The lease a task holds: pass `id` with the publish; set `releasedByPublish` when the server says it released it. */
export interface HeldLease {
  /** Undefined when the server has no leases. */
  id?: string;
  releasedByPublish: boolean;
}

/**
 * Runs `task` while holding the publish lease of `gun`; releases it afterwards unless a publish did.
 * @throws TimeoutError saying the cause is contention when the deadline passes while waiting
 */
export async function withPublishLease<T>(api: ServerApi, gun: string, deadline: Deadline, task: (lease: HeldLease) => Promise<T>): Promise<T> {
  const lease: HeldLease = { releasedByPublish: false };
  try {
    lease.id = await api.takeLease(gun);
  } catch (err) {
    if (err instanceof TimeoutError && deadline.expired) throw deadline.contentionError(gun, `it was still waiting for its turn to publish to ${gun}`);
    throw err;
  }
  try {
    return await task(lease);
  } finally {
    // A lease that cannot be released (deadline passed, connection lost) expires on the server.
    if (lease.id !== undefined && !lease.releasedByPublish && !deadline.expired) await api.releaseLease(gun, lease.id).catch(() => undefined);
  }
}
