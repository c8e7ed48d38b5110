// The tag log's cost on a whole one-tag publish request, for bench/tag-log.mjs: two real server
// processes on 127.0.0.1 (plain HTTP, fresh level databases, pinned to CPU 0 when taskset exists),
// one with the log and one without it (bench/tag-log-server.mjs), each with a small collection
// published to by the real library Publisher. Publishes alternate between the two servers so both
// see the same load. For each publish POST it measures the server process's CPU time (all threads,
// /proc/<pid>/task/*/schedstat) from the moment the client sends it to the end of the response:
// body read, verification, signing, the log, the commit and the response. Medians after a warm-up.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, median, run, startProcess, stopProcess, threadsCpuMs } from './lib.mjs';

const sha = (text) => createHash('sha256').update(text).digest('hex');


/** @returns medians (ms) of the publish POST's server CPU and client-observed wall time, with and without the log */
export async function measurePublishRequests({ n, warmup }) {
  const work = await mkdtemp(join(tmpdir(), 'tagtrust-bench-log-requests-'));
  const token = `tt_${randomBytes(24).toString('base64url')}`;
  const pinned = (await run('sh', ['-c', 'command -v taskset'])).code === 0;
  const servers = {};
  try {
    for (const mode of ['with', 'without']) {
      const port = 20000 + Math.floor(Math.random() * 20000);
      const command = [process.execPath, join(ROOT, 'bench/tag-log-server.mjs'), String(port), join(work, `data-${mode}`), ...(mode === 'without' ? ['no-log'] : [])];
      const url = `http://127.0.0.1:${port}`;
      const child = await startProcess(pinned ? 'taskset' : command[0], pinned ? ['-c', '0', ...command] : command.slice(1), {
        env: { ...process.env, TAGTRUST_ADMIN_TOKEN: token },
        logFile: join(work, `server-${mode}.log`),
        what: `tagtrust server (${mode} log)`,
        ready: () => fetch(`${url}/healthz`).then((r) => r.status === 200),
      });
      servers[mode] = { url, child, port: String(port), cpu: [], wall: [] };
    }
    // Server CPU of each publish POST (not the lease's), from the client's http.request.
    let measuring = false;
    const original = http.request;
    http.request = function request(...args) {
      const options = args.find((a) => a && typeof a === 'object' && !(a instanceof URL));
      const target = args.find((a) => typeof a === 'string' || a instanceof URL);
      const where = target === undefined ? options : new URL(target);
      const server = Object.values(servers).find((s) => String(where?.port) === s.port);
      const req = original.apply(this, args);
      if (measuring && server && options?.method === 'POST' && !/\/_trust\/lease$/.test(where.pathname ?? where.path ?? '')) {
        const c0 = threadsCpuMs(server.child.pid);
        const t0 = performance.now();
        req.once('response', (res) => res.once('end', () => {
          server.cpu.push(threadsCpuMs(server.child.pid) - c0);
          server.wall.push(performance.now() - t0);
        }));
      }
      return req;
    };
    syncBuiltinESMExports();
    const { Publisher } = await import('@tagtrust/client');
    const gun = 'registry.example.com/bench/log';
    for (const [mode, server] of Object.entries(servers)) {
      server.publisher = new Publisher({ server: server.url, home: join(work, `home-${mode}`), token, passphrases: async () => 'bench-pass-not-a-secret', warn: () => {}, timeoutMs: 600_000 });
      await server.publisher.init(gun);
    }
    for (let i = -warmup; i < n; i += 1) {
      measuring = i >= 0;
      for (const server of i % 2 === 0 ? [servers.with, servers.without] : [servers.without, servers.with]) {
        await server.publisher.sign(`${gun}:t-${i + warmup}`, { digest: `sha256:${sha(`t-${i}`)}`, size: 1000 });
      }
    }
    http.request = original;
    syncBuiltinESMExports();
    // The switch did what it says: only the server with the log has entries.
    for (const [mode, server] of Object.entries(servers)) {
      const { size } = await (await fetch(`${server.url}/v2/${gun}/_trust/log/entries?start=0&end=1`, { headers: { authorization: `Bearer ${token}` } })).json();
      if ((size > 0) !== (mode === 'with')) throw new Error(`the server ${mode} the log has ${size} log entries`);
    }
    const { with: w, without: wo } = servers;
    if (w.cpu.length !== n || wo.cpu.length !== n) throw new Error(`expected ${n} measured POSTs per server, got ${w.cpu.length} and ${wo.cpu.length}`);
    // Publish i on one server and publish i on the other ran back to back: the median of their
    // differences is less sensitive to the machine's load drifting than the difference of medians.
    const pairedCpu = w.cpu.map((cpu, i) => cpu - wo.cpu[i]);
    return {
      postCpuMs: { without: median(wo.cpu), with: median(w.cpu), pairedDifference: median(pairedCpu) },
      postWallMs: { without: median(wo.wall), with: median(w.wall) },
      logEntries: n + warmup,
    };
  } finally {
    for (const server of Object.values(servers)) await stopProcess(server.child);
    await rm(work, { recursive: true, force: true });
  }
}
