#!/usr/bin/env node
// Cost of the tag transparency log (issue #16): what it adds to a one-tag publish on the server, and
// the size and verification time of its proofs at 1,000 and 100,000 logged changes.
//
//   npm run build && node bench/tag-log.mjs   (BENCH_N=200 measurements per case and mode, after
//                                              BENCH_WARMUP=100 unmeasured ones)
//
// 1. The whole request (bench/tag-log-requests.mjs): the server CPU of a one-tag publish POST (body,
//    verification, signing, log, commit, response) on a real server with the log and on the same
//    server with the log switched off, alternating. This is the number the < 10% goal is about.
// 2. The commit alone, in process, on a real level database in a temp dir (the server's LevelStore
//    and TagLog from server/dist): each measured "publish" commits what a one-tag publish commits (a
//    targets file, a snapshot, a timestamp and the audit record) either without the log, or with
//    TagLog.prepare of the one tag change and its log append in the same batch, alternating, at
//    1,000 and 100,000 log entries (the log's cost must not grow with its size). It reports medians
//    of wall time and process CPU time per commit, the bytes the log adds to the write, and
//    inclusion and consistency proofs (hashes, JSON bytes, client verification time).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore } from '../server/dist/index.js';
import { TagLog } from '../server/dist/tag-log/tag-log.js';
import { hashLeaf, verifyConsistency, verifyInclusion } from '../shared/dist/index.js';
import { measurePublishRequests } from './tag-log-requests.mjs';

const N = Number(process.env.BENCH_N ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 100);
const SIZES = [1_000, 100_000];
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const digest = (i) => `sha256:${i.toString(16).padStart(64, '0')}`;
const leafOf = (i) => ({ tag: `v${i}`, digest: digest(i), role: 'targets', version: i + 2, time: '2026-12-06T11:00:00.000Z' });
const text = (bytes) => 'x'.repeat(bytes);

async function main() {
  const loadBefore = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  const requests = await measurePublishRequests({ n: N, warmup: Math.min(WARMUP, 50) });
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-bench-log-'));
  const store = await LevelStore.open(join(dir, 'db'));
  const log = new TagLog(store);
  const results = [];
  try {
    for (const target of SIZES) {
      const gun = `registry.example.com/bench/log-${target}`;
      const versions = { targets: 0, snapshot: 0, timestamp: 0 };
      const commit = async (leaves) => {
        const prepared = leaves ? await log.prepare(gun, leaves) : undefined;
        const files = [
          { role: 'targets', version: versions.targets + 1, text: text(1200) },
          { role: 'snapshot', version: versions.snapshot + 1, text: text(420) },
          // The timestamp grows by the head it signs (x-tagtrust-log).
          { role: 'timestamp', version: versions.timestamp + 1, text: text(460) + (prepared ? JSON.stringify({ 'x-tagtrust-log': prepared.head }) : '') },
        ];
        await store.commit({ gun, files, expectedLatest: { ...versions, root: versions.root ?? 1 }, audit: { time: new Date().toISOString(), actor: 'bench', action: 'publish' }, ...(prepared?.append ? { log: prepared.append } : {}) });
        if (prepared) log.committed(gun, prepared); // as Repository.publish does after its commit
        for (const f of files) versions[f.role] = f.version;
        return prepared;
      };
      // Root once, then fill the log to `target` entries, 1,000 per batch.
      await store.commit({ gun, files: [{ role: 'root', version: 1, text: text(900) }], expectedLatest: { root: 0 } });
      versions.root = 1;
      const fillStart = process.hrtime.bigint();
      for (let at = 0; at < target - N - WARMUP; at += 1000) await commit(Array.from({ length: Math.min(1000, target - N - WARMUP - at) }, (_, i) => leafOf(at + i)));
      const fillMs = Number(process.hrtime.bigint() - fillStart) / 1e6;
      const measure = { without: { wall: [], cpu: [] }, with: { wall: [], cpu: [] } };
      let logBytes = 0;
      let size = await store.getLogSize(gun);
      for (let i = -2 * WARMUP; i < 2 * N; i += 1) {
        const withLog = i % 2 !== 0;
        const cpu = process.cpuUsage();
        const start = process.hrtime.bigint();
        const prepared = await commit(withLog ? [leafOf(size)] : undefined);
        const wall = Number(process.hrtime.bigint() - start) / 1e6;
        const used = process.cpuUsage(cpu);
        if (prepared?.append) size += 1;
        if (i < 0) continue; // warm-up: V8 compiles both paths
        const m = measure[withLog ? 'with' : 'without'];
        m.wall.push(wall);
        m.cpu.push((used.user + used.system) / 1000);
        if (prepared?.append) {
          const a = prepared.append;
          const keyBytes = gun.length + 14;
          logBytes += a.leaves.reduce((s, l) => s + l.length + keyBytes, 0) + a.nodes.reduce((s, n) => s + 64 + keyBytes + 3, 0) + Object.keys(a.tags).reduce((s, t) => s + t.length + gun.length + 1 + 71, 0) + JSON.stringify({ 'x-tagtrust-log': prepared.head }).length;
        }
      }
      const head = (await log.prepare(gun, [])).head;
      const root = Buffer.from(head.root_hash, 'hex');
      const index = Math.floor(head.size / 3);
      const inclusion = await log.inclusion(gun, index, head.size);
      const from = head.size - 37;
      const consistency = await log.consistency(gun, from, head.size);
      const verifyStart = process.hrtime.bigint();
      const reps = 1000;
      let ok = true;
      for (let r = 0; r < reps; r += 1) ok &&= verifyInclusion(hashLeaf(inclusion.entry), index, head.size, inclusion.proof.map((h) => Buffer.from(h, 'hex')), root);
      const inclusionUs = Number(process.hrtime.bigint() - verifyStart) / 1000 / reps;
      // The old head is needed for a consistency check: recompute it from the store's subtrees.
      const { foldNodes, rangeNodes } = await import('../shared/dist/index.js');
      const ids = rangeNodes({ start: 0, end: from });
      const oldRoot = foldNodes((await store.getLogNodes(gun, ids)).map((h) => Buffer.from(h, 'hex')));
      const cStart = process.hrtime.bigint();
      for (let r = 0; r < reps; r += 1) ok &&= verifyConsistency(from, head.size, oldRoot, root, consistency.proof.map((h) => Buffer.from(h, 'hex')));
      const consistencyUs = Number(process.hrtime.bigint() - cStart) / 1000 / reps;
      if (!ok) throw new Error('a proof did not verify');
      results.push({
        entries: head.size,
        fillMs: Math.round(fillMs),
        commitWallMs: { without: median(measure.without.wall), with: median(measure.with.wall) },
        commitCpuMs: { without: median(measure.without.cpu), with: median(measure.with.cpu) },
        logBytesPerPublish: Math.round(logBytes / N),
        inclusion: { hashes: inclusion.proof.length, jsonBytes: JSON.stringify(inclusion).length, verifyUs: Number(inclusionUs.toFixed(1)) },
        consistency: { from, hashes: consistency.proof.length, jsonBytes: JSON.stringify(consistency).length, verifyUs: Number(consistencyUs.toFixed(1)) },
      });
    }
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  const loadAfter = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  const added = requests.postCpuMs.with - requests.postCpuMs.without;
  const paired = requests.postCpuMs.pairedDifference;
  const summary = {
    logAddsCpuMs: Number(added.toFixed(3)),
    ofPublishPercent: Number(((100 * added) / requests.postCpuMs.without).toFixed(1)),
    pairedOfPublishPercent: Number(((100 * paired) / requests.postCpuMs.without).toFixed(1)),
  };
  console.log(JSON.stringify({ n: N, node: process.version, load: { before: loadBefore, after: loadAfter }, requests: { ...requests, ...summary }, results }, null, 2));
}

await main();
