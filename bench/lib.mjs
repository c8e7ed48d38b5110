// Helpers for bench/run.mjs: processes, timing, statistics, a byte-counting TCP proxy, autocannon.
import { spawn, execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (...args) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${args.join(' ')}\n`);

/** Runs a command; resolves {code, stdout, stderr, ms}. Never rejects. */
export function run(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...options }, (error, stdout, stderr) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr), ms });
    });
  });
}

/** Like run, but throws with the command's stderr when it fails. */
export async function must(cmd, args, options = {}) {
  const result = await run(cmd, args, options);
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim().slice(0, 2000)}`);
  return result;
}

export function median(values) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** utime+stime of a process, in ms. */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // CLK_TCK is 100 on Linux
}

/** VmRSS and VmHWM of a process, in kB. */
export function memoryKb(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1]);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** A TCP proxy that counts bytes each way (TLS bytes on the wire when the server speaks TLS). */
export async function countingProxy(targetPort) {
  const counts = { down: 0, up: 0, connections: 0 };
  const sockets = new Set();
  const server = net.createServer((client) => {
    counts.connections += 1;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d) => (counts.up += d.length));
    upstream.on('data', (d) => (counts.down += d.length));
    client.pipe(upstream).pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    reset() { counts.down = 0; counts.up = 0; counts.connections = 0; },
    counts() { return { ...counts }; },
    close() { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); },
  };
}

/** Terminates TLS and forwards plain TCP (lets notary's TLS-only CLI write to a plain-HTTP notary-server). */
export async function tlsTerminator(targetPort, cert, key) {
  const sockets = new Set();
  const server = tls.createServer({ cert, key }, (client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, close() { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); } };
}

/** wrk (C, one thread) against `url`: the same figures as autocannon's, from wrk's text output. */
async function wrkTest(url, { connections, seconds, serverPid }) {
  const cpu0 = cpuMs(serverPid);
  const t0 = performance.now();
  const result = await must('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url]);
  const wallMs = performance.now() - t0;
  const cpu = cpuMs(serverPid) - cpu0;
  const text = result.stdout;
  const ms = (value, unit) => Number(value) * { us: 1e-3, ms: 1, s: 1000 }[unit];
  const latency = (p) => { const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(text); return m ? ms(m[1], m[2]) : NaN; };
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const read = /requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB) read/.exec(text);
  const bytes = read ? Number(read[1]) * { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[read[2]] : 0;
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
    p50: latency(50),
    p99: latency(99),
    requests,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    errors: /Socket errors: (.*)/.exec(text)?.[1] ?? 0,
    bytesPerResponse: requests ? Math.round(bytes / requests) : 0,
    serverCpuPct: Math.round((100 * cpu) / wallMs),
    serverCpuUsPerReq: requests ? Math.round((cpu * 1000) / requests) : NaN,
  };
}

/** autocannon (or wrk with BENCH_LOADGEN=wrk) against `url`; adds the server's CPU time per request. */
export async function loadTest(url, { connections, seconds, serverPid, ca }) {
  if (process.env.BENCH_LOADGEN === 'wrk') return wrkTest(url, { connections, seconds, serverPid });
  const cpu0 = cpuMs(serverPid);
  const t0 = performance.now();
  const result = await must(process.execPath, [`${ROOT}node_modules/autocannon/autocannon.js`, '-c', String(connections), '-d', String(seconds), '--json', url], {
    env: { ...process.env, ...(ca ? { NODE_EXTRA_CA_CERTS: ca } : {}) },
  });
  const wallMs = performance.now() - t0;
  const cpu = cpuMs(serverPid) - cpu0;
  const json = JSON.parse(result.stdout);
  const requests = json.requests.total;
  return {
    rps: json.requests.average,
    p50: json.latency.p50,
    p99: json.latency.p99,
    requests,
    non2xx: json.non2xx,
    errors: json.errors,
    bytesPerResponse: requests ? Math.round(json.throughput.total / requests) : 0,
    serverCpuPct: Math.round((100 * cpu) / wallMs),
    serverCpuUsPerReq: requests ? Math.round((cpu * 1000) / requests) : NaN,
  };
}

/** Starts a long-running child; resolves once `ready()` returns true. */
export async function startProcess(cmd, args, { env, logFile, ready, what }) {
  const { openSync } = await import('node:fs');
  const out = openSync(logFile, 'a');
  const child = spawn(cmd, args, { env, stdio: ['ignore', out, out], detached: false });
  for (let i = 0; i < 100; i += 1) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}); log: ${logFile}`);
    if (await ready().catch(() => false)) return child;
    await sleep(100);
  }
  child.kill('SIGTERM');
  throw new Error(`${what} did not come up; log: ${logFile}`);
}

export async function stopProcess(child) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** A self-signed server certificate in `dir`. */
export async function certificate(dir) {
  await mkdir(dir, { recursive: true });
  // Same kind of certificate run-notary.sh makes (EC P-256, SAN 127.0.0.1, its own CA), used by both servers.
  await must('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.crt'),
    '-days', '30', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,digitalSignature,keyCertSign', '-addext', 'extendedKeyUsage=serverAuth']);
  return { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

/** Whether `url` answers 200 (https with `ca` when given). */
export function probe(url, ca) {
  return new Promise((resolve) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, ca ? { ca } : {}, (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on('error', () => resolve(false));
  });
}

/** CPU time of every thread of a process, in ms (schedstat: ns on CPU). */
export function threadsCpuMs(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e6;
}

/** Whether `path` is the publish-lease endpoint (POSTed before a publish; not the publish itself). */
export const isLeasePath = (path) => /\/_trust\/lease$/.test(path ?? '');

/**
 * Server-side times (ms) of the publish POSTs a tagtrust-server logged after byte `offset` of its log
 * file, from its JSON entries (one per request). Whole lines only: the last one may still be written.
 */
export async function publishPostTimes(logFile, offset) {
  const text = (await readFile(logFile)).subarray(offset).toString('utf8');
  const entries = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
  return entries.filter((e) => e.method === 'POST' && e.status === 200 && !isLeasePath(e.path)).map((e) => e.durationMs);
}
