/**
 * Renewal of the online-signed roles (snapshot and timestamp) before they expire.
 *
 * Rules:
 * - Snapshot and timestamp are renewed when less than `renewFraction` of their lifetime remains.
 * - While the server holds a collection's timestamp key it never serves an expired timestamp:
 *   reads of `timestamp.json` renew it first when it is inside its renewal window. When that renewal
 *   fails (e.g. the disk is full), the stored timestamp is served as long as it has not expired, the
 *   renewal is retried after a back-off, and the failure is logged and reported (renewal-failures.ts).
 *   An expired timestamp is never served: that read fails with 503 and the reason.
 * - A renewal carries the timestamp's log head forward, is not a change and is not audited.
 */
import { ServerError, VersionConflictError, isExpired } from '@tagtrust/shared';
import type { Metadata, SnapshotSigned, TimestampSigned } from '@tagtrust/shared';
import type { CollectionState } from './collection-state.js';
import { signSnapshot, signTimestamp } from './online-signing.js';
import { RenewalFailures } from './renewal-failures.js';
import type { RenewalHealth } from './renewal-failures.js';
import type { StoredFile } from './storage/store.js';

export class TimestampRenewal {
  private readonly failures: RenewalFailures;

  constructor(
    private readonly state: CollectionState,
    private readonly renewFraction: number,
    log: (line: string) => void,
  ) {
    this.failures = new RenewalFailures(log);
  }

  /** Collections whose renewal keeps failing (for /healthz and /readyz). */
  health(): RenewalHealth {
    return this.failures.health();
  }

  /**
   * Renews the online-signed roles of every collection that is due; returns how many were renewed.
   * A collection whose renewal fails is recorded (health) and the others are still renewed.
   */
  async renewAll(): Promise<number> {
    let renewed = 0;
    for await (const gun of this.state.store.listCollections()) {
      try {
        if (await this.renew(gun)) renewed += 1;
        this.failures.succeeded(gun);
      } catch (err) {
        this.failures.failed(gun, err, this.state.now());
      }
    }
    return renewed;
  }

  /** Renews snapshot and/or timestamp of one collection if due. @returns whether anything was written */
  renew(gun: string): Promise<boolean> {
    const state = this.state;
    return state.locks.run(gun, async () => {
      const now = state.now();
      const [snapshotFile, timestamp] = await Promise.all([
        state.store.getLatest(gun, 'snapshot'),
        state.loadLatest<TimestampSigned>(gun, 'timestamp'),
      ]);
      if (!snapshotFile || !timestamp) return false;
      const snapshot = JSON.parse(snapshotFile.text) as Metadata<SnapshotSigned>;
      const snapshotDue = this.isDue(snapshot.signed, 'snapshot', now);
      const timestampDue = snapshotDue || this.isDue(timestamp.signed, 'timestamp', now);
      state.expiries.set(gun, 'snapshot', Date.parse(snapshot.signed.expires));
      state.expiries.set(gun, 'timestamp', Date.parse(timestamp.signed.expires));
      // Known before writing: a read can serve the stored timestamp if the renewal below fails.
      state.timestampExpiry.set(gun, Date.parse(timestamp.signed.expires));
      if (!timestampDue) return false;
      const [snapshotKey, timestampKey] = await Promise.all([
        state.onlineKeys.signer(gun, 'snapshot'),
        state.onlineKeys.signer(gun, 'timestamp'),
      ]);
      if (!snapshotKey || !timestampKey) return false;
      const files: StoredFile[] = [];
      const listedSnapshot = snapshotDue ? signSnapshot(snapshot.signed, [], [snapshotKey], now, state.lifetimes.snapshot) : snapshotFile;
      if (snapshotDue) files.push(listedSnapshot);
      files.push(signTimestamp(timestamp.signed.version, listedSnapshot, [timestampKey], now, state.lifetimes.timestamp, timestamp.signed['x-tagtrust-log']));
      try {
        await state.commit(gun, files, { snapshot: snapshot.signed.version, timestamp: timestamp.signed.version });
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
        // Another replica renewed or published first: its files stand, and are served from the store.
        state.timestampExpiry.delete(gun);
        return false;
      }
      state.timestampExpiry.set(gun, now.getTime() + state.lifetimes.timestamp);
      for (const file of files) state.expiries.setFromText(gun, file.role, file.text);
      return true;
    });
  }

  /**
   * Renews before a read of timestamp.json when due. A failed renewal does not fail the read while the
   * stored timestamp is still valid; it is retried after a back-off.
   * @throws ServerError (503) when the renewal failed and the stored timestamp has expired
   */
  async renewTimestampIfDue(gun: string): Promise<void> {
    if (this.servable(gun)) return;
    try {
      await this.renew(gun);
      this.failures.succeeded(gun);
    } catch (err) {
      this.failures.failed(gun, err, this.state.now());
      const expiry = this.state.timestampExpiry.get(gun);
      if (expiry === undefined || this.state.now().getTime() >= expiry) {
        throw new ServerError(`the timestamp of ${gun} has expired and the server cannot renew it (${(err as Error).message}); tell the operator`, { cause: err });
      }
    }
  }

  /** True when the cached latest timestamp of `gun` can be served as it is (no renewal due, or one backing off). */
  servable(gun: string): boolean {
    return !this.timestampRenewalDue(gun) || this.servingDespiteFailedRenewal(gun);
  }

  /** True while a failed renewal backs off and the stored timestamp has not expired: serve it as is. */
  private servingDespiteFailedRenewal(gun: string): boolean {
    const now = this.state.now();
    const expiry = this.state.timestampExpiry.get(gun);
    return expiry !== undefined && now.getTime() < expiry && this.failures.backingOff(gun, now);
  }

  /** True when the timestamp must be renewed (or its expiry is not known yet) before serving it. */
  private timestampRenewalDue(gun: string): boolean {
    const expiry = this.state.timestampExpiry.get(gun);
    return expiry === undefined || this.state.now().getTime() >= expiry - this.state.lifetimes.timestamp * this.renewFraction;
  }

  private isDue(signed: SnapshotSigned | TimestampSigned, role: 'snapshot' | 'timestamp', now: Date): boolean {
    const remaining = Date.parse(signed.expires) - now.getTime();
    return isExpired(signed, now) || remaining < this.state.lifetimes[role] * this.renewFraction;
  }
}
