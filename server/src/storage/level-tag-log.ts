/**
 * The tag transparency logs' part of the level store (tag-log/tag-log.ts), one sublevel each:
 * - `logLeaves`: `<gun>\0<index, 12 digits>` -> leaf JSON (append-only)
 * - `logNodes`: `<gun>\0<level, 2 digits>\0<index, 12 digits>` -> complete subtree hash (hex)
 * - `logSize`: `<gun>` -> number of leaves
 * - `logTags`: `<gun>\0<tag>` -> last recorded digest
 * Kept when a collection is deleted, like the audit trail. Appends are added to the batch of the
 * commit that makes them (LevelStore.commit), under that collection's lock.
 */
import type { LogAppend } from './store.js';
import { StaleVersionError } from './store.js';
import type { DurableLevel, Sublevel, WriteOp } from './durable-level.js';

const SEP = '\u0000';
const pad = (n: number) => String(n).padStart(12, '0');
const leafKey = (gun: string, index: number) => `${gun}${SEP}${pad(index)}`;
const nodeKey = (gun: string, level: number, index: number) => `${gun}${SEP}${String(level).padStart(2, '0')}${SEP}${pad(index)}`;
const tagKey = (gun: string, tag: string) => `${gun}${SEP}${tag}`;

export class LevelTagLog {
  private readonly leaves: Sublevel;
  private readonly nodes: Sublevel;
  private readonly sizes: Sublevel;
  private readonly tags: Sublevel;

  constructor(durable: DurableLevel) {
    this.leaves = durable.sublevel('logLeaves');
    this.nodes = durable.sublevel('logNodes');
    this.sizes = durable.sublevel('logSize');
    this.tags = durable.sublevel('logTags');
  }

  async size(gun: string): Promise<number> {
    return Number((await this.sizes.get(gun)) ?? 0);
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
    batch.push({ type: 'put', sublevel: this.sizes, key: gun, value: String(append.start + append.leaves.length) });
  }
}
