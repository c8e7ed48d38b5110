/**
 * Collections whose snapshot/timestamp renewal keeps failing (e.g. the disk is full). While a
 * renewal fails, reads serve the stored timestamp as long as it has not expired, retry the renewal at
 * most once per back-off period, and the operator sees the failure in the log and on /readyz.
 */
export interface RenewalHealth {
  /** How many collections failed their last renewal. */
  failing: number;
  /** Up to 10 of them: since when, and the last error. */
  collections: { gun: string; since: string; error: string }[];
}

interface Failure {
  since: Date;
  error: string;
  /** No new attempt from a read before this time (ms). */
  retryAt: number;
}

const SHOWN = 10;

export class RenewalFailures {
  private readonly failures = new Map<string, Failure>();

  constructor(
    private readonly log: (line: string) => void,
    private readonly backoffMs = 5_000,
  ) {}

  /** Records a failed renewal of `gun` at `now` and logs it. */
  failed(gun: string, err: unknown, now: Date): void {
    const error = (err as Error).message ?? String(err);
    const since = this.failures.get(gun)?.since ?? now;
    this.failures.set(gun, { since, error, retryAt: now.getTime() + this.backoffMs });
    this.log(`tagtrust-server: renewing snapshot/timestamp of ${gun} failed (failing since ${since.toISOString()}): ${error}`);
  }

  succeeded(gun: string): void {
    if (this.failures.delete(gun)) this.log(`tagtrust-server: renewing snapshot/timestamp of ${gun} works again`);
  }

  /** True while a read should not try renewing `gun` again. */
  backingOff(gun: string, now: Date): boolean {
    const failure = this.failures.get(gun);
    return failure !== undefined && now.getTime() < failure.retryAt;
  }

  health(): RenewalHealth {
    const collections = [...this.failures].slice(0, SHOWN).map(([gun, f]) => ({ gun, since: f.since.toISOString(), error: f.error }));
    return { failing: this.failures.size, collections };
  }
}
