/**
 * A tag transparency log a malicious server makes up: any list of leaves, with the entries,
 * inclusion and consistency endpoints a real server has (server/src/http/log-routes.ts), to serve
 * through MaliciousServer.serveApi, and a timestamp re-signed with a stolen timestamp key so that
 * its signed head is this log's.
 */
import { signMetadata } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { LOG_HEAD_FIELD, appendNodes, consistencyRanges, foldNodes, hashLeaf, inclusionRanges, rangeNodes } from '@tagtrust/shared';
import type { LeafRange, LogEntry, LogHead, LogLeaf, Metadata, NodeId, TimestampSigned } from '@tagtrust/shared';

const key = (id: NodeId) => `${id.level}/${id.index}`;

export class ForgedLog {
  private readonly nodes = new Map<string, Buffer>();
  readonly leaves: LogLeaf[] = [];

  constructor(leaves: LogLeaf[] = []) {
    for (const leaf of leaves) this.append(leaf);
  }

  append(leaf: LogLeaf): void {
    for (const { id, hash } of appendNodes(this.leaves.length, hashLeaf(leaf), (sibling) => this.nodes.get(key(sibling))!)) this.nodes.set(key(id), hash);
    this.leaves.push(leaf);
  }

  head(size = this.leaves.length): LogHead {
    return { size, root_hash: this.root({ start: 0, end: size }) };
  }

  /** The answer to GET /v2/<gun>/_trust/<path>?<query>, as a real server gives it. */
  answer(path: string, query: URLSearchParams): unknown {
    const n = (name: string) => Number(query.get(name));
    if (path === 'log/entries') {
      const entries: LogEntry[] = this.leaves.slice(n('start'), n('end')).map((leaf, i) => ({ index: n('start') + i, ...leaf }));
      return { size: this.leaves.length, entries };
    }
    if (path === 'log/proof') return { entry: { index: n('index'), ...this.leaves[n('index')]! }, size: n('size'), proof: inclusionRanges(n('index'), n('size')).map((r) => this.root(r)) };
    if (path === 'log/consistency') {
      if (n('to') > this.leaves.length) return undefined;
      return { from: n('from'), to: n('to'), proof: consistencyRanges(n('from'), n('to')).map((r) => this.root(r)) };
    }
    return undefined;
  }

  /** `timestamp` re-signed by `key` as version + 1 with this log's head. */
  signTimestamp(timestamp: Metadata<TimestampSigned>, keyPair: KeyPair): Buffer {
    const signed: TimestampSigned = { ...structuredClone(timestamp.signed), version: timestamp.signed.version + 1, [LOG_HEAD_FIELD]: this.head() };
    return Buffer.from(JSON.stringify(signMetadata(signed, [keyPair])));
  }

  private root(range: LeafRange): string {
    return foldNodes(rangeNodes(range).map((id) => this.nodes.get(key(id))!)).toString('hex');
  }
}
