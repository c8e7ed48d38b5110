/**
 * RFC 6962 / RFC 9162 Merkle tree hashing for the tag transparency log: pure functions, no I/O.
 *
 * - Leaf hash `SHA-256(0x00 || leaf)`, node hash `SHA-256(0x01 || left || right)`; the tree of n
 *   leaves splits at the largest power of two below n (RFC 9162 2.1.1), the empty tree is SHA-256("").
 * - A store keeps the hash of every complete, aligned subtree (`NodeId`: level L, index i covers leaves
 *   [i·2^L, (i+1)·2^L)); appending a leaf adds it and the complete subtrees it closes (amortised two
 *   hashes). Any proof or tree head is folded from O(log n) of those nodes (`rangeNodes`).
 * - Proofs are produced as lists of leaf ranges (`inclusionRanges`, `consistencyRanges`, RFC 9162
 *   2.1.3.1 and 2.1.4.1) and verified with the RFC 9162 algorithms (2.1.3.2, 2.1.4.2), which a client
 *   runs without trusting the server.
 */
import { createHash } from 'node:crypto';

export interface NodeId {
  level: number;
  index: number;
}

/** Leaves [start, end). */
export interface LeafRange {
  start: number;
  end: number;
}

const sha256 = (...parts: Uint8Array[]): Buffer<ArrayBufferLike> => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export const EMPTY_ROOT = sha256();

export function leafHash(leaf: Uint8Array): Buffer<ArrayBufferLike> {
  return sha256(LEAF, leaf);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer<ArrayBufferLike> {
  return sha256(NODE, left, right);
}

/** Largest power of two strictly below n (n >= 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The complete aligned subtrees that make up leaves [start, end), left to right. */
export function rangeNodes({ start, end }: LeafRange): NodeId[] {
  const nodes: NodeId[] = [];
  let at = start;
  while (at < end) {
    let level = 0;
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= end) level += 1;
    nodes.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return nodes;
}

/** The root of a range from the hashes of its `rangeNodes` (right fold, as the tree splits). */
export function foldNodes(hashes: Uint8Array[]): Buffer<ArrayBufferLike> {
  if (hashes.length === 0) return EMPTY_ROOT;
  let root: Buffer<ArrayBufferLike> = Buffer.from(hashes[hashes.length - 1]!);
  for (let i = hashes.length - 2; i >= 0; i -= 1) root = nodeHash(hashes[i]!, root);
  return root;
}

/**
 * The nodes that appending leaf number `index` (its hash `hash`) creates, given a reader of
 * existing nodes (only the left siblings on its path are read).
 */
export function appendNodes(index: number, hash: Buffer, node: (id: NodeId) => Uint8Array): { id: NodeId; hash: Buffer }[] {
  const created = [{ id: { level: 0, index }, hash }];
  let current = hash;
  let level = 0;
  let at = index;
  while (at % 2 === 1) {
    current = nodeHash(node({ level, index: at - 1 }), current);
    level += 1;
    at = (at - 1) / 2;
    created.push({ id: { level, index: at }, hash: current });
  }
  return created;
}

/** RFC 9162 2.1.3.1: the ranges whose roots prove leaf `index` is in the tree of `size` leaves. */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const path = (m: number, lo: number, hi: number): LeafRange[] => {
    if (hi - lo === 1) return [];
    const k = split(hi - lo);
    return m < k ? [...path(m, lo, lo + k), { start: lo + k, end: hi }] : [...path(m - k, lo + k, hi), { start: lo, end: lo + k }];
  };
  return path(index, 0, size);
}

/** RFC 9162 2.1.4.1: the ranges whose roots prove the tree of `from` leaves is a prefix of the tree of `to`. */
export function consistencyRanges(from: number, to: number): LeafRange[] {
  if (!(from > 0 && from <= to)) throw new RangeError(`no consistency proof from ${from} to ${to}`);
  const subproof = (m: number, lo: number, hi: number, complete: boolean): LeafRange[] => {
    const n = hi - lo;
    if (m === n) return complete ? [] : [{ start: lo, end: hi }];
    const k = split(n);
    return m <= k
      ? [...subproof(m, lo, lo + k, complete), { start: lo + k, end: hi }]
      : [...subproof(m - k, lo + k, hi, false), { start: lo, end: lo + k }];
  };
  return subproof(from, 0, to, true);
}

const odd = (n: number) => n % 2 === 1;
const halve = (n: number) => Math.floor(n / 2);

/** RFC 9162 2.1.3.2: true when `proof` shows leaf hash `leaf` at `index` in the tree `root` of `size`. */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: Uint8Array[], root: Uint8Array): boolean {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer<ArrayBufferLike> = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) [fn, sn] = [halve(fn), halve(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [halve(fn), halve(sn)];
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 2.1.4.2: true when `proof` shows tree (`from`, `fromRoot`) is a prefix of (`to`, `toRoot`). */
export function verifyConsistency(from: number, to: number, fromRoot: Uint8Array, toRoot: Uint8Array, proof: Uint8Array[]): boolean {
  if (from === to) return proof.length === 0 && Buffer.from(fromRoot).equals(toRoot);
  if (from === 0) return proof.length === 0;
  if (!(from < to) || proof.length === 0) return false;
  const path = (from & (from - 1)) === 0 ? [fromRoot, ...proof] : proof;
  let fn = from - 1;
  let sn = to - 1;
  while (odd(fn)) [fn, sn] = [halve(fn), halve(sn)];
  let fr: Buffer<ArrayBufferLike> = Buffer.from(path[0]!);
  let sr: Buffer<ArrayBufferLike> = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) [fn, sn] = [halve(fn), halve(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [halve(fn), halve(sn)];
  }
  return fr.equals(fromRoot) && sr.equals(toRoot) && sn === 0;
}
