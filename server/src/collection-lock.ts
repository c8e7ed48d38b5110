/**
 * Serialises writes per collection inside one server process: publishes and renewals of the same
 * collection run one at a time, different collections run concurrently.
 */
export class CollectionLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every earlier task for `gun` has settled. */
  run<T>(gun: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(gun) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(gun, tail);
    void tail.then(() => {
      if (this.tails.get(gun) === tail) this.tails.delete(gun);
    });
    return result;
  }
}
