/**
 * Client-side checks of the tag transparency log (docs/immutability.md). No I/O.
 *
 * - `checkHeadProgress`: every update compares the log head of the new timestamp with the one of
 *   the timestamp it trusted before (when both carry one): a log never shrinks, and one size never
 *   has two roots.
 * - `LogFrontier`: the right edge of a tree (O(log n) subtree hashes). Extending it with entries
 *   fetched from the server and comparing the result with a signed head proves those are exactly
 *   the entries the log appended, in order (a monitor's check); it is kept in the audit state.
 * - Proof bodies from the server are validated (hex hashes, bounded count) before use.
 */
import { LogInconsistentError, appendNodes, foldNodes, hashLeaf, rangeNodes } from '@tagtrust/shared';
import type { LogEntry, LogHead, NodeId } from '@tagtrust/shared';

const HEX64 = /^[0-9a-f]{64}$/;
/** More hashes than any proof of a log below 2^64 entries needs. */
const MAX_PROOF_HASHES = 130;

/**
 * @throws LogInconsistentError when the head went backwards or forked since `before`. A timestamp
 * without a head passes here (whoever holds the timestamp key could as well sign a made-up, larger
 * head, which only an audit can expose); `tagtrust audit` refuses it once it has audited a head.
 */
export function checkHeadProgress(gun: string, before: LogHead | undefined, after: LogHead | undefined): void {
  if (!before || !after) return;
  if (after.size < before.size) {
    throw new LogInconsistentError(`the tag log of ${gun} shrank from ${before.size} to ${after.size} entries: the server rewrote its history; do not pull, tell the operator`);
  }
  if (after.size === before.size && after.root_hash !== before.root_hash) {
    throw new LogInconsistentError(`the tag log of ${gun} has two different heads for ${after.size} entries: the server forked its history; do not pull, tell the operator`);
  }
}

/** The hashes of a proof body. @throws LogInconsistentError for a malformed one */
export function proofHashes(gun: string, proof: unknown): Buffer[] {
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_HASHES || proof.some((h) => typeof h !== 'string' || !HEX64.test(h))) {
    throw new LogInconsistentError(`the server sent a malformed tag log proof for ${gun}: do not trust its history; tell the operator`);
  }
  return proof.map((h: string) => Buffer.from(h, 'hex'));
}

/** @throws LogInconsistentError unless `entry` has the shape of a log entry (server/src/tag-log/tag-log.ts) */
export function checkEntry(gun: string, entry: unknown): asserts entry is LogEntry {
  const e = (entry ?? {}) as Partial<LogEntry>;
  const text = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 1024;
  if (
    typeof entry !== 'object' ||
    !Number.isSafeInteger(e.index) ||
    !text(e.tag) ||
    !(e.digest === null || text(e.digest)) ||
    !text(e.role) ||
    !Number.isSafeInteger(e.version) ||
    !text(e.time)
  ) {
    throw new LogInconsistentError(`the server sent a malformed tag log entry for ${gun}: do not trust its history; tell the operator`);
  }
}

export interface FrontierState {
  size: number;
  /** Hex hashes of the complete subtrees of the tree's right edge, left to right. */
  frontier: string[];
}

export class LogFrontier {
  private readonly nodes = new Map<string, Buffer>();

  private constructor(private size: number) {}

  static empty(): LogFrontier {
    return new LogFrontier(0);
  }

  static restore(state: FrontierState): LogFrontier {
    const frontier = new LogFrontier(state.size);
    const ids = rangeNodes({ start: 0, end: state.size });
    if (ids.length !== state.frontier.length || state.frontier.some((h) => !HEX64.test(h))) throw new Error('corrupt audit state');
    ids.forEach((id, i) => frontier.nodes.set(key(id), Buffer.from(state.frontier[i]!, 'hex')));
    return frontier;
  }

  get entries(): number {
    return this.size;
  }

  /** Appends the next entry (it must carry the next index). @throws LogInconsistentError for a malformed or misplaced one */
  append(gun: string, entry: LogEntry): void {
    checkEntry(gun, entry);
    if (entry.index !== this.size) throw new LogInconsistentError(`the server sent tag log entry ${entry.index} of ${gun} where entry ${this.size} belongs: tell the operator`);
    for (const { id, hash } of appendNodes(this.size, hashLeaf(entry), (sibling) => this.nodes.get(key(sibling))!)) this.nodes.set(key(id), hash);
    this.size += 1;
    this.prune();
  }

  head(): LogHead {
    return { size: this.size, root_hash: foldNodes(this.edge().map((id) => this.nodes.get(key(id))!)).toString('hex') };
  }

  state(): FrontierState {
    return { size: this.size, frontier: this.edge().map((id) => this.nodes.get(key(id))!.toString('hex')) };
  }

  private edge(): NodeId[] {
    return rangeNodes({ start: 0, end: this.size });
  }

  /** Keeps only the right edge: nothing else is read again. */
  private prune(): void {
    const keep = new Set(this.edge().map(key));
    for (const k of this.nodes.keys()) if (!keep.has(k)) this.nodes.delete(k);
  }
}

const key = (id: NodeId) => `${id.level}/${id.index}`;
