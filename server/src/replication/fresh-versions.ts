/**
 * Reads of a collection's latest versions from the shared database, coalesced: concurrent callers
 * share one query, but only a query that started after they asked (a caller that arrives while a
 * query is running waits for the next one). So an answer is never older than the moment it was
 * asked for, which is what a replica needs to never serve a rollback, and a burst of reads of one
 * collection costs two queries, not one per read.
 */
type Versions = Map<string, number>;

interface Pending {
  running?: Promise<Versions>;
  queued?: Promise<Versions>;
}

export class FreshVersions {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly read: (gun: string) => Promise<Versions>) {}

  /** The latest version of each role of `gun`, as the database holds them now or later. */
  get(gun: string): Promise<Versions> {
    let state = this.pending.get(gun);
    if (!state) {
      state = {};
      this.pending.set(gun, state);
    }
    if (state.queued) return state.queued;
    if (!state.running) return this.start(gun, state);
    const current = state;
    state.queued = state.running.then(
      () => this.start(gun, current),
      () => this.start(gun, current),
    );
    return state.queued;
  }

  private start(gun: string, state: Pending): Promise<Versions> {
    state.queued = undefined;
    const running = this.read(gun);
    state.running = running;
    const settle = () => {
      if (state.running !== running) return;
      state.running = undefined;
      if (!state.queued) this.pending.delete(gun);
    };
    running.then(settle, settle);
    return running;
  }
}
