#!/usr/bin/env node
// tagtrust vs Notary (notary-server 0.7.0, Debian package `notary`) on 127.0.0.1, same run, same machine.
//
//   npm run bench                 full run (about 5 minutes), writes docs/benchmarks.md
//   BENCH_QUICK=1 npm run bench   short run (about 1-2 minutes), writes only to the work dir
//
// Needs: `npm run build` output (npm run bench builds first), notary + notary-server + openssl
// (installed with apt-get when missing, which needs root), taskset. Servers run pinned to CPU 0 (Notary
// with GOMAXPROCS=1), clients and load generators on CPU 1 (npm run bench pins this process there).
// Env: BENCH_QUICK, BENCH_LARGE (tags in the large flat tagtrust collection), BENCH_HUGE (tags in the
// collection in hashed bins, 100,000 by default; 0 skips it), BENCH_OUT (markdown path),
// BENCH_DURATION (s per read test), BENCH_ROUNDS (read-test rounds; the best is kept),
// BENCH_LOADGEN=wrk (wrk -t1 instead of autocannon for the read tests; apt-get install wrk),
// NOTARY_PEER_DIR (default ../shared/peers/notary beside the repo or /work/shared/peers/notary).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import { join } from 'node:path';
import { gateBenchmark, gateSection } from './gate.mjs';
import { markedSections, writeSection } from './sections.mjs';
import { ROOT, certificate, countingProxy, cpuMs, log, loadTest, median, memoryKb, must, probe, publishPostTimes, run, sleep, startProcess, stopProcess, tlsTerminator } from './lib.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = QUICK ? 3 : 7;
const BIG = QUICK ? 100 : 1000;
const LARGE = Number(process.env.BENCH_LARGE ?? (QUICK ? 2000 : 5000));
const HUGE = Number(process.env.BENCH_HUGE ?? (QUICK ? 20000 : 100000));
const DURATION = Number(process.env.BENCH_DURATION ?? (QUICK ? 3 : 10));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 2));
const CONNS = 50;
const PEER_DIR = process.env.NOTARY_PEER_DIR ?? [join(ROOT, '..', 'shared', 'peers', 'notary'), '/work/shared/peers/notary'].find((d) => existsSync(join(d, 'run-notary.sh')));
const PORTS = { notaryTls: 14443, notaryPlain: 14444, tagtrust: 14543 };
const GUN = 'registry.example.com/team/app';
const BIG_GUN = 'registry.example.com/team/big';
const LARGE_GUN = 'registry.example.com/team/large';
const HUGE_GUN = 'registry.example.com/team/huge';
// CPU times come in 10 ms ticks: a mean over the runs says more than a median.
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
const sha = (text) => createHash('sha256').update(text).digest('hex');
const results = { rows: [], notes: [], raw: {} };

// ---------------------------------------------------------------- setup
async function prerequisites() {
  if (!PEER_DIR) throw new Error('cannot find run-notary.sh: set NOTARY_PEER_DIR to the folder with the Notary peer scripts');
  const missing = [];
  for (const bin of ['notary', 'notary-server', 'openssl', 'taskset']) if ((await run('sh', ['-c', `command -v ${bin}`])).code !== 0) missing.push(bin);
  if (missing.includes('notary') || missing.includes('notary-server') || missing.includes('openssl')) {
    log(`installing notary and openssl with apt-get (missing: ${missing.join(', ')})`);
    await must('apt-get', ['install', '-y', 'notary', 'openssl']);
  }
  if (missing.includes('taskset')) throw new Error('taskset (util-linux) is needed to pin servers and clients');
  if (!existsSync(join(ROOT, 'server/dist/bin.js'))) throw new Error('build first: npm run build');
}

class Notary {
  constructor(name, work, port, tlsOn, certs) {
    Object.assign(this, { name, port, tlsOn, certs, rig: join(work, name) });
  }
  env(extra = {}) {
    return { ...process.env, RIG: this.rig, NOTARY_PORT: String(this.port), NOTARY_TLS: this.tlsOn ? '1' : '0', NOTARY_CPUS: '0', ...extra };
  }
  async start(logLevel) {
    await mkdir(join(this.rig, 'certs'), { recursive: true });
    await copyFile(this.certs.cert, join(this.rig, 'certs/server.crt'));
    await copyFile(this.certs.key, join(this.rig, 'certs/server.key'));
    await must('bash', [join(PEER_DIR, 'run-notary.sh'), 'start'], { env: this.env({ NOTARY_LOG_LEVEL: logLevel }) });
    this.pid = Number(await readFile(join(this.rig, 'state/notary-server.pid'), 'utf8'));
    this.logFile = join(this.rig, 'state/notary-server.log');
  }
  stop() {
    return run('bash', [join(PEER_DIR, 'run-notary.sh'), 'stop'], { env: this.env() });
  }
  async quiet() {
    // info -> warn -> error, as bench-notary.sh does, so request logging does not slow the read tests.
    process.kill(this.pid, 'SIGUSR2');
    await sleep(200);
    process.kill(this.pid, 'SIGUSR2');
    await sleep(300);
  }
  async logOffset() {
    return (await readFile(this.logFile)).length;
  }
  /** Server-side durations (ms) of publish POSTs logged since `offset`. */
  posts(offset) {
    return publishPostTimes(this.logFile, offset);
  }
}

class TagTrust {
  constructor(work, certs) {
    Object.assign(this, { work, certs, data: join(work, 'tagtrust-data'), logFile: join(work, 'tagtrust-server.log'), token: `tt_${randomBytes(24).toString('base64url')}` });
  }
  async start({ tlsOn, accessLog, bodyLimit }) {
    const args = ['-c', '0', process.execPath, join(ROOT, 'server/dist/bin.js'), '--listen', `127.0.0.1:${PORTS.tagtrust}`, '--data', this.data];
    if (tlsOn) args.push('--tls-cert', this.certs.cert, '--tls-key', this.certs.key);
    if (accessLog) args.push('--access-log');
    if (bodyLimit) args.push('--body-limit', String(bodyLimit));
    this.url = `${tlsOn ? 'https' : 'http'}://127.0.0.1:${PORTS.tagtrust}`;
    const ca = await readFile(this.certs.cert);
    this.child = await startProcess('taskset', args, {
      // As `npm start` and docs/performance.md run it: fewer glibc malloc arenas, less fragmentation.
      env: { MALLOC_ARENA_MAX: '2', ...process.env, TAGTRUST_ADMIN_TOKEN: this.token },
      logFile: this.logFile,
      what: 'tagtrust-server',
      ready: () => probe(`${this.url}/healthz`, ca),
    });
    this.pid = this.child.pid;
  }
  stop() {
    return stopProcess(this.child);
  }
  async logOffset() {
    return (await readFile(this.logFile)).length;
  }
  async posts(offset) {
    const text = (await readFile(this.logFile)).subarray(offset).toString('utf8');
    // The server's JSON log entries, one per request; whole lines only (the last may be being written).
    const entries = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
    return entries.filter((e) => e.method === 'POST' && e.status === 200 && !e.path.includes('/_trust/lease')).map((e) => e.durationMs);
  }
}

// ---------------------------------------------------------------- reporting
const fmt = (v, digits = 1) => (v === undefined || v === null || Number.isNaN(v) ? 'n/a' : typeof v === 'string' ? v : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits));
function row(name, unit, tagtrust, notary, better) {
  const ratio = typeof tagtrust === 'number' && typeof notary === 'number' && notary > 0 ? tagtrust / notary : undefined;
  results.rows.push({ name, unit, tagtrust, notary, ratio, better });
  log(`${name}: tagtrust ${fmt(tagtrust)} ${unit}, Notary ${fmt(notary)} ${unit}${ratio ? `, ratio ${ratio.toFixed(2)}` : ''}`);
}

function table() {
  const lines = ['| Measurement | Unit | tagtrust | Notary | tagtrust / Notary |', '| --- | --- | ---: | ---: | ---: |'];
  for (const r of results.rows) {
    const ratio = r.ratio === undefined ? '' : `${r.ratio >= 10 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}x${r.better ? ` (${r.better} is better)` : ''}`;
    lines.push(`| ${r.name} | ${r.unit} | ${fmt(r.tagtrust)} | ${fmt(r.notary)} | ${ratio} |`);
  }
  return lines.join('\n');
}

async function machine() {
  const cpus = os.cpus();
  const notaryVersion = (await run('sh', ['-c', "dpkg-query -W -f='${Version}' notary"])).stdout.trim();
  return {
    cpu: `${cpus.length} x ${cpus[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    notary: `notary ${notaryVersion || 'unknown'} (Debian)`,
    loadavg: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

// ---------------------------------------------------------------- the workloads
async function main() {
  await prerequisites();
  const started = new Date();
  const work = await mkdtemp(join(os.tmpdir(), 'tagtrust-bench-'));
  log(`work dir ${work}${QUICK ? ' (BENCH_QUICK)' : ''}`);
  const certs = await certificate(join(work, 'certs'));
  const caPem = await readFile(certs.cert);
  const notaryTls = new Notary('notary-tls', work, PORTS.notaryTls, true, certs);
  const notaryPlain = new Notary('notary-plain', work, PORTS.notaryPlain, false, certs);
  const tt = new TagTrust(work, certs);
  const cleanup = [];
  const stopAll = async () => { for (const f of cleanup.reverse()) await f().catch(() => {}); cleanup.length = 0; };
  process.once('SIGINT', () => stopAll().then(() => process.exit(130)));
  try {
    await notaryTls.start('info');
    cleanup.push(() => notaryTls.stop());
    await notaryPlain.start('error');
    cleanup.push(() => notaryPlain.stop());
    const terminator = await tlsTerminator(PORTS.notaryPlain, caPem, await readFile(certs.key));
    cleanup.push(() => terminator.close());
    await tt.start({ tlsOn: true, accessLog: true });
    cleanup.push(() => tt.stop());

    const notaryEnv = { ...process.env, NOTARY_ROOT_PASSPHRASE: 'bench-root-pass', NOTARY_TARGETS_PASSPHRASE: 'bench-targets-pass', NOTARY_SNAPSHOT_PASSPHRASE: 'bench-snapshot-pass' };
    const notaryTrust = join(work, 'notary-trust');
    const N = (args, { trust = notaryTrust, url = `https://127.0.0.1:${PORTS.notaryTls}` } = {}) => must('notary', ['-d', trust, '-s', url, '--tlscacert', certs.cert, ...args], { env: notaryEnv });
    const ttHome = join(work, 'tagtrust-home');
    // The 1,000-tag collection is compared with Notary's flat one: no automatic move into hashed bins.
    const ttEnv = (home = ttHome, url = tt.url) => ({ ...process.env, TAGTRUST_SERVER: url, TAGTRUST_HOME: home, TAGTRUST_TOKEN: tt.token, TAGTRUST_ROOT_PASSPHRASE: 'bench-root-pass', TAGTRUST_TARGETS_PASSPHRASE: 'bench-targets-pass', TAGTRUST_BINS_THRESHOLD: '0' });
    const T = (args, env = ttEnv()) => must(process.execPath, [join(ROOT, 'client/bin/tagtrust.js'), ...args, '--ca', certs.cert], { env });
    const digest = (gun, tag) => sha(`${gun}:${tag}`);

    // -- CLI start-up
    log('CLI start-up');
    const ttHelp = [], notaryHelp = [], nodeBare = [];
    for (let i = 0; i < RUNS; i += 1) {
      ttHelp.push((await must(process.execPath, [join(ROOT, 'client/bin/tagtrust.js'), '--help'])).ms);
      notaryHelp.push((await must('notary', ['--help'])).ms);
      nodeBare.push((await must(process.execPath, ['-e', '0'])).ms);
    }
    row('CLI start-up: `--help`, median', 'ms', median(ttHelp), median(notaryHelp), 'lower');
    results.notes.push(`\`node -e 0\` alone takes ${fmt(median(nodeBare))} ms on this machine (median of ${RUNS}).`);

    // -- init
    log('init collections');
    await T(['init', GUN]);
    await N(['init', '-p', GUN]);
    await N(['init', '-p', GUN], { trust: join(work, 'notary-trust-plain'), url: `https://127.0.0.1:${terminator.port}` });

    // -- warm-up: a long-running server has its publish path compiled by V8; a fresh one runs it in the
    // interpreter. Both servers get the same warm-up publishes before anything is measured.
    const WARMUP = 'registry.example.com/team/warmup';
    log('warm-up publishes');
    await T(['init', WARMUP]);
    await N(['init', '-p', WARMUP]);
    {
      const { Publisher: WarmPublisher } = await import('@tagtrust/client');
      const warmPublisher = new WarmPublisher({ server: tt.url, home: ttHome, token: tt.token, ca: caPem, warn: () => {}, passphrases: async () => 'bench-targets-pass' });
      for (let i = 0; i < 30; i += 1) await warmPublisher.sign(`${WARMUP}:w${i}`, { digest: `sha256:${digest(WARMUP, `w${i}`)}`, size: 1000 });
    }
    for (let i = 0; i < 3; i += 1) {
      await T(['sign', `${WARMUP}:cli-${i}`, '--digest', `sha256:${digest(WARMUP, `cli-${i}`)}`, '--size', '1000']);
      await N(['addhash', '-p', WARMUP, `cli-${i}`, '1000', '--sha256', digest(WARMUP, `cli-${i}`)]);
    }

    // -- publish one tag through the CLI
    log(`publish one tag through the CLI x${RUNS}`);
    const ttCli = [], notaryCli = [], ttCpu = [], notaryCpu = [];
    // Server CPU time spent on one whole CLI publish (every request it makes, TLS handshakes included):
    // the servers are otherwise idle, so this depends little on other load on the machine.
    const withCpu = async (pid, into, work) => { const c0 = cpuMs(pid); const r = await work(); into.push(cpuMs(pid) - c0); return r; };
    let ttOff = await tt.logOffset(), nOff = await notaryTls.logOffset();
    for (let i = 0; i < RUNS; i += 1) {
      ttCli.push((await withCpu(tt.pid, ttCpu, () => T(['sign', `${GUN}:cli-${i}`, '--digest', `sha256:${digest(GUN, `cli-${i}`)}`, '--size', '1000']))).ms);
      notaryCli.push((await withCpu(notaryTls.pid, notaryCpu, () => N(['addhash', '-p', GUN, `cli-${i}`, '1000', '--sha256', digest(GUN, `cli-${i}`)]))).ms);
    }
    row('Publish one tag, CLI (end to end, TLS), median', 'ms', median(ttCli), median(notaryCli), 'lower');
    row('  server-side handling of that publish (POST, wall time), median', 'ms', median(await tt.posts(ttOff)), median(await notaryTls.posts(nOff)), 'lower');
    row('  server CPU for the whole CLI publish (all its requests), mean', 'ms', mean(ttCpu), mean(notaryCpu), 'lower');

    // -- publish through the library
    log(`publish one tag through the library x${RUNS + 1}`);
    const { Publisher, Puller } = await import('@tagtrust/client');
    const passphrases = async ({ role }) => (role === 'root' ? 'bench-root-pass' : 'bench-targets-pass');
    const publisher = (home = ttHome) => new Publisher({ server: tt.url, home, token: tt.token, ca: caPem, passphrases, warn: () => {}, timeoutMs: 600_000, binsThreshold: 0 });
    const libPublisher = publisher();
    ttOff = await tt.logOffset();
    let t0 = performance.now();
    await libPublisher.sign(`${GUN}:lib-first`, { digest: `sha256:${digest(GUN, 'lib-first')}`, size: 1000 });
    const libFirst = performance.now() - t0;
    const libWarm = [];
    for (let i = 0; i < RUNS; i += 1) {
      t0 = performance.now();
      await libPublisher.sign(`${GUN}:lib-${i}`, { digest: `sha256:${digest(GUN, `lib-${i}`)}`, size: 1000 });
      libWarm.push(performance.now() - t0);
    }
    row('Publish one tag, library, first in the process (includes key decryption)', 'ms', libFirst, undefined);
    row('Publish one tag, library, later publishes, median', 'ms', median(libWarm), undefined);
    row('  server-side handling, median', 'ms', median(await tt.posts(ttOff)), undefined);
    const { decryptKeyFile, parseKeyFile } = await import('@tagtrust/keys');
    const keyFiles = await readdir(join(ttHome, 'keys'));
    const scrypt = [];
    for (const name of keyFiles) {
      const file = parseKeyFile(await readFile(join(ttHome, 'keys', name), 'utf8'), name);
      t0 = performance.now();
      await decryptKeyFile(file, file.role === 'root' ? 'bench-root-pass' : 'bench-targets-pass');
      scrypt.push(performance.now() - t0);
    }
    row('  of which key decryption (scrypt N=2^15, r=8), median', 'ms', median(scrypt), undefined);

    // -- BIG tags one at a time
    log(`${BIG} tags published one at a time (tagtrust: library, Notary: CLI)`);
    await T(['init', BIG_GUN]);
    await N(['init', '-p', BIG_GUN]);
    const bigPublisher = publisher();
    t0 = performance.now();
    for (let i = 0; i < BIG; i += 1) await bigPublisher.sign(`${BIG_GUN}:v${i}`, { digest: `sha256:${digest(BIG_GUN, `v${i}`)}`, size: 1000 + i });
    const ttBigTotal = performance.now() - t0;
    nOff = await notaryTls.logOffset();
    t0 = performance.now();
    for (let i = 0; i < BIG; i += 1) await N(['addhash', '-p', BIG_GUN, `v${i}`, String(1000 + i), '--sha256', digest(BIG_GUN, `v${i}`)]);
    const notaryBigTotal = performance.now() - t0;
    row(`${BIG.toLocaleString('en-US')} tags published one at a time, total (tagtrust: library; Notary: CLI, it has no library)`, 's', ttBigTotal / 1000, notaryBigTotal / 1000, 'lower');

    // -- one tag into the BIG collection
    log(`one tag into the ${BIG}-tag collection x${RUNS}`);
    const ttInto = [], notaryInto = [], ttIntoCpu = [], notaryIntoCpu = [];
    ttOff = await tt.logOffset();
    nOff = await notaryTls.logOffset();
    for (let i = 0; i < RUNS; i += 1) {
      ttInto.push((await withCpu(tt.pid, ttIntoCpu, () => T(['sign', `${BIG_GUN}:more-${i}`, '--digest', `sha256:${digest(BIG_GUN, `more-${i}`)}`, '--size', '1000']))).ms);
      notaryInto.push((await withCpu(notaryTls.pid, notaryIntoCpu, () => N(['addhash', '-p', BIG_GUN, `more-${i}`, '1000', '--sha256', digest(BIG_GUN, `more-${i}`)]))).ms);
    }
    row(`One tag into a ${BIG.toLocaleString('en-US')}-tag collection, CLI, median`, 'ms', median(ttInto), median(notaryInto), 'lower');
    row('  server-side handling (POST, wall time), median', 'ms', median(await tt.posts(ttOff)), median(await notaryTls.posts(nOff)), 'lower');
    row('  server CPU for the whole CLI publish (all its requests), mean', 'ms', mean(ttIntoCpu), mean(notaryIntoCpu), 'lower');

    // -- resolve: cold and warm, through byte-counting proxies
    log(`resolve a tag in the ${BIG}-tag collection, cold and warm x${RUNS}`);
    const ttProxy = await countingProxy(PORTS.tagtrust);
    const nProxy = await countingProxy(PORTS.notaryTls);
    cleanup.push(() => ttProxy.close(), () => nProxy.close());
    const ttProxyUrl = `https://127.0.0.1:${ttProxy.port}`;
    const nProxyUrl = `https://127.0.0.1:${nProxy.port}`;
    const resolveRuns = async (fresh) => {
      const out = { tt: [], ttBytes: [], n: [], nBytes: [] };
      const ttWarmHome = join(work, 'resolve-warm-tt'), nWarmTrust = join(work, 'resolve-warm-notary');
      if (!fresh) {
        await T(['resolve', `${BIG_GUN}:v1`], ttEnv(ttWarmHome, ttProxyUrl));
        await N(['lookup', BIG_GUN, 'v1'], { trust: nWarmTrust, url: nProxyUrl });
      }
      for (let i = 0; i < RUNS; i += 1) {
        ttProxy.reset();
        const home = fresh ? join(work, `resolve-cold-tt-${i}`) : ttWarmHome;
        const r = await T(['resolve', `${BIG_GUN}:v${i}`], ttEnv(home, ttProxyUrl));
        if (!r.stdout.includes(digest(BIG_GUN, `v${i}`))) throw new Error(`tagtrust resolved ${r.stdout}`);
        out.tt.push(r.ms);
        out.ttBytes.push(ttProxy.counts().down);
        nProxy.reset();
        const nr = await N(['lookup', BIG_GUN, `v${i}`], { trust: fresh ? join(work, `resolve-cold-notary-${i}`) : nWarmTrust, url: nProxyUrl });
        if (!nr.stdout.includes(digest(BIG_GUN, `v${i}`))) throw new Error(`notary lookup said ${nr.stdout}`);
        out.n.push(nr.ms);
        out.nBytes.push(nProxy.counts().down);
      }
      return out;
    };
    const cold = await resolveRuns(true);
    row(`Resolve a tag (${BIG.toLocaleString('en-US')}-tag collection), cold client (empty home), CLI, median`, 'ms', median(cold.tt), median(cold.n), 'lower');
    row('  bytes downloaded (on the wire, TLS included)', 'bytes', median(cold.ttBytes), median(cold.nBytes), 'lower');
    const warm = await resolveRuns(false);
    row('Resolve a tag, warm client (cache present, nothing changed), CLI, median', 'ms', median(warm.tt), median(warm.n), 'lower');
    row('  bytes downloaded (on the wire, TLS included)', 'bytes', median(warm.ttBytes), median(warm.nBytes), 'lower');
    const libPuller = new Puller({ server: tt.url, home: join(work, 'resolve-warm-lib'), ca: caPem, warn: () => {} });
    await libPuller.resolve(`${BIG_GUN}:v1`);
    const libResolve = [];
    for (let i = 0; i < RUNS; i += 1) {
      t0 = performance.now();
      await new Puller({ server: tt.url, home: join(work, 'resolve-warm-lib'), ca: caPem, warn: () => {} }).resolve(`${BIG_GUN}:v${i}`);
      libResolve.push(performance.now() - t0);
    }
    row('Resolve a tag, warm client, library (in-process), median', 'ms', median(libResolve), undefined);
    const rssAfterWrites = { tt: memoryKb(tt.pid), n: memoryKb(notaryTls.pid) };

    // -- reads: GET timestamp.json, plain HTTP then TLS; GET targets.json of the BIG collection (TLS)
    await notaryTls.quiet();
    const reads = {};
    const best = async (name, targets) => {
      // Alternate the servers, ROUNDS times each; keep each server's best round (the machine is shared).
      const rounds = targets.map(() => []);
      for (let r = 0; r < ROUNDS; r += 1) {
        for (const [i, t] of targets.entries()) {
          log(`${process.env.BENCH_LOADGEN === 'wrk' ? 'wrk' : 'autocannon'} ${name} ${t.who} round ${r + 1}/${ROUNDS} (${DURATION}s, ${CONNS} connections)`);
          rounds[i].push(await loadTest(t.url, { connections: CONNS, seconds: DURATION, serverPid: t.pid, ca: certs.cert }));
        }
      }
      reads[name] = rounds;
      return rounds.map((list) => list.reduce((a, b) => (b.rps > a.rps ? b : a)));
    };
    const tufPath = (gun, file) => `/v2/${gun}/_trust/tuf/${file}`;

    await tt.stop();
    await tt.start({ tlsOn: false, accessLog: false });
    await probe(`${tt.url}${tufPath(GUN, 'timestamp.json')}`);
    let [a, b] = await best('timestamp-plain', [
      { who: 'tagtrust', url: `${tt.url}${tufPath(GUN, 'timestamp.json')}`, pid: tt.pid },
      { who: 'notary', url: `http://127.0.0.1:${PORTS.notaryPlain}${tufPath(GUN, 'timestamp.json')}`, pid: notaryPlain.pid },
    ]);
    row(`GET timestamp.json, plain HTTP, ${CONNS} connections, ${DURATION} s`, 'req/s', a.rps, b.rps, 'higher');
    row('  p99 latency', 'ms', a.p99, b.p99, 'lower');
    row('  server CPU per request', 'us', a.serverCpuUsPerReq, b.serverCpuUsPerReq, 'lower');

    await tt.stop();
    await tt.start({ tlsOn: true, accessLog: false });
    await probe(`${tt.url}${tufPath(GUN, 'timestamp.json')}`, caPem);
    [a, b] = await best('timestamp-tls', [
      { who: 'tagtrust', url: `${tt.url}${tufPath(GUN, 'timestamp.json')}`, pid: tt.pid },
      { who: 'notary', url: `https://127.0.0.1:${PORTS.notaryTls}${tufPath(GUN, 'timestamp.json')}`, pid: notaryTls.pid },
    ]);
    row(`GET timestamp.json, TLS, ${CONNS} connections, ${DURATION} s`, 'req/s', a.rps, b.rps, 'higher');
    row('  p99 latency', 'ms', a.p99, b.p99, 'lower');
    row('  server CPU per request', 'us', a.serverCpuUsPerReq, b.serverCpuUsPerReq, 'lower');

    await probe(`${tt.url}${tufPath(BIG_GUN, 'targets.json')}`, caPem);
    [a, b] = await best('targets-big-tls', [
      { who: 'tagtrust', url: `${tt.url}${tufPath(BIG_GUN, 'targets.json')}`, pid: tt.pid },
      { who: 'notary', url: `https://127.0.0.1:${PORTS.notaryTls}${tufPath(BIG_GUN, 'targets.json')}`, pid: notaryTls.pid },
    ]);
    row(`GET targets.json, ${(BIG + RUNS).toLocaleString('en-US')} tags, TLS, ${CONNS} connections, ${DURATION} s`, 'req/s', a.rps, b.rps, 'higher');
    row('  server CPU per request', 'us', a.serverCpuUsPerReq, b.serverCpuUsPerReq, 'lower');
    row('  bytes per response (no Accept-Encoding)', 'bytes', a.bytesPerResponse, b.bytesPerResponse, 'lower');
    const gz = async (url) => new Promise((resolve) => {
      https.get(url, { ca: caPem, headers: { 'accept-encoding': 'gzip' } }, (res) => {
        let n = 0;
        res.on('data', (d) => (n += d.length)).on('end', () => resolve({ bytes: n, encoding: res.headers['content-encoding'] ?? 'identity' }));
      });
    });
    const ttGz = await gz(`${tt.url}${tufPath(BIG_GUN, 'targets.json')}`);
    const nGz = await gz(`https://127.0.0.1:${PORTS.notaryTls}${tufPath(BIG_GUN, 'targets.json')}`);
    row('  bytes per response with Accept-Encoding: gzip', 'bytes', ttGz.bytes, nGz.bytes, 'lower');
    results.notes.push(`With Accept-Encoding: gzip, tagtrust answered ${ttGz.encoding}, Notary ${nGz.encoding}.`);

    // -- the large collection (tagtrust only), with the access log again for server-side times
    await tt.stop();
    await tt.start({ tlsOn: true, accessLog: true });
    log(`large collection: ${LARGE} tags in one publish (tagtrust only)`);
    const large = await largeCollection({ tt, work, caPem, publisher, Puller, certs, ttEnv, T, digest, ttProxy, ttProxyUrl });
    const rssEnd = { tt: memoryKb(tt.pid), n: memoryKb(notaryTls.pid) };
    row(`Server RSS after the writes above (tagtrust: incl. the ${LARGE.toLocaleString('en-US')}-tag collection)`, 'MB', rssEnd.tt.rss / 1024, rssAfterWrites.n.rss / 1024, 'lower');
    row('Server peak RSS (VmHWM)', 'MB', Math.max(rssEnd.tt.hwm, rssAfterWrites.tt.hwm) / 1024, rssEnd.n.hwm / 1024, 'lower');
    const huge = HUGE > 0 ? await hugeCollection({ tt, work, caPem, Publisher, Puller, digest, ttProxy, ttProxyUrl }) : undefined;
    results.raw = { reads, cold, warm, large, huge, ttCli, notaryCli, ttCpu, notaryCpu, ttInto, notaryInto, ttIntoCpu, notaryIntoCpu, libWarm, libFirst, scrypt, ttHelp, notaryHelp, rssAfterWrites, rssEnd };
  } finally {
    await stopAll();
  }
  // The gate and the Notary way (notary lookup + GET by digest), with their own servers: bench/gate.mjs.
  log('registry gate vs docker-registry, and a verified pull the Notary way (bench/gate.mjs)');
  const gate = await gateBenchmark(work).catch((err) => {
    log(`gate benchmark failed: ${err.stack ?? err}`);
    return { rows: [], notes: [`The gate benchmark failed: ${String(err.message ?? err).split('\n')[0]}`], raw: {} };
  });
  results.raw.gate = gate.raw;

  const info = await machine();
  const command = `${QUICK ? 'BENCH_QUICK=1 ' : ''}npm run bench`;
  const markdown = `# Benchmarks: tagtrust vs Notary

Generated by \`${command}\` (bench/run.mjs) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC; do not edit by hand.
How to read it and what the numbers mean: [performance.md](performance.md).

Machine: ${info.cpu}, ${info.memory} RAM, ${info.kernel}; Node ${info.node}; ${info.notary}; load average at the end ${info.loadavg}.
Both servers on 127.0.0.1 pinned to CPU 0 (Notary with GOMAXPROCS=1), clients and autocannon on CPU 1.
tagtrust-server: embedded level database; notary-server: memory storage, in-process ed25519 signer, logging at info during
writes (as tagtrust's --access-log) and at error during reads. Same self-signed EC P-256 certificate for both.
Read tests: ${process.env.BENCH_LOADGEN === 'wrk' ? 'wrk -t1' : 'autocannon'} ${CONNS} connections, ${DURATION} s, ${ROUNDS} alternating round(s) per server, best round kept.
Medians over ${RUNS} runs unless said otherwise, after 30 warm-up publishes (library) and 3 CLI publishes into
another collection on each server. Server-side times: tagtrust --access-log, Notary's request log (wall time, so
they include waiting for the CPU when the machine is busy); server CPU: /proc utime+stime of the server process.

${table()}

Notes:
${results.notes.map((n) => `- ${n}`).join('\n')}

`;
  const gateMarkdown = gateSection(gate, { command });
  process.stdout.write(`\n${table()}\n\n${results.notes.map((n) => `- ${n}`).join('\n')}\n\n${gateMarkdown}`);
  await writeFile(join(work, 'results.json'), JSON.stringify({ info, command, rows: results.rows, notes: results.notes, raw: results.raw }, null, 2));
  await writeFile(join(work, 'benchmarks.md'), markdown);
  await writeSection(join(work, 'benchmarks.md'), 'gate-bench', gateMarkdown);
  const out = process.env.BENCH_OUT ?? (QUICK ? undefined : join(ROOT, 'docs', 'benchmarks.md'));
  if (out) {
    await mkdir(join(out, '..'), { recursive: true });
    // The sections other benchmarks own (admission, replicas, ...) are kept; this run rewrites the rest.
    const kept = markedSections(await readFile(out, 'utf8').catch(() => ''));
    await writeFile(out, [markdown.trimEnd(), ...kept].join('\n\n') + '\n');
    await writeSection(out, 'gate-bench', gateMarkdown);
    log(`wrote ${out}`);
  }
  log(`raw results: ${join(work, 'results.json')}`);
}

/** A LARGE-tag collection published in one go, then one more tag and a warm resolve after it. */
async function largeCollection({ tt, work, caPem, publisher, Puller, certs, ttEnv, T, digest, ttProxy, ttProxyUrl }) {
  const home = join(work, 'large-home');
  const init = await publisher(home).init(LARGE_GUN);
  const { ms: bulkMs, bodyBytes } = await bulkLoad({ tt, caPem, gun: LARGE_GUN, init, count: LARGE, digest });
  row(`Large collection: publish ${LARGE.toLocaleString('en-US')} tags in one POST (bench-built, ${(bodyBytes / 1e6).toFixed(1)} MB), end to end`, 'ms', bulkMs, undefined);

  // A publisher and a puller that are up to date (they have the current targets).
  const warmPuller = join(work, 'large-puller');
  let t0 = performance.now();
  ttProxy.reset();
  await new Puller({ server: ttProxyUrl, home: warmPuller, ca: caPem, warn: () => {}, timeoutMs: 600_000 }).resolve(`${LARGE_GUN}:v1`);
  const coldResolve = { ms: performance.now() - t0, bytes: ttProxy.counts().down };
  row('  cold client resolves a tag (library): time', 'ms', coldResolve.ms, undefined);
  row('  cold client resolves a tag: bytes downloaded (gzip, TLS)', 'bytes', coldResolve.bytes, undefined);
  await new Puller({ server: tt.url, home, ca: caPem, warn: () => {}, timeoutMs: 600_000 }).resolve(`${LARGE_GUN}:v1`);

  const offset = await tt.logOffset();
  ttProxy.reset();
  t0 = performance.now();
  const p = new (await import('@tagtrust/client')).Publisher({ server: ttProxyUrl, home, token: tt.token, ca: caPem, warn: () => {}, passphrases: async () => 'bench-targets-pass', timeoutMs: 600_000, binsThreshold: 0 }); // measure the flat collection
  await p.sign(`${LARGE_GUN}:one-more`, { digest: `sha256:${digest(LARGE_GUN, 'one-more')}`, size: 1000 });
  const oneMore = { ms: performance.now() - t0, ...ttProxy.counts() };
  const serverMs = (await tt.posts(offset))[0];
  row('  publish one more tag (library, up-to-date publisher): time', 'ms', oneMore.ms, undefined);
  row('  publish one more tag: bytes uploaded / downloaded', 'bytes', `${oneMore.up.toLocaleString('en-US')} / ${oneMore.down.toLocaleString('en-US')}`, undefined);
  row('  publish one more tag: server-side handling', 'ms', serverMs, undefined);

  ttProxy.reset();
  t0 = performance.now();
  await new Puller({ server: ttProxyUrl, home: warmPuller, ca: caPem, warn: () => {}, timeoutMs: 600_000 }).resolve(`${LARGE_GUN}:one-more`);
  const warmAfter = { ms: performance.now() - t0, bytes: ttProxy.counts().down };
  row('  warm client resolves after that change (library): time', 'ms', warmAfter.ms, undefined);
  row('  warm client resolves after that change: bytes downloaded', 'bytes', warmAfter.bytes, undefined);
  return { bulkMs, coldResolve, oneMore, serverMs, warmAfter, bodyBytes };
}

/**
 * Bulk load: sign a targets v2 with `count` entries using the collection's own targets key and
 * publish it like the client does (one POST); the tagtrust client has no batch sign.
 */
async function bulkLoad({ tt, caPem, gun, init, count, digest }) {
  const { buildTargets, expiresAfter, DEFAULT_LIFETIMES } = await import('@tagtrust/shared');
  const { decryptKeyFile, parseKeyFile, signMetadata } = await import('@tagtrust/keys');
  const keyPath = init.keyFiles.find((f) => f.includes(init.targetsKeyId));
  const key = await decryptKeyFile(parseKeyFile(await readFile(keyPath, 'utf8'), keyPath), 'bench-targets-pass');
  const targets = {};
  for (let i = 0; i < count; i += 1) targets[`${gun}:v${i}`] = { length: 1000 + i, hashes: { sha256: digest(gun, `v${i}`) } };
  const signed = signMetadata(buildTargets(2, expiresAfter(new Date(), DEFAULT_LIFETIMES.targets), targets), [key]);
  const body = JSON.stringify({ targets: signed });
  const t0 = performance.now();
  const post = await new Promise((resolve, reject) => {
    const req = https.request(`${tt.url}/v2/${gun}/_trust/tuf/`, { method: 'POST', ca: caPem, headers: { authorization: `Bearer ${tt.token}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
  if (post.status !== 200) throw new Error(`bulk publish failed: ${post.status} ${post.text}`);
  return { ms: performance.now() - t0, bodyBytes: body.length };
}

/**
 * A HUGE-tag collection in hashed bins: bulk-loaded flat (server restarted with a body limit that
 * takes it), moved to bins with the library (the documented migration), then the server restarted
 * with default settings; then, RUNS times, one tag published into a bin other than the one a warm
 * client reads, and that warm client resolving its tag again.
 */
async function hugeCollection({ tt, work, caPem, Publisher, Puller, digest, ttProxy, ttProxyUrl }) {
  const { targetNameHash } = await import('@tagtrust/shared');
  const n = HUGE.toLocaleString('en-US');
  log(`huge collection: ${n} tags, moved to hashed bins (tagtrust only)`);
  await tt.stop();
  await tt.start({ tlsOn: true, accessLog: true, bodyLimit: 256 * 2 ** 20 });
  const home = join(work, 'huge-home');
  const passphrases = async ({ role }) => (role === 'root' ? 'bench-root-pass' : 'bench-targets-pass');
  const publisherAt = (server) => new Publisher({ server, home, token: tt.token, ca: caPem, passphrases, warn: () => {}, timeoutMs: 600_000 });
  const init = await publisherAt(tt.url).init(HUGE_GUN);
  const bulk = await bulkLoad({ tt, caPem, gun: HUGE_GUN, init, count: HUGE, digest });
  let t0 = performance.now();
  ttProxy.reset();
  const binned = await publisherAt(ttProxyUrl).enableBins(HUGE_GUN);
  const move = { ms: performance.now() - t0, ...ttProxy.counts() };
  const loadHwm = memoryKb(tt.pid).hwm;
  row(`Huge collection: ${n} tags (bench-built flat, ${(bulk.bodyBytes / 1e6).toFixed(1)} MB), moved to ${binned.bins} hashed bins by \`bins enable\` (library): time`, 'ms', move.ms, undefined);
  row('  the move: bytes uploaded', 'bytes', move.up, undefined);

  // Steady state: a server started on the stored collection with default settings.
  await tt.stop();
  await tt.start({ tlsOn: true, accessLog: true });
  const watched = `${HUGE_GUN}:v1`;
  const watchedByte = targetNameHash(watched).slice(0, 2);
  const puller = () => new Puller({ server: ttProxyUrl, home: join(work, 'huge-puller'), ca: caPem, warn: () => {}, timeoutMs: 600_000 });
  ttProxy.reset();
  t0 = performance.now();
  await puller().resolve(watched);
  const cold = { ms: performance.now() - t0, bytes: ttProxy.counts().down };
  row(`  cold client resolves a tag (library): time`, 'ms', cold.ms, undefined);
  row('  cold client resolves a tag: bytes downloaded (gzip, TLS)', 'bytes', cold.bytes, undefined);

  const publisher = publisherAt(ttProxyUrl);
  await publisher.sign(`${HUGE_GUN}:warm-up`, { digest: `sha256:${digest(HUGE_GUN, 'warm-up')}`, size: 1000 }); // unlocks the bin key
  const publishes = [], ups = [], downs = [], warmMs = [], warmBytes = [], cpu = [];
  const offset = await tt.logOffset();
  let tag = 0;
  for (let i = 0; i < RUNS; i += 1) {
    // A tag in another bin than the watched one: the first byte of its name's sha256 differs.
    let name;
    do name = `${HUGE_GUN}:unrelated-${tag++}`; while (targetNameHash(name).startsWith(watchedByte));
    ttProxy.reset();
    const c0 = cpuMs(tt.pid);
    t0 = performance.now();
    await publisher.sign(name, { digest: `sha256:${sha(name)}`, size: 1000 });
    publishes.push(performance.now() - t0);
    cpu.push(cpuMs(tt.pid) - c0);
    ups.push(ttProxy.counts().up);
    downs.push(ttProxy.counts().down);
    ttProxy.reset();
    t0 = performance.now();
    await puller().resolve(watched);
    warmMs.push(performance.now() - t0);
    warmBytes.push(ttProxy.counts().down);
  }
  const serverMs = median(await tt.posts(offset));
  const rss = memoryKb(tt.pid);
  const upShare = (100 * median(ups)) / bulk.bodyBytes;
  row('  publish one more tag (library, up-to-date publisher), median: time', 'ms', median(publishes), undefined);
  row(`  publish one more tag: bytes uploaded (${upShare.toFixed(2)}% of the ${(bulk.bodyBytes / 1e6).toFixed(1)} MB of the whole tag set) / downloaded, median`, 'bytes', `${median(ups).toLocaleString('en-US')} / ${median(downs).toLocaleString('en-US')}`, undefined);
  row('  publish one more tag: server-side handling (POST), median', 'ms', serverMs, undefined);
  row('  publish one more tag: server CPU for the whole publish, mean', 'ms', mean(cpu), undefined);
  row('  warm client resolves after an unrelated tag changed (library): time, median', 'ms', median(warmMs), undefined);
  row('  warm client resolves after an unrelated tag changed: bytes downloaded (gzip, TLS), median', 'bytes', median(warmBytes), undefined);
  row(`  server RSS with the ${n}-tag collection (restarted on the stored data, after the publishes and resolves above)`, 'MB', rss.rss / 1024, undefined);
  row('  server peak RSS during the bulk load and the move to bins (VmHWM, body limit raised for the flat upload)', 'MB', loadHwm / 1024, undefined);
  return { bulk, bins: binned.bins, move, cold, publishes, ups, downs, serverMs, cpu, warmMs, warmBytes, rss, loadHwm };
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
  if (results.rows.length > 0) process.stdout.write(`\nPartial results:\n\n${table()}\n`);
  process.exit(1);
});
