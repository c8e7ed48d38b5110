/**
 * The RFC 6962 Merkle code of the tag transparency log (shared/src/tag-log/merkle.ts), pure
 * computation: tree heads from stored complete subtrees equal the RFC definition, every inclusion
 * and consistency proof verifies, tampered ones do not, proofs stay logarithmic to 100,000 leaves,
 * and a leaf's bytes are its canonical JSON.
 */
import test from 'ava';
import {
  EMPTY_ROOT,
  appendNodes,
  canonicalBytes,
  consistencyRanges,
  foldNodes,
  inclusionRanges,
  leafBytes,
  leafHash,
  nodeHash,
  rangeNodes,
  verifyConsistency,
  verifyInclusion,
} from '@tagtrust/shared';
import type { LeafRange, LogLeaf, NodeId } from '@tagtrust/shared';

/** An in-memory log: every complete subtree's hash, as the server stores them. */
class MemoryTree {
  readonly nodes = new Map<string, Buffer>();
  readonly leaves: Buffer[] = [];
  size = 0;
  append(leaf: Buffer): void {
    for (const { id, hash } of appendNodes(this.size, leafHash(leaf), (id) => this.node(id))) this.nodes.set(key(id), hash);
    this.leaves.push(leaf);
    this.size += 1;
  }
  node(id: NodeId): Buffer {
    const hash = this.nodes.get(key(id));
    if (!hash) throw new Error(`missing node ${key(id)}`);
    return hash;
  }
  rangeRoot(range: LeafRange): Buffer {
    return foldNodes(rangeNodes(range).map((id) => this.node(id)));
  }
  root(size = this.size): Buffer {
    return this.rangeRoot({ start: 0, end: size });
  }
  inclusion(index: number, size: number): Buffer[] {
    return inclusionRanges(index, size).map((r) => this.rangeRoot(r));
  }
  consistency(from: number, to: number): Buffer[] {
    return consistencyRanges(from, to).map((r) => this.rangeRoot(r));
  }
}
const key = (id: NodeId) => `${id.level}/${id.index}`;

/** RFC 6962 2.1 MTH, straight from the definition. */
function referenceRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leafHash(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

const leafOf = (i: number) => Buffer.from(`{"tag":"v${i}"}`);

function treeOf(n: number): MemoryTree {
  const tree = new MemoryTree();
  for (let i = 0; i < n; i += 1) tree.append(leafOf(i));
  return tree;
}

test('tree heads from stored subtrees equal the RFC 6962 definition', (t) => {
  const tree = new MemoryTree();
  t.deepEqual(tree.root(0), EMPTY_ROOT);
  for (let n = 1; n <= 70; n += 1) {
    tree.append(leafOf(n - 1));
    t.deepEqual(tree.root(), referenceRoot(tree.leaves), `size ${n}`);
  }
  for (let m = 1; m <= 70; m += 1) t.deepEqual(tree.root(m), referenceRoot(tree.leaves.slice(0, m)), `prefix ${m}`);
});

test('every inclusion proof verifies, and fails for another leaf or index', (t) => {
  const tree = treeOf(40);
  for (let size = 1; size <= 40; size += 1) {
    const root = tree.root(size);
    for (let i = 0; i < size; i += 1) {
      const proof = tree.inclusion(i, size);
      t.true(verifyInclusion(leafHash(leafOf(i)), i, size, proof, root), `leaf ${i} of ${size}`);
      t.false(verifyInclusion(leafHash(leafOf(i + 1)), i, size, proof, root));
      if (size > 1) t.false(verifyInclusion(leafHash(leafOf(i)), (i + 1) % size, size, proof, root));
    }
  }
});

test('every consistency proof verifies; a rewritten, dropped or forked history does not', (t) => {
  const tree = treeOf(40);
  const rewritten = treeOf(40);
  rewritten.leaves[3] = Buffer.from('{"tag":"v3","moved":true}');
  const rebuilt = new MemoryTree();
  for (const leaf of rewritten.leaves) rebuilt.append(leaf);
  const dropped = new MemoryTree();
  for (const leaf of tree.leaves.filter((_, i) => i !== 5)) dropped.append(leaf);
  for (let from = 1; from <= 40; from += 1) {
    for (let to = from; to <= 40; to += 1) {
      const proof = tree.consistency(from, to);
      t.true(verifyConsistency(from, to, tree.root(from), tree.root(to), proof), `${from} -> ${to}`);
      if (from > 3 && to > from) {
        // The old head was seen honestly; the server now serves a history with leaf 3 rewritten.
        t.false(verifyConsistency(from, to, tree.root(from), rebuilt.root(to), rebuilt.consistency(from, to)), `rewrite ${from} -> ${to}`);
      }
      if (from > 5 && to - 1 > from) {
        t.false(verifyConsistency(from, to - 1, tree.root(from), dropped.root(to - 1), dropped.consistency(from, to - 1)), `drop ${from} -> ${to - 1}`);
      }
    }
  }
  t.false(verifyConsistency(4, 4, tree.root(4), rebuilt.root(4), []), 'two different heads of one size are a fork');
});

test('proof sizes grow logarithmically to 100,000 leaves', (t) => {
  const tree = new MemoryTree();
  const started = process.hrtime.bigint();
  const samples: { size: number; inclusion: number; consistency: number; verifyUs: number }[] = [];
  for (const size of [1_000, 10_000, 100_000]) {
    while (tree.size < size) tree.append(leafOf(tree.size));
    const root = tree.root();
    const inclusion = tree.inclusion(size - 1000 + 17, size);
    const consistency = tree.consistency(size - 999, size);
    const verifyStart = process.hrtime.bigint();
    t.true(verifyInclusion(leafHash(leafOf(size - 1000 + 17)), size - 1000 + 17, size, inclusion, root));
    t.true(verifyConsistency(size - 999, size, tree.root(size - 999), root, consistency));
    const verifyUs = Number(process.hrtime.bigint() - verifyStart) / 1000;
    samples.push({ size, inclusion: inclusion.length, consistency: consistency.length, verifyUs });
    t.true(inclusion.length <= Math.ceil(Math.log2(size)));
    t.true(consistency.length <= 2 * Math.ceil(Math.log2(size)));
  }
  const appendMs = Number(process.hrtime.bigint() - started) / 1e6;
  t.log(`100,000 appends in ${appendMs.toFixed(0)} ms; nodes stored ${tree.nodes.size}`);
  for (const s of samples) t.log(`size ${s.size}: inclusion ${s.inclusion} hashes (${s.inclusion * 32} B), consistency ${s.consistency} hashes, both verified in ${s.verifyUs.toFixed(0)} µs`);
  t.true(tree.nodes.size < 2 * 100_000);
});

test('leafBytes is the canonical JSON of the leaf, on its fast path and off it', (t) => {
  const leaves: LogLeaf[] = [
    { tag: 'v1.2.3', digest: `sha256:${'a'.repeat(64)}`, role: 'targets', version: 7, time: '2026-12-06T11:00:00.000Z' },
    { tag: 'latest', digest: null, role: 'bins-0f', version: 1, time: '2026-12-06T11:00:00Z' },
    { tag: 'a"quote\\back', digest: null, role: 'targets/ci', version: 2, time: 'x' },
    { tag: 'tab\there\u0001', digest: 'é', role: '\ud83d\ude00', version: 3, time: '\u007f' },
    { tag: 'lone\ud800', digest: null, role: 'targets', version: 2 ** 53 + 2, time: '' },
  ];
  for (const leaf of leaves) {
    const { tag, digest, role, version, time } = leaf;
    t.deepEqual(Buffer.from(leafBytes(leaf)), canonicalBytes({ tag, digest, role, version, time }), JSON.stringify(leaf));
  }
});
