#!/usr/bin/env node
// Server-side cost of a one-tag publish, in isolation (issue #6: < 2 ms for one tag, < 5 ms for one tag
// into a flat 1,000-tag collection).
//
//   npm run bench:publish                       builds, then runs this pinned to CPU 1 (server on CPU 0)
//   BENCH_N=100 BENCH_TLS=0 npm run bench:publish
//
// A real tagtrust-server process (--access-log) on 127.0.0.1 with a fresh level database, and the real
// library Publisher from the built client. For each case it does BENCH_WARMUP unmeasured publishes
// (V8 compiles the publish path), then BENCH_N measured ones, and prints medians of:
// - the POST's server-side wall time, from the server's log entry for it (body read, verification, signing, commit);
// - the server process's CPU time (all threads, /proc/<pid>/task/*/schedstat) from the moment the client
//   sends the POST to the end of its response: the POST's CPU cost, which depends much less on other
//   load on the machine than wall time (the server is otherwise idle);
// - the server process's CPU time over the whole library publish (every request it makes: next-root
//   probe, timestamp, snapshot, POST).
// Cases: one tag into a small collection; one tag into a flat collection of BENCH_BIG tags (default
// 1,000; bulk-loaded in one POST, automatic hashed bins off so it stays flat); one tag into the same
// number of tags moved into hashed bins by `enableBins` (the default layout for that size).
// Env: BENCH_N (default 60), BENCH_WARMUP (20), BENCH_BIG (1000), BENCH_CASES (comma-separated subset of
// small,flat,binned; default all: BENCH_CASES=binned BENCH_BIG=6400 is one tag into 16 bins of ~400), BENCH_TLS (1: HTTPS with a self-signed
// certificate, as the full benchmark; 0: plain HTTP), BENCH_PROF=DIR (server runs with --cpu-prof, the
// profile lands in DIR when it stops).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, isLeasePath, log, median, must, publishPostTimes, run, startProcess, stopProcess, threadsCpuMs } from './lib.mjs';

const N = Number(process.env.BENCH_N ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const BIG = Number(process.env.BENCH_BIG ?? 1000);
const TLS = process.env.BENCH_TLS !== '0';
const PROF = process.env.BENCH_PROF;
const CASES = new Set((process.env.BENCH_CASES ?? 'small,flat,binned').split(','));
const SMALL_GUN = 'registry.example.com/bench/small';
const BIG_GUN = 'registry.example.com/bench/big';
const BINNED_GUN = 'registry.example.com/bench/binned';
const PASS = 'bench-pass-not-a-secret';
const sha = (text) => createHash('sha256').update(text).digest('hex');


const work = await mkdtemp(join(tmpdir(), 'tagtrust-bench-publish-'));
const token = `tt_${randomBytes(24).toString('base64url')}`;
const logFile = join(work, 'server.log');
const server = join(ROOT, 'server/dist/bin.js');
let ca;
const args = [];
if (TLS) {
  await must(process.execPath, [server, 'tls', 'self-signed', '--out', join(work, 'tls')]);
  ca = await readFile(join(work, 'tls', 'cert.pem'), 'utf8');
  args.push('--tls-cert', join(work, 'tls', 'cert.pem'), '--tls-key', join(work, 'tls', 'key.pem'));
}
const port = 20000 + Math.floor(Math.random() * 20000);
const url = `${TLS ? 'https' : 'http'}://127.0.0.1:${port}`;
const pinned = (await run('sh', ['-c', 'command -v taskset'])).code === 0;
const nodeArgs = PROF ? [`--cpu-prof`, `--cpu-prof-dir=${PROF}`] : [];
const command = [process.execPath, ...nodeArgs, server, '--listen', `127.0.0.1:${port}`, '--data', join(work, 'data'), '--access-log', ...args];
const child = await startProcess(pinned ? 'taskset' : command[0], pinned ? ['-c', '0', ...command] : command.slice(1), {
  env: { ...process.env, TAGTRUST_ADMIN_TOKEN: token },
  logFile,
  what: 'tagtrust-server',
  ready: () => request('GET', '/healthz').then((r) => r.status === 200),
});

function request(method, path, body) {
  const lib = TLS ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(`${url}${path}`, { method, ca, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** True for the POST that waits for the publish lease (not the publish). */

/** Server CPU (ms) during each publish POST the client sends: node:http(s).request wrapped (the client imports it per request). */
const postCpu = [];
for (const lib of [http, https]) {
  const original = lib.request;
  lib.request = function request(...args) {
    const options = args.find((a) => a && typeof a === 'object' && !(a instanceof URL));
    const target = args.find((a) => typeof a === 'string' || a instanceof URL);
    const path = target === undefined ? options?.path : new URL(target).pathname;
    const req = original.apply(this, args);
    if (options?.method === 'POST' && !isLeasePath(path)) {
      const c0 = threadsCpuMs(child.pid);
      req.once('response', (res) => res.once('end', () => postCpu.push(threadsCpuMs(child.pid) - c0)));
    }
    return req;
  };
}
syncBuiltinESMExports();


try {
  const { Publisher } = await import('@tagtrust/client');
  const { buildTargets, expiresAfter, DEFAULT_LIFETIMES } = await import('@tagtrust/shared');
  const { decryptKeyFile, parseKeyFile, signMetadata } = await import('@tagtrust/keys');
  const home = join(work, 'home');
  const publisher = new Publisher({ server: url, home, token, ca, passphrases: async () => PASS, warn: () => {}, binsThreshold: 0, timeoutMs: 600_000 });

  log(`server ${url} (pid ${child.pid}${pinned ? ', CPU 0' : ''}); small collection and a flat ${BIG}-tag collection`);
  if (CASES.has('small')) await publisher.init(SMALL_GUN);
  // Bulk load: targets v2 with BIG entries, signed with the collection's targets key, in one POST.
  for (const gun of [CASES.has('flat') && BIG_GUN, CASES.has('binned') && BINNED_GUN].filter(Boolean)) {
    const init = await publisher.init(gun);
    const keyPath = init.keyFiles.find((f) => f.includes(init.targetsKeyId));
    const key = await decryptKeyFile(parseKeyFile(await readFile(keyPath, 'utf8'), keyPath), PASS);
    const targets = {};
    for (let i = 0; i < BIG; i += 1) targets[`${gun}:v${i}`] = { length: 1000 + i, hashes: { sha256: sha(`${gun}:v${i}`) } };
    const bulk = await request('POST', `/v2/${gun}/_trust/tuf/`, JSON.stringify({ targets: signMetadata(buildTargets(2, expiresAfter(new Date(), DEFAULT_LIFETIMES.targets), targets), [key]) }));
    if (bulk.status !== 200) throw new Error(`bulk publish failed: ${bulk.status} ${bulk.text}`);
  }
  const { bins } = CASES.has('binned') ? await publisher.enableBins(BINNED_GUN) : {}; // the default layout for its size

  const results = [];
  const big = BIG.toLocaleString('en-US');
  const cases = [['small', 'one tag, small collection', SMALL_GUN], ['flat', `one tag into a flat ${big}-tag collection`, BIG_GUN], ['binned', `one tag into ${big} tags in ${bins} hashed bins`, BINNED_GUN]];
  for (const [name, gun] of cases.filter(([id]) => CASES.has(id)).map(([, ...rest]) => rest)) {
    for (let i = 0; i < WARMUP; i += 1) await publisher.sign(`${gun}:warm-${i}`, { digest: `sha256:${sha(`${gun}:warm-${i}`)}`, size: 1000 });
    const offset = (await readFile(logFile)).length;
    postCpu.length = 0;
    const cpu = [];
    const wall = [];
    for (let i = 0; i < N; i += 1) {
      const c0 = threadsCpuMs(child.pid);
      const t0 = performance.now();
      await publisher.sign(`${gun}:t-${i}`, { digest: `sha256:${sha(`${gun}:t-${i}`)}`, size: 1000 });
      wall.push(performance.now() - t0);
      cpu.push(threadsCpuMs(child.pid) - c0);
    }
    // The server logs a request once its response is handed to the kernel, which can be after the client
    // has it: wait for the last line, and drop a warm-up line that landed after `offset` was taken.
    let posts = [];
    for (let wait = 0; posts.length < N && wait < 50; wait += 1) {
      await new Promise((r) => setTimeout(r, 100));
      posts = await publishPostTimes(logFile, offset);
    }
    if (posts.length < N) throw new Error(`expected ${N} POSTs in the access log, found ${posts.length}`);
    posts = posts.slice(-N);
    if (postCpu.length !== N) throw new Error(`expected ${N} POSTs from the client, saw ${postCpu.length}`);
    results.push({ name, post: median(posts), postP90: posts.sort((a, b) => a - b)[Math.floor(N * 0.9)], postCpu: median(postCpu), cpu: median(cpu), publish: median(wall) });
  }

  const fmt = (v) => v.toFixed(2).padStart(8);
  process.stdout.write(`\nServer-side publish cost, ${TLS ? 'HTTPS' : 'plain HTTP'}, N=${N} per case (after ${WARMUP} warm-up publishes), load average ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}\n`);
  process.stdout.write(`${'medians, ms'.padEnd(44)}  POST wall  (p90)   POST srv CPU  publish srv CPU  library publish\n`);
  for (const r of results) process.stdout.write(`${r.name.padEnd(44)}  ${fmt(r.post)} ${fmt(r.postP90)}      ${fmt(r.postCpu)}         ${fmt(r.cpu)}         ${fmt(r.publish)}\n`);
} finally {
  await stopProcess(child);
  await rm(work, { recursive: true, force: true });
}
