/** One deadline for a whole client operation: every request it makes shares the same signal. */
import { TimeoutError } from '@tagtrust/shared';

export class Deadline {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly timeoutMs: number,
    private readonly what: string,
  ) {
    this.signal = this.controller.signal;
    this.timer = setTimeout(() => this.controller.abort(this.error()), timeoutMs);
    this.timer.unref();
  }

  get expired(): boolean {
    return this.signal.aborted;
  }

  /** @param during what was in flight when the deadline passed, e.g. `downloading timestamp.json` */
  error(during?: string): TimeoutError {
    return new TimeoutError(
      `${this.what} did not finish within ${this.timeoutMs / 1000}s${during ? ` (${during})` : ''}: the server is slow or not answering (slow-retrieval attack or overload); retry, or raise --timeout`,
    );
  }

  /**
   * The deadline passed because other publishers of the same collection went first (contention),
   * not because the server was slow.
   */
  contentionError(gun: string, detail: string): TimeoutError {
    return new TimeoutError(
      `${this.what} did not finish within ${this.timeoutMs / 1000}s: ${detail}; other publishers of ${gun} were publishing at the same time (contention, not a slow server); retry, or raise --timeout`,
    );
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
