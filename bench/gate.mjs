#!/usr/bin/env node
// The registry gate vs the registry behind it: manifest GET by tag, 50 connections; and a verified pull
// the Notary way (`notary lookup` against Debian's notary-server, then GET by digest) vs through the gate.
// Same run, same machine.
//
//   npm run bench                    runs this as part of the full benchmark (bench/run.mjs)
//   npm run build && taskset -c 1 node bench/gate.mjs    only this part; prints the table and writes the
//                                    "Registry gate" section of docs/benchmarks.md (BENCH_OUT=FILE elsewhere;
//                                    BENCH_QUICK=1 writes nothing)
//
// Needs: docker-registry and notary + notary-server (Debian packages, installed with apt-get when missing,
// which needs root), taskset, `npm run build` output. docker-registry (GOMAXPROCS=1), notary-server and
// `tagtrust gate` run pinned to CPU 0; autocannon, the notary CLI and the tagtrust-server (asked once per
// 5 s refresh) on CPU 1.
// Env: BENCH_QUICK, BENCH_DURATION (s per round), BENCH_ROUNDS (alternating rounds; the best is kept),
// NOTARY_PEER_DIR (default ../shared/peers/notary beside the repo or /work/shared/peers/notary).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, cpuMs, log, median, must, run, sleep, startProcess, stopProcess } from './lib.mjs';
import { writeSection } from './sections.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const DURATION = Number(process.env.BENCH_DURATION ?? (QUICK ? 3 : 10));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 2));
const CONNS = 50;
const LOOKUPS = QUICK ? 5 : 15;
const ATTEMPTS = 3;
const PORTS = { registry: 15000, gate: 15001, notary: 15002 };
const PEER_DIR = process.env.NOTARY_PEER_DIR ?? [join(ROOT, '..', 'shared', 'peers', 'notary'), '/work/shared/peers/notary'].find((d) => existsSync(join(d, 'run-notary.sh')));
/** What a load generator or a client sees when the machine is overloaded and a server drops connections. */
const TRANSIENT = /EPIPE|ECONNRESET|ECONNREFUSED|ETIMEDOUT|socket hang up/;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function probe(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on('error', () => resolve(false));
  });
}

/**
 * autocannon against a manifest URL (with an Accept header, as pullers send). A run that fails (autocannon
 * exits non-zero, e.g. EPIPE/ECONNRESET when an overloaded server drops connections, or gets no answer at
 * all) is run again after a pause, at most ATTEMPTS times; then the error says what failed each time.
 */
async function load(url, serverPids, what) {
  const failures = [];
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    for (const pid of serverPids) if (!existsSync(`/proc/${pid}`)) throw new Error(`${what}: the server process ${pid} is gone (see its log in the work dir)`);
    const cpu0 = serverPids.map(cpuMs);
    const t0 = performance.now();
    const result = await run(process.execPath, [`${ROOT}node_modules/autocannon/autocannon.js`, '-c', String(CONNS), '-d', String(DURATION), '-H', `accept=${OCI_MANIFEST}`, '--json', url]);
    const wallMs = performance.now() - t0;
    const cpu = serverPids.map((pid, i) => (existsSync(`/proc/${pid}`) ? cpuMs(pid) - cpu0[i] : 0)).reduce((a, b) => a + b, 0);
    let json;
    try {
      json = result.code === 0 ? JSON.parse(result.stdout) : undefined;
    } catch {
      json = undefined;
    }
    if (json && json.requests.total > 0 && json['2xx'] > 0) {
      return { rps: json.requests.average, p50: json.latency.p50, p99: json.latency.p99, requests: json.requests.total, non2xx: json.non2xx, errors: json.errors, timeouts: json.timeouts, serverCpuPct: Math.round((100 * cpu) / wallMs), attempts: attempt };
    }
    const reason = json ? `no successful answer (${json.non2xx} non-2xx, ${json.errors} socket errors)` : `autocannon exited ${result.code}: ${(result.stderr.match(TRANSIENT)?.[0] ?? result.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}`;
    failures.push(reason);
    log(`${what}: attempt ${attempt} of ${ATTEMPTS} failed (${reason})${attempt < ATTEMPTS ? '; again in 3 s' : ''}`);
    await sleep(3000);
  }
  throw new Error(`${what}: the load test failed ${ATTEMPTS} times (${failures.join('; ')}); the machine may be too loaded, see the logs in the work dir`);
}

/** One GET on `agent`: its status and wall time (ms). */
function timedGet(url, agent) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent, headers: { accept: OCI_MANIFEST } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
      res.once('error', reject);
    });
    req.once('error', reject);
  });
}

/**
 * Median wall time (ms) per URL of `count` GETs one after another, each URL on its own kept-alive
 * connection, the URLs taking turns (so a busy moment of the machine hits them alike). A GET that fails
 * with a connection error (EPIPE, ECONNRESET: the server closed the kept-alive socket) is sent again on a
 * new connection, at most 5 times in the whole series.
 */
export async function alternatingMedians(urls, count = 200) {
  const keys = Object.keys(urls);
  const agents = Object.fromEntries(keys.map((key) => [key, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
  const times = Object.fromEntries(keys.map((key) => [key, []]));
  let retries = 0;
  try {
    for (let i = 0; i < count; i += 1) {
      for (const key of keys) {
        let answer;
        while (!answer) {
          answer = await timedGet(urls[key], agents[key]).catch((err) => {
            if (!TRANSIENT.test(`${err.code} ${err.message}`) || retries >= 5) throw new Error(`GET ${urls[key]} failed (${err.code ?? err.message}) after ${retries} retries`);
            retries += 1;
            return undefined;
          });
        }
        if (answer.status !== 200) throw new Error(`GET ${urls[key]}: HTTP ${answer.status}`);
        times[key].push(answer.ms);
      }
    }
  } finally {
    for (const agent of Object.values(agents)) agent.destroy();
  }
  return Object.fromEntries(keys.map((key) => [key, median(times[key])]));
}

/**
 * A verified pull the Notary way: `notary lookup` of the tag (the notary CLI with its trust dir already
 * holding the collection's metadata, as a puller that verified before) against Debian's notary-server,
 * then the manifest GET by the digest it printed. Median over LOOKUPS pulls of each step and of the sum.
 * Each such pull is followed by the same pull through the gate (GET by tag), so both meet the same
 * moment of a busy machine.
 */
async function notaryWay({ dir, gun, tag, manifest, registryUrl, name, gateUrl }) {
  if (!PEER_DIR) throw new Error('cannot find run-notary.sh: set NOTARY_PEER_DIR to the folder with the Notary peer scripts');
  const rig = join(dir, 'notary-rig');
  const peerEnv = { ...process.env, RIG: rig, NOTARY_PORT: String(PORTS.notary), NOTARY_TLS: '1', NOTARY_CPUS: '0' };
  const script = join(PEER_DIR, 'run-notary.sh');
  await must('bash', [script, 'start'], { env: peerEnv });
  try {
    const cliEnv = { ...process.env, NOTARY_ROOT_PASSPHRASE: 'bench-root-pass', NOTARY_TARGETS_PASSPHRASE: 'bench-targets-pass', NOTARY_SNAPSHOT_PASSPHRASE: 'bench-snapshot-pass' };
    const N = (args) => must('notary', ['-d', join(dir, 'notary-trust'), '-s', `https://127.0.0.1:${PORTS.notary}`, '--tlscacert', join(rig, 'certs/server.crt'), ...args], { env: cliEnv });
    const hex = sha(manifest).slice(7);
    await N(['init', '-p', gun]);
    await N(['addhash', '-p', gun, tag, String(manifest.length), '--sha256', hex]);
    await N(['lookup', gun, tag]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const gateAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const lookups = [], gets = [], pulls = [], gatePulls = [];
    try {
      for (let i = 0; i < LOOKUPS; i += 1) {
        const lookup = await N(['lookup', gun, tag]);
        const digest = lookup.stdout.match(/\b([0-9a-f]{64})\b/)?.[1];
        if (digest !== hex) throw new Error(`notary lookup ${gun} ${tag} printed ${JSON.stringify(lookup.stdout.trim())}, not the digest added`);
        const get = await timedGet(`${registryUrl}/v2/${name}/manifests/sha256:${digest}`, agent);
        if (get.status !== 200) throw new Error(`GET the manifest by digest: HTTP ${get.status}`);
        const throughGate = await timedGet(`${gateUrl}/v2/${name}/manifests/${tag}`, gateAgent);
        if (throughGate.status !== 200) throw new Error(`GET the manifest by tag through the gate: HTTP ${throughGate.status}`);
        lookups.push(lookup.ms);
        gets.push(get.ms);
        pulls.push(lookup.ms + get.ms);
        gatePulls.push(throughGate.ms);
      }
    } finally {
      agent.destroy();
      gateAgent.destroy();
    }
    return { lookupMs: median(lookups), getByDigestMs: median(gets), pullMs: median(pulls), gatePullMs: median(gatePulls), runs: LOOKUPS };
  } finally {
    await run('bash', [script, 'stop'], { env: peerEnv });
  }
}

/** Runs the comparison; returns { rows, notes, raw } for the report. */
export async function gateBenchmark(work) {
  if ((await run('sh', ['-c', 'command -v docker-registry'])).code !== 0) {
    log('installing docker-registry with apt-get');
    await must('apt-get', ['install', '-y', 'docker-registry'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const dir = await mkdtemp(join(work ?? os.tmpdir(), 'gate-'));
  const config = join(dir, 'registry.yml');
  await writeFile(config, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'registry')}\nhttp:\n  addr: 127.0.0.1:${PORTS.registry}\n`);
  const registryUrl = `http://127.0.0.1:${PORTS.registry}`;
  const children = [];
  if ((await run('sh', ['-c', 'command -v notary && command -v notary-server'])).code !== 0) {
    log('installing notary with apt-get');
    await must('apt-get', ['install', '-y', 'notary'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const loadAtStart = os.loadavg();
  const { startServer } = await import('@tagtrust/server');
  const adminToken = `tt_${randomBytes(24).toString('base64url')}`;
  const tuf = await startServer({ listen: '127.0.0.1:0', dataDir: join(dir, 'tagtrust-data'), adminToken, log: () => {} });
  try {
    const registry = await startProcess('taskset', ['-c', '0', 'docker-registry', 'serve', config], {
      env: { ...process.env, GOMAXPROCS: '1' }, logFile: join(dir, 'registry.log'), what: 'docker-registry', ready: () => probe(`${registryUrl}/v2/`),
    });
    children.push(registry);

    // A small image (config + one layer + manifest), pushed and signed.
    const { Publisher, RegistryClient } = await import('@tagtrust/client');
    const client = new RegistryClient({ url: registryUrl });
    const signal = AbortSignal.timeout(60_000);
    const imageConfig = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const layer = Buffer.alloc(4096, 7);
    for (const blob of [imageConfig, layer]) await client.pushBlob('bench/app', sha(blob), blob, { signal });
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(imageConfig), size: imageConfig.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    }));
    await client.pushManifest('bench/app', 'v1', manifest, OCI_MANIFEST, { signal });
    const gun = `127.0.0.1:${PORTS.registry}/bench/app`;
    const publisher = new Publisher({ server: tuf.url, home: join(dir, 'publisher'), token: adminToken, warn: () => {}, passphrases: async () => 'bench-pass' });
    await publisher.init(gun);
    await publisher.sign(`${gun}:v1`, { digest: sha(manifest), size: manifest.length, mediaType: OCI_MANIFEST });

    const gateUrl = `http://127.0.0.1:${PORTS.gate}`;
    const gate = await startProcess('taskset', ['-c', '0', process.execPath, join(ROOT, 'client/bin/tagtrust.js'), 'gate', '--upstream', registryUrl, '--listen', `127.0.0.1:${PORTS.gate}`, '--server', tuf.url, '--home', join(dir, 'gate-home')], {
      env: process.env, logFile: join(dir, 'gate.log'), what: 'tagtrust gate', ready: () => probe(`${gateUrl}/v2/bench/app/manifests/v1`),
    });
    children.push(gate);

    // One manifest GET alone, before any load: by tag through the gate and direct; by digest direct (the
    // step after a `notary lookup`).
    const single = await alternatingMedians({
      gateByTag: `${gateUrl}/v2/bench/app/manifests/v1`,
      registryByTag: `${registryUrl}/v2/bench/app/manifests/v1`,
      registryByDigest: `${registryUrl}/v2/bench/app/manifests/${sha(manifest)}`,
    });
    const best = { upstream: undefined, gate: undefined };
    const rounds = { upstream: [], gate: [] };
    let loadError;
    try {
      for (let round = 0; round < ROUNDS; round += 1) {
        for (const [key, url, pids] of [['upstream', `${registryUrl}/v2/bench/app/manifests/v1`, [registry.pid]], ['gate', `${gateUrl}/v2/bench/app/manifests/v1`, [gate.pid, registry.pid]]]) {
          await sleep(500);
          const result = await load(url, pids, `${key} round ${round + 1}`);
          log(`${key} round ${round + 1}: ${Math.round(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`);
          rounds[key].push(result);
          if (!best[key] || result.rps > best[key].rps) best[key] = result;
        }
      }
    } catch (err) {
      loadError = err;
      log(`gate load test failed: ${err.message}`);
    }
    log(`one GET alone, median: gate by tag ${single.gateByTag.toFixed(2)} ms, registry by tag ${single.registryByTag.toFixed(2)} ms, by digest ${single.registryByDigest.toFixed(2)} ms`);
    log('a verified pull the Notary way: notary lookup (warm CLI) + GET by digest');
    const notary = await notaryWay({ dir, gun, tag: 'v1', manifest, registryUrl, name: 'bench/app', gateUrl }).catch((err) => {
      log(`the Notary-way measurement failed: ${err.message}`);
      return { error: err.message.split('\n')[0] };
    });
    return { ...report({ best: loadError ? undefined : best, rounds, loadError, single, notary, loadAtStart, loadAtEnd: os.loadavg() }), dir };
  } finally {
    for (const child of children.reverse()) await stopProcess(child);
    await tuf.close();
  }
}

/** Rows, notes (each goal met or missed) and the raw figures. */
function report({ best, rounds, loadError, single, notary, loadAtStart, loadAtEnd }) {
  const rows = [];
  const notes = [];
  if (best) {
    const { upstream, gate: through } = best;
    rows.push(
      { name: 'manifest GET by tag: requests/s', unit: 'req/s', upstream: upstream.rps, gate: through.rps },
      { name: 'manifest GET by tag: latency p50', unit: 'ms', upstream: upstream.p50, gate: through.p50 },
      { name: 'manifest GET by tag: latency p99', unit: 'ms', upstream: upstream.p99, gate: through.p99 },
      { name: 'server-side CPU (gate row: gate + registry processes)', unit: '% of a core', upstream: upstream.serverCpuPct, gate: through.serverCpuPct },
      { name: 'non-2xx answers + socket errors + timeouts', unit: 'count', upstream: upstream.non2xx + upstream.errors + upstream.timeouts, gate: through.non2xx + through.errors + through.timeouts },
    );
    const share = (100 * through.rps) / upstream.rps;
    const added = through.p50 - upstream.p50;
    notes.push(`Throughput: the gate keeps ${Math.round(share)}% of the registry's (goal >= 80%: ${share >= 80 ? 'met' : 'missed'}).`);
    const each = (key) => rounds[key].map((r) => `${Math.round(r.rps).toLocaleString('en-US')} req/s p50 ${r.p50} ms`).join(', ');
    notes.push(`Every round: registry ${each('upstream')}; gate ${each('gate')}.`);
    notes.push(`Latency p50: the gate ${added >= 0 ? 'adds' : 'takes'} ${Math.abs(added).toFixed(1)} ms ${added >= 0 ? 'to' : 'off'} the registry's (goal: adds < 1 ms: ${added < 1 ? 'met' : 'missed'}).`);
  } else {
    notes.push(`The load test did not complete: ${String(loadError?.message ?? loadError).split('\n')[0]}`);
  }
  rows.push({ name: 'one manifest GET by tag alone (one connection each, taking turns, before the load test), median of 200', unit: 'ms', upstream: single.registryByTag, gate: single.gateByTag });
  notes.push('The gate answers a fresh verified tag from memory (TUF refresh at most every 5 s per collection, manifest cached by digest), so in steady state it asks neither the registry nor the tagtrust server.');
  if (notary.error) {
    notes.push(`The Notary-way measurement failed: ${notary.error}`);
  } else {
    const ratio = notary.pullMs / notary.gatePullMs;
    rows.push({ name: `verified pull, manifest step: Notary way (\`notary lookup\` warm CLI + GET by digest) vs GET by tag through the gate, taking turns, median of ${notary.runs}`, unit: 'ms', upstream: notary.pullMs, gate: notary.gatePullMs });
    notes.push(`Per verified pull, the gate needs ${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}x fewer ms than \`notary lookup\` (median ${notary.lookupMs.toFixed(1)} ms, most of it the CLI process) + GET by digest (median ${notary.getByDigestMs.toFixed(2)} ms) (goal >= 50x: ${ratio >= 50 ? 'met' : 'missed'}).`);
  }
  const load = (l) => l.map((v) => v.toFixed(2)).join(' ');
  notes.push(`Load average of the machine (2 cores, shared with other work): ${load(loadAtStart)} at the start, ${load(loadAtEnd)} at the end.`);
  return { rows, notes, raw: { best, rounds, loadError: loadError?.message, single, notary, loadAtStart, loadAtEnd } };
}

/** The "Registry gate" section of docs/benchmarks.md. */
export function gateSection(result, { command }) {
  return `## Registry gate

Generated by \`${command}\` (bench/gate.mjs) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}
shared with other work (both cores; the load average is in the notes), Node ${process.version}.
\`tagtrust gate\` in front of docker-registry (Debian package, filesystem storage, GOMAXPROCS=1), both pinned to CPU 0;
autocannon ${CONNS} connections, ${DURATION} s, ${ROUNDS} alternating round(s), best kept; manifest GET by tag with an OCI
Accept header. The Notary way: Debian's notary-server (memory storage, TLS) pinned to CPU 0, the \`notary\` CLI with a
trust dir that already holds the collection, then GET by the digest it printed from the same registry.

${gateTable(result)}

${result.notes.map((n) => `- ${n}`).join('\n')}
`;
}

export function gateTable({ rows }) {
  const fmt = (v) => (typeof v !== 'number' || Number.isNaN(v) ? 'n/a' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
  return ['| measure | unit | docker-registry direct (last row: the Notary way) | through tagtrust gate |', '| --- | --- | ---: | ---: |', ...rows.map((r) => `| ${r.name} | ${r.unit} | ${fmt(r.upstream)} | ${fmt(r.gate)} |`)].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const command = `${QUICK ? 'BENCH_QUICK=1 ' : ''}taskset -c 1 node bench/gate.mjs`;
  gateBenchmark()
    .then(async (result) => {
      const section = gateSection(result, { command });
      await writeFile(join(result.dir, 'gate.md'), section);
      await writeFile(join(result.dir, 'gate.json'), JSON.stringify(result.raw, null, 2));
      process.stdout.write(`\n${section}`);
      const out = process.env.BENCH_OUT ?? (QUICK ? undefined : join(ROOT, 'docs', 'benchmarks.md'));
      if (out) {
        await writeSection(out, 'gate-bench', section);
        log(`wrote the gate section of ${out}`);
      }
    })
    .catch((err) => {
      process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
      process.exit(1);
    });
}
