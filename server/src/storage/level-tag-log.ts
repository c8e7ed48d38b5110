/**
 * The tag transparency logs' part of the level store (tag-log/tag-log.ts), one sublevel each:
 * - `logLeaves`: `<gun>\0<index, 12 digits>` -> leaf JSON (append-only)
 * - `logNodes`: `<gun>\0<level, 2 digits>\0<index, 12 digits>` -> complete subtree hash (hex)
 * - `logTags`: `<gun>\0<tag>` -> last recorded digest
 * Kept when a collection is deleted, like the audit trail. Appends are added to the batch of the
 * commit that makes them (LevelStore.commit), under that collection's lock.
 *
 * A log's size is the index of its last leaf plus one, read once per collection and then kept in
 * memory (this instance makes every append: level locks the directory), so an append reads
 * nothing. Databases written before kept it in a `logSize` sublevel, which is no longer read or
 * written (the leaves hold the same number).
 */
import type { LogAppend } from './store.js';
import { StaleVersionError } from './store.js';
import type { DurableLevel, Sublevel, WriteOp } from './durable-level.js';
import { setBounded } from '../bounded-map.js';

const SEP = '\u0000';
const MAX_REMEMBERED_SIZES = 200_000;
const pad = (n: number) => String(n).padStart(12, '0');
const leafKey = (gun: string, index: number) => `${gun}${SEP}${pad(index)}`;
const nodeKey = (gun: string, level: number, index: number) => `${gun}${SEP}${String(level).padStart(2, '0')}${SEP}${pad(index)}`;
const tagKey = (gun: string, tag: string) => `${gun}${SEP}${tag}`;

export class LevelTagLog {
  private readonly leaves: Sublevel;
  private readonly nodes: Sublevel;
  private readonly tags: Sublevel;
  /** gun -> number of leaves, as read or committed through this instance (see `committed`). */
  private readonly sizes = new Map<string, number>();

  constructor(durable: DurableLevel) {
    this.leaves = durable.sublevel('logLeaves');
    this.nodes = durable.sublevel('logNodes');
    this.tags = durable.sublevel('logTags');
  }

  async size(gun: string): Promise<number> {
    const known = this.sizes.get(gun);
    if (known !== undefined) return known;
    let size = 0;
    for await (const key of this.leaves.keys({ gt: `${gun}${SEP}`, lt: `${gun}${SEP}\uffff`, reverse: true, limit: 1 })) {
      size = Number(key.slice(gun.length + 1)) + 1;
    }
    setBounded(this.sizes, gun, size, MAX_REMEMBERED_SIZES);
    return size;
  }

  /** Records that the write holding `append` succeeded. Call under the collection's lock, right after it. */
  committed(gun: string, append: LogAppend): void {
    setBounded(this.sizes, gun, append.start + append.leaves.length, MAX_REMEMBERED_SIZES);
  }

  /** Forgets every remembered size (after a reopen: the failed write may or may not be in the database). */
  forgetAll(): void {
    this.sizes.clear();
  }

  getNodes(gun: string, ids: { level: number; index: number }[]): Promise<(string | undefined)[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.nodes.getMany(ids.map(({ level, index }) => nodeKey(gun, level, index)));
  }

  getLeaves(gun: string, start: number, end: number): Promise<string[]> {
    if (end <= start) return Promise.resolve([]);
    return this.leaves.values({ gte: leafKey(gun, start), lt: leafKey(gun, end) }).all();
  }

  async getDigests(gun: string, tags: string[]): Promise<(string | undefined)[]> {
    return tags.length === 0 ? [] : this.tags.getMany(tags.map((tag) => tagKey(gun, tag)));
  }

  /**
   * Adds the writes of `append` to `batch`, after checking it starts at the log's size. Call only
   * under the collection's lock, with the batch written in one atomic write.
   * @throws StaleVersionError (role `log`) when the log's size is not `append.start`
   */
  async addAppend(batch: WriteOp[], gun: string, append: LogAppend): Promise<void> {
    const size = await this.size(gun);
    if (size !== append.start) throw new StaleVersionError('log', append.start, size);
    append.leaves.forEach((leaf, i) => batch.push({ type: 'put', sublevel: this.leaves, key: leafKey(gun, append.start + i), value: leaf }));
    for (const { level, index, hash } of append.nodes) batch.push({ type: 'put', sublevel: this.nodes, key: nodeKey(gun, level, index), value: hash });
    for (const [tag, digest] of Object.entries(append.tags)) {
      batch.push(digest === null ? { type: 'del', sublevel: this.tags, key: tagKey(gun, tag) } : { type: 'put', sublevel: this.tags, key: tagKey(gun, tag), value: digest });
    }
  }
}
