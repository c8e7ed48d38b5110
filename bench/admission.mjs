#!/usr/bin/env node
// Admission latency of `tagtrust admission` for a Deployment with 5 containers (5 collections) on
// 127.0.0.1: the webhook and tagtrust-server pinned to CPU 0 (one core), this process (the load
// generator, an open loop at a fixed rate over HTTPS keep-alive) on CPU 1.
//
//   npm run bench:admission            this benchmark alone (about 1 minute)
//   npm run bench                      runs it after bench/run.mjs
//   BENCH_QUICK=1                      shorter run; writes only to the work dir
//
// Warm: every collection verified before (answers from memory, refreshed every 5 s in the
// background of the requests, as in production). Cold: a webhook with an empty home sees the 5
// collections for the first time (trust on first use, full TUF update of each).
// Writes the "Admission webhook" section of docs/benchmarks.md (BENCH_OUT overrides the path).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT, cpuMs, log, median, startProcess, stopProcess } from './lib.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const RATE = Number(process.env.BENCH_ADMISSION_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_DURATION ?? (QUICK ? 5 : 20));
const COLD_RUNS = QUICK ? 3 : 7;
const PORTS = { server: 14643, webhook: 14644 };
const IMAGES = ['web:1.0', 'proxy:2.1', 'metrics:0.9', 'logs:3.0', 'cache:7.2'].map((image) => `registry.example.com/bench/${image}`);
const MARK = { begin: '<!-- admission-bench:begin -->', end: '<!-- admission-bench:end -->' };

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

function post(agent, body, ca) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = https.request(`https://127.0.0.1:${PORTS.webhook}/mutate`, { method: 'POST', agent, ca, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function probe(url, ca) {
  return new Promise((resolve) => {
    https.get(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false));
  });
}

/** Sends `rate` requests per second for `seconds` (open loop: a slow answer does not slow the sending). */
async function paced(agent, body, ca, rate, seconds) {
  const latencies = [];
  let denied = 0;
  const pending = [];
  const start = performance.now();
  const total = rate * seconds;
  for (let i = 0; i < total; i += 1) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      post(agent, body, ca).then((answer) => {
        latencies.push(answer.ms);
        if (!answer.json.response?.allowed) denied += 1;
      }),
    );
  }
  await Promise.all(pending);
  return { latencies: latencies.sort((a, b) => a - b), denied, wallMs: performance.now() - start };
}

async function main() {
  const { issueSelfSignedCertificate } = await import('@tagtrust/server');
  const { Publisher } = await import('@tagtrust/client');
  const work = await mkdtemp(join(os.tmpdir(), 'tagtrust-bench-admission-'));
  log(`work dir ${work}`);
  const tls = await issueSelfSignedCertificate({ hosts: ['127.0.0.1'] });
  await writeFile(join(work, 'cert.pem'), tls.cert);
  await writeFile(join(work, 'key.pem'), tls.key);
  const token = `tt_${randomBytes(24).toString('base64url')}`;
  const children = [];
  try {
    const server = await startProcess('taskset', ['-c', '0', process.execPath, join(ROOT, 'server/dist/bin.js'), '--listen', `127.0.0.1:${PORTS.server}`, '--data', join(work, 'data')], {
      env: { MALLOC_ARENA_MAX: '2', ...process.env, TAGTRUST_ADMIN_TOKEN: token },
      logFile: join(work, 'server.log'),
      what: 'tagtrust-server',
      ready: async () => (await fetch(`http://127.0.0.1:${PORTS.server}/healthz`)).ok,
    });
    children.push(server);
    const serverUrl = `http://127.0.0.1:${PORTS.server}`;
    const publisher = new Publisher({ server: serverUrl, home: join(work, 'publisher'), token, warn: () => {}, passphrases: async ({ role }) => `bench-${role}-pass` });
    let rootKeyId;
    for (const [index, reference] of IMAGES.entries()) {
      const gun = reference.slice(0, reference.lastIndexOf(':'));
      const init = await publisher.init(gun, rootKeyId === undefined ? {} : { rootKeyId });
      rootKeyId ??= init.rootKeyId;
      await publisher.sign(reference, { digest: `sha256:${String(index).repeat(64)}`, size: 1000 });
    }
    await writeFile(join(work, 'policy.yaml'), `server: ${serverUrl}\nrules:\n  - images: ["registry.example.com/**"]\n    trust:\n      pins:\n        - pattern: registry.example.com/bench/*\n          rootKeyId: ${rootKeyId}\n`);
    const review = JSON.parse(await readFile(join(ROOT, 'test/fixtures/admission/deployment-create.json'), 'utf8'));
    review.request.object.spec.template.spec.containers.forEach((container, index) => (container.image = IMAGES[index]));
    const body = Buffer.from(JSON.stringify(review));

    const startWebhook = async (home) => {
      const child = await startProcess(
        'taskset',
        ['-c', '0', process.execPath, join(ROOT, 'client/bin/tagtrust.js'), 'admission', '--policy', join(work, 'policy.yaml'), '--tls-cert', join(work, 'cert.pem'), '--tls-key', join(work, 'key.pem'), '--listen', `127.0.0.1:${PORTS.webhook}`, '--home', home],
        { env: { MALLOC_ARENA_MAX: '2', ...process.env }, logFile: join(work, 'webhook.log'), what: 'tagtrust admission', ready: () => probe(`https://127.0.0.1:${PORTS.webhook}/healthz`, tls.cert) },
      );
      children.push(child);
      return child;
    };

    // Cold: a new webhook process with an empty home, first request.
    const cold = [];
    for (let i = 0; i < COLD_RUNS; i += 1) {
      const child = await startWebhook(join(work, `cold-${i}`));
      const agent = new https.Agent({ keepAlive: true, ca: tls.cert });
      const answer = await post(agent, body, tls.cert);
      if (!answer.json.response.allowed) throw new Error(`cold request denied: ${JSON.stringify(answer.json.response.status)}`);
      cold.push(answer.ms);
      agent.destroy();
      await stopProcess(child);
    }
    log(`cold: ${cold.map((ms) => ms.toFixed(1)).join(', ')} ms`);

    // Warm: one webhook, every collection verified once, then a fixed rate.
    const child = await startWebhook(join(work, 'warm'));
    const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: tls.cert });
    await paced(agent, body, tls.cert, RATE, 2);
    const logOffset = (await readFile(join(work, 'webhook.log'))).length;
    const cpu0 = cpuMs(child.pid);
    const warm = await paced(agent, body, tls.cert, RATE, SECONDS);
    const cpu = cpuMs(child.pid) - cpu0;
    agent.destroy();
    await stopProcess(child);
    // The webhook's own handling time per review (from its decision log): without the queueing in
    // the kernel, TLS and the load generator.
    const handling = (await readFile(join(work, 'webhook.log'))).subarray(logOffset).toString('utf8').split('\n')
      .filter((line) => line.includes('"kind":"Deployment"')).map((line) => JSON.parse(line).ms).sort((a, b) => a - b);
    const n = warm.latencies.length;
    const results = {
      requests: n,
      denied: warm.denied,
      achievedRate: (n * 1000) / warm.wallMs,
      p50: percentile(warm.latencies, 50),
      p90: percentile(warm.latencies, 90),
      p99: percentile(warm.latencies, 99),
      max: warm.latencies[n - 1],
      handlingP50: percentile(handling, 50),
      handlingP99: percentile(handling, 99),
      loadAverage: os.loadavg()[0],
      cpuPct: (100 * cpu) / warm.wallMs,
      cpuMsPerRequest: cpu / n,
      coldMedian: median(cold),
      coldMin: Math.min(...cold),
      coldMax: Math.max(...cold),
    };
    log(JSON.stringify(results));
    if (warm.denied > 0) throw new Error(`${warm.denied} warm requests were denied`);
    const section = markdown(results);
    await writeFile(join(work, 'admission.md'), section);
    process.stdout.write(`\n${section}\n`);
    const out = process.env.BENCH_OUT ?? (QUICK ? undefined : join(ROOT, 'docs', 'benchmarks.md'));
    if (out) {
      const current = await readFile(out, 'utf8').catch(() => '');
      const begin = current.indexOf(MARK.begin);
      const end = current.indexOf(MARK.end);
      const block = `${MARK.begin}\n${section}${MARK.end}`;
      const next = begin >= 0 && end > begin ? `${current.slice(0, begin)}${block}${current.slice(end + MARK.end.length)}` : `${current.trimEnd()}\n\n${block}\n`;
      await writeFile(out, next);
      log(`wrote the admission section of ${out}`);
    }
  } finally {
    for (const child of children.reverse()) await stopProcess(child).catch(() => {});
  }
}

function markdown(r) {
  const f = (v) => v.toFixed(v >= 100 ? 0 : 2);
  return `## Admission webhook

\`npm run bench:admission\` (bench/admission.mjs), ${new Date().toISOString().slice(0, 10)}: \`tagtrust admission\` and tagtrust-server
pinned to one core (CPU 0), the load generator on the other; HTTPS with keep-alive on 127.0.0.1. The review is
test/fixtures/admission/deployment-create.json with 5 containers from 5 collections (policy: one rule, root key
pinned by prefix, refresh interval 5 s). Each answer pins all 5 images (JSONPatch of 6 operations).

| Measurement | Unit | Value | Goal |
| --- | --- | ---: | ---: |
| Warm, ${RATE} reviews/s for ${SECONDS} s (${r.requests} reviews, achieved ${f(r.achievedRate)}/s): p50 | ms | ${f(r.p50)} | |
| Warm: p90 | ms | ${f(r.p90)} | |
| Warm: p99 | ms | ${f(r.p99)} | < 5 |
| Warm: slowest | ms | ${f(r.max)} | |
| Warm: handling inside the webhook (decision log), p50 / p99 | ms | ${f(r.handlingP50)} / ${f(r.handlingP99)} | |
| Warm: webhook CPU (share of one core) / per review | % / ms | ${f(r.cpuPct)} / ${f(r.cpuMsPerRequest)} | |
| Load average of the machine (2 cores) at the end of the warm run | | ${f(r.loadAverage)} | |
| Cold (new process, empty home: first sight of the 5 collections), median of ${COLD_RUNS} (min-max ${f(r.coldMin)}-${f(r.coldMax)}) | ms | ${f(r.coldMedian)} | |

`;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
  process.exit(1);
});
