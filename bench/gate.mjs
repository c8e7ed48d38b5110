#!/usr/bin/env node
// The registry gate vs the registry behind it: manifest GET by tag, 50 connections, same run.
//
//   npm run bench                    runs this as part of the full benchmark (bench/run.mjs)
//   npm run build && taskset -c 1 node bench/gate.mjs    only this part; prints the table
//
// Needs: docker-registry (Debian package, installed with apt-get when missing, which needs root),
// taskset, `npm run build` output. docker-registry (GOMAXPROCS=1) and `tagtrust gate` run pinned to CPU 0;
// autocannon and the tagtrust-server (asked once per 5 s refresh) on CPU 1.
// Env: BENCH_QUICK, BENCH_DURATION (s per round), BENCH_ROUNDS (alternating rounds; the best is kept).
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, cpuMs, log, must, run, sleep, startProcess, stopProcess } from './lib.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const DURATION = Number(process.env.BENCH_DURATION ?? (QUICK ? 3 : 10));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 2));
const CONNS = 50;
const PORTS = { registry: 15000, gate: 15001 };
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function probe(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on('error', () => resolve(false));
  });
}

/** autocannon against a manifest URL (with an Accept header, as pullers send). */
async function load(url, serverPids) {
  const cpu0 = serverPids.map(cpuMs);
  const t0 = performance.now();
  const result = await must(process.execPath, [`${ROOT}node_modules/autocannon/autocannon.js`, '-c', String(CONNS), '-d', String(DURATION), '-H', `accept=${OCI_MANIFEST}`, '--json', url]);
  const wallMs = performance.now() - t0;
  const cpu = serverPids.map((pid, i) => cpuMs(pid) - cpu0[i]).reduce((a, b) => a + b, 0);
  const json = JSON.parse(result.stdout);
  return { rps: json.requests.average, p50: json.latency.p50, p99: json.latency.p99, requests: json.requests.total, non2xx: json.non2xx, errors: json.errors, serverCpuPct: Math.round((100 * cpu) / wallMs) };
}

/** Median wall time (ms) of `count` GETs one after another on one kept-alive connection. */
export async function sequentialMs(url, count = 200) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const t0 = performance.now();
      const status = await new Promise((resolve, reject) => {
        const req = http.get(url, { agent, headers: { accept: OCI_MANIFEST } }, (res) => { res.resume(); res.once('end', () => resolve(res.statusCode)); });
        req.once('error', reject);
      });
      if (status !== 200) throw new Error(`GET ${url}: HTTP ${status}`);
      times.push(performance.now() - t0);
    }
  } finally {
    agent.destroy();
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
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
  const { startServer } = await import('@tagtrust/server');
  const tuf = await startServer({ listen: '127.0.0.1:0', dataDir: join(dir, 'tagtrust-data'), adminToken: 'bench-admin-token', log: () => {} });
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
    const publisher = new Publisher({ server: tuf.url, home: join(dir, 'publisher'), token: 'bench-admin-token', warn: () => {}, passphrases: async () => 'bench-pass' });
    await publisher.init(gun);
    await publisher.sign(`${gun}:v1`, { digest: sha(manifest), size: manifest.length, mediaType: OCI_MANIFEST });

    const gateUrl = `http://127.0.0.1:${PORTS.gate}`;
    const gate = await startProcess('taskset', ['-c', '0', process.execPath, join(ROOT, 'client/bin/tagtrust.js'), 'gate', '--upstream', registryUrl, '--listen', `127.0.0.1:${PORTS.gate}`, '--server', tuf.url, '--home', join(dir, 'gate-home')], {
      env: process.env, logFile: join(dir, 'gate.log'), what: 'tagtrust gate', ready: () => probe(`${gateUrl}/v2/bench/app/manifests/v1`),
    });
    children.push(gate);

    const best = { upstream: undefined, gate: undefined };
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [key, url, pids] of [['upstream', `${registryUrl}/v2/bench/app/manifests/v1`, [registry.pid]], ['gate', `${gateUrl}/v2/bench/app/manifests/v1`, [gate.pid, registry.pid]]]) {
        await sleep(500);
        const result = await load(url, pids);
        log(`${key} round ${round + 1}: ${Math.round(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}`);
        if (!best[key] || result.rps > best[key].rps) best[key] = result;
      }
    }
    const { upstream, gate: through } = best;
    // One verified pull's manifest step, alone: through the gate by tag; direct by digest (the step after
    // a `notary lookup`, which bench/run.mjs times and adds).
    const single = { gateByTag: await sequentialMs(`${gateUrl}/v2/bench/app/manifests/v1`), registryByDigest: await sequentialMs(`${registryUrl}/v2/bench/app/manifests/${sha(manifest)}`) };
    const rows = [
      { name: 'manifest GET by tag: requests/s', unit: 'req/s', upstream: upstream.rps, gate: through.rps },
      { name: 'manifest GET by tag: latency p50', unit: 'ms', upstream: upstream.p50, gate: through.p50 },
      { name: 'manifest GET by tag: latency p99', unit: 'ms', upstream: upstream.p99, gate: through.p99 },
      { name: 'server-side CPU (gate row: gate + registry processes)', unit: '% of a core', upstream: upstream.serverCpuPct, gate: through.serverCpuPct },
      { name: 'non-2xx answers + socket errors', unit: 'count', upstream: upstream.non2xx + upstream.errors, gate: through.non2xx + through.errors },
    ];
    const notes = [
      `gate throughput ${Math.round((100 * through.rps) / upstream.rps)}% of the registry's (goal >= 80%); p50 ${through.p50 - upstream.p50 >= 0 ? '+' : ''}${(through.p50 - upstream.p50).toFixed(1)} ms (goal < +1 ms).`,
      'The gate answers a fresh verified tag from memory (TUF refresh at most every 5 s per collection, manifest cached by digest), so in steady state it does not ask the registry at all.',
    ];
    rows.push({ name: 'one manifest GET alone (gate: by tag, verified; direct: by digest), median', unit: 'ms', upstream: single.registryByDigest, gate: single.gateByTag });
    return { rows, notes, raw: { ...best, single } };
  } finally {
    for (const child of children.reverse()) await stopProcess(child);
    await tuf.close();
  }
}

export function gateTable({ rows }) {
  const fmt = (v) => (typeof v !== 'number' || Number.isNaN(v) ? 'n/a' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
  return ['| measure | unit | docker-registry direct | through tagtrust gate |', '| --- | --- | ---: | ---: |', ...rows.map((r) => `| ${r.name} | ${r.unit} | ${fmt(r.upstream)} | ${fmt(r.gate)} |`)].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  gateBenchmark().then(
    (result) => process.stdout.write(`\n${gateTable(result)}\n\n${result.notes.map((n) => `- ${n}`).join('\n')}\n`),
    (err) => {
      process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
