/**
 * The expiry of every collection's top-level roles, kept in memory for the metrics: the soonest
 * expiry of each role over all collections and the few collections nearest to expiry.
 *
 * Rules:
 * - Filled from what the repository learns anyway (publishes, renewals, which read every
 *   collection's snapshot and timestamp each minute, and one pass over root and targets at start);
 *   a scrape never reads the store.
 * - Bounded: at most `maxCollections` collections (default 100,000) are tracked, the oldest-added
 *   forgotten first; a scrape walks the entries once (O(n)) and keeps only the `n` nearest.
 */
import { setBounded } from '../bounded-map.js';

export const EXPIRY_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type ExpiryRole = (typeof EXPIRY_ROLES)[number];

export interface NearExpiry {
  gun: string;
  expiresMs: number;
}

export class ExpiryIndex {
  private readonly byRole = new Map<ExpiryRole, Map<string, number>>(EXPIRY_ROLES.map((role) => [role, new Map()]));
  /** Collections deleted (bounded): the scan at start, which may have read them before, does not bring them back. */
  private readonly deleted = new Map<string, true>();

  constructor(private readonly maxCollections = 100_000) {}

  /** Records a role's latest expiry; roles other than the four top-level ones are ignored. */
  set(gun: string, role: string, expiresMs: number): void {
    const entries = this.byRole.get(role as ExpiryRole);
    if (!entries || Number.isNaN(expiresMs)) return;
    this.deleted.delete(gun);
    setBounded(entries, gun, expiresMs, this.maxCollections);
  }

  /**
   * Records the expiry found in a metadata file's text (it is parsed). With `ifAbsent` (the scan at
   * start), a value recorded meanwhile by a publish or renewal, which is newer, is kept.
   */
  setFromText(gun: string, role: string, text: string, ifAbsent = false): void {
    const entries = this.byRole.get(role as ExpiryRole);
    if (!entries || (ifAbsent && (entries.has(gun) || this.deleted.has(gun)))) return;
    const expires = (JSON.parse(text) as { signed?: { expires?: unknown } }).signed?.expires;
    if (typeof expires === 'string') this.set(gun, role, Date.parse(expires));
  }

  delete(gun: string): void {
    for (const entries of this.byRole.values()) entries.delete(gun);
    setBounded(this.deleted, gun, true, 10_000);
  }

  /** How many collections have this role tracked. */
  size(role: ExpiryRole): number {
    return this.byRole.get(role)!.size;
  }

  /** The `n` collections whose `role` expires first, soonest first. */
  nearest(role: ExpiryRole, n: number): NearExpiry[] {
    const nearest: NearExpiry[] = [];
    for (const [gun, expiresMs] of this.byRole.get(role)!) {
      if (nearest.length === n && expiresMs >= nearest[n - 1]!.expiresMs) continue;
      let i = nearest.length;
      while (i > 0 && nearest[i - 1]!.expiresMs > expiresMs) i -= 1;
      nearest.splice(i, 0, { gun, expiresMs });
      if (nearest.length > n) nearest.pop();
    }
    return nearest;
  }
}
