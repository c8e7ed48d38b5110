#!/usr/bin/env node
// What `sync: true` costs per commit (issue 11): the level database under tagtrust-server, written the
// way a one-tag publish writes it (one batch: targets, snapshot and timestamp files, three latest
// pointers, one audit record; about 4 KB), with and without sync, in alternating rounds.
//
//   node bench/sync-cost.mjs [DIR]     DIR: where the database goes (default: the OS temp dir); put it on
//                                      the filesystem the server's --data directory lives on
// Env: BENCH_N (commits per round, default 100), BENCH_ROUNDS (default 3).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';

const N = Number(process.env.BENCH_N ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const dir = await mkdtemp(join(process.argv[2] ?? tmpdir(), 'tagtrust-sync-cost-'));
const db = new Level(join(dir, 'db'), { valueEncoding: 'utf8' });
await db.open();
const sub = (name) => db.sublevel(name, { valueEncoding: 'utf8' });
const [files, latest, audit] = [sub('files'), sub('latest'), sub('audit')];
const body = (n) => 'x'.repeat(n);
let version = 0;

async function commit(sync) {
  version += 1;
  const v = String(version).padStart(12, '0');
  const ops = [
    { type: 'put', sublevel: files, key: `gun\0targets\0${v}`, value: body(1800) },
    { type: 'put', sublevel: files, key: `gun\0snapshot\0${v}`, value: body(700) },
    { type: 'put', sublevel: files, key: `gun\0timestamp\0${v}`, value: body(600) },
    ...['targets', 'snapshot', 'timestamp'].map((role) => ({ type: 'put', sublevel: latest, key: `gun\0${role}`, value: String(version) })),
    { type: 'put', sublevel: audit, key: `gun\0${v}`, value: body(400) },
  ];
  const start = process.hrtime.bigint();
  await db.batch(ops, { sync });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const times = { false: [], true: [] };
for (let round = 0; round < ROUNDS; round += 1) {
  for (const sync of [false, true]) for (let i = 0; i < N; i += 1) times[sync].push(await commit(sync));
}
await db.close();
await rm(dir, { recursive: true, force: true });
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const load = (await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`commit of a one-tag publish batch (~4 KB), ${N * ROUNDS} each, in ${process.argv[2] ?? tmpdir()}, load average ${load}`);
for (const sync of [false, true]) {
  console.log(`  sync: ${String(sync).padEnd(5)}  median ${pct(times[sync], 0.5).toFixed(3)} ms   p90 ${pct(times[sync], 0.9).toFixed(3)} ms   p99 ${pct(times[sync], 0.99).toFixed(3)} ms`);
}
