/**
 * The server's tag transparency log (docs/immutability.md): one RFC 6962 Merkle log per
 * collection of every tag change, stored in the level store and appended in the same atomic write
 * as the publish that made the changes (Change.log). Its head is signed into every timestamp.
 *
 * Rules:
 * - Append-only: leaves and complete subtree hashes are written once and never change; the store
 *   refuses an append that does not start at the log's size.
 * - Appending k leaves reads only the log's size and its O(log n) right-edge subtrees, and nothing
 *   once this process committed to the log (the edge is remembered after each successful commit,
 *   `committed`; a failed commit must call `forget`); proofs read O(log n) subtree hashes, for any
 *   size the log ever had.
 * - Requests are bounded: at most LOG_PAGE_LIMIT entries per page.
 */
import {
  InvalidInputError,
  LOG_PAGE_LIMIT,
  appendNodes,
  consistencyRanges,
  foldNodes,
  inclusionRanges,
  leafBytes,
  leafHash,
  rangeNodes,
} from '@tagtrust/shared';
import type { LeafRange, LogEntry, LogHead, LogLeaf, NodeId } from '@tagtrust/shared';
import type { LogAppend, MetadataStore } from '../storage/store.js';
import type { RoleTagChange } from './role-changes.js';
import { setBounded } from '../bounded-map.js';

const nodeKey = (id: NodeId) => `${id.level}/${id.index}`;

export interface PreparedAppend {
  /** Undefined when there is nothing to append. */
  append?: LogAppend;
  /** The head after the append. */
  head: LogHead;
  /** The right edge after the append, to remember once it is committed. */
  edge: LogEdge;
}

/** The log's size and the hashes of its right-edge subtrees (all an append reads). */
interface LogEdge {
  size: number;
  nodes: Map<string, Buffer>;
}

/** Collections whose log edge is remembered (about 1 KB each). */
const MAX_REMEMBERED_EDGES = 10_000;

export class TagLog {
  private readonly edges = new Map<string, LogEdge>();

  constructor(private readonly store: MetadataStore) {}

  /** Remembers the edge of an append (or an empty one) the store has committed. */
  committed(gun: string, prepared: PreparedAppend): void {
    setBounded(this.edges, gun, prepared.edge, MAX_REMEMBERED_EDGES);
  }

  /** Forgets what this process remembers of a log (after a failed commit). */
  forget(gun: string): void {
    this.edges.delete(gun);
  }

  /** Forgets every log's edge (changes by other replicas may have been missed). */
  forgetAll(): void {
    this.edges.clear();
  }

  /** The leaves that record `changes` at `time`, in order. */
  static leavesOf(changes: RoleTagChange[], time: string): LogLeaf[] {
    return changes.map(({ tag, to, role, version }) => ({ tag, digest: to ?? null, role, version, time }));
  }

  /** The writes that append `leaves` to the log of `gun`, and the head after them. Call under the collection lock. */
  async prepare(gun: string, leaves: LogLeaf[]): Promise<PreparedAppend> {
    const { size, nodes: edgeNodes } = this.edges.get(gun) ?? (await this.loadEdge(gun));
    const known = new Map(edgeNodes);
    const nodes: LogAppend['nodes'] = [];
    const tags: LogAppend['tags'] = {};
    const texts: string[] = [];
    leaves.forEach((leaf, i) => {
      // The canonical bytes once: hashed here, stored as the leaf's text.
      const bytes = Buffer.from(leafBytes(leaf));
      texts.push(bytes.toString('utf8'));
      for (const { id, hash } of appendNodes(size + i, leafHash(bytes), (sibling) => known.get(nodeKey(sibling))!)) {
        known.set(nodeKey(id), hash);
        nodes.push({ ...id, hash: hash.toString('hex') });
      }
      tags[leaf.tag] = leaf.digest;
    });
    const end = size + leaves.length;
    const edgeIds = rangeNodes({ start: 0, end });
    const edge: LogEdge = { size: end, nodes: new Map(edgeIds.map((id) => [nodeKey(id), known.get(nodeKey(id))!])) };
    const head = { size: end, root_hash: foldNodes(edgeIds.map((id) => known.get(nodeKey(id))!)).toString('hex') };
    if (leaves.length === 0) return { head, edge };
    return { head, edge, append: { start: size, leaves: texts, nodes, tags } };
  }

  private async loadEdge(gun: string): Promise<LogEdge> {
    const size = await this.store.getLogSize(gun);
    const ids = rangeNodes({ start: 0, end: size });
    const stored = await this.store.getLogNodes(gun, ids);
    return { size, nodes: new Map(ids.map((id, i) => [nodeKey(id), Buffer.from(stored[i] ?? '', 'hex')])) };
  }

  /** tag -> the digest the log last recorded, for the given tags that have one. */
  async recorded(gun: string, tags: string[]): Promise<Map<string, string>> {
    const digests = await this.store.getLoggedDigests(gun, tags);
    return new Map(tags.flatMap((tag, i) => (digests[i] === undefined ? [] : [[tag, digests[i]!] as const])));
  }

  /** Consistency proof (RFC 9162 2.1.4) from size `from` to size `to`. @throws InvalidInputError */
  async consistency(gun: string, from: number, to: number): Promise<{ from: number; to: number; proof: string[] }> {
    const size = await this.store.getLogSize(gun);
    if (!(from >= 1 && from <= to && to <= size)) throw new InvalidInputError(`no consistency proof from ${from} to ${to}: the log of ${gun} has ${size} entries (need 1 <= from <= to <= ${size})`);
    return { from, to, proof: await this.rangeRoots(gun, consistencyRanges(from, to)) };
  }

  /** Inclusion proof (RFC 9162 2.1.3) of entry `index` in the tree of `size` entries, with the entry. @throws InvalidInputError */
  async inclusion(gun: string, index: number, size: number): Promise<{ entry: LogEntry; size: number; proof: string[] }> {
    const logSize = await this.store.getLogSize(gun);
    if (!(index < size && size <= logSize)) throw new InvalidInputError(`no inclusion proof of entry ${index} in size ${size}: the log of ${gun} has ${logSize} entries`);
    const [leaf] = await this.store.getLogLeaves(gun, index, index + 1);
    return { entry: { index, ...(JSON.parse(leaf!) as LogLeaf) }, size, proof: await this.rangeRoots(gun, inclusionRanges(index, size)) };
  }

  /** Entries [start, end), at most LOG_PAGE_LIMIT, and the log's size. */
  async entries(gun: string, start: number, end: number): Promise<{ size: number; entries: LogEntry[] }> {
    const size = await this.store.getLogSize(gun);
    const last = Math.min(end, size, start + LOG_PAGE_LIMIT);
    const leaves = await this.store.getLogLeaves(gun, start, last);
    return { size, entries: leaves.map((text, i) => ({ index: start + i, ...(JSON.parse(text) as LogLeaf) })) };
  }

  private async rangeRoots(gun: string, ranges: LeafRange[]): Promise<string[]> {
    const ids = ranges.flatMap((range) => rangeNodes(range));
    const hashes = await this.store.getLogNodes(gun, ids);
    let at = 0;
    return ranges.map((range) => {
      const count = rangeNodes(range).length;
      const part = hashes.slice(at, at + count).map((hex) => Buffer.from(hex!, 'hex'));
      at += count;
      return foldNodes(part).toString('hex');
    });
  }
}
