#!/usr/bin/env node
// Publishing many tags at once: tagtrust vs Notary (Debian's notary-server and notary CLI) on
// 127.0.0.1, same run, same machine, both over TLS with the same certificate.
//
//   tagtrust: `tagtrust sign --from-file FILE` (100 tags, 100 digests) in one command; and
//             `tagtrust sign --stage` x100 + `tagtrust publish` (the Notary-style flow)
//   Notary:   `notary addhash` x100 (staged in its changelist) + one `notary publish`
//
//   npm run bench:sign-many      (also run by `npm run bench`, after the other benchmarks)
//
// Env: BENCH_TAGS (tags per publish, default 100), BENCH_RUNS (default 3; the median is reported),
// NOTARY_PEER_DIR (default ../shared/peers/notary beside the repo or /work/shared/peers/notary),
// BENCH_OUT (markdown file whose sign-many section is replaced; default docs/benchmarks.md, "-": none).
// Servers run pinned to CPU 0 (Notary with GOMAXPROCS=1 via run-notary.sh), the CLIs on CPU 1 (the npm
// script pins this process there). Prints a markdown table with the machine load.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT, certificate, log, median, must, probe, run, startProcess, stopProcess } from './lib.mjs';

const TAGS = Number(process.env.BENCH_TAGS ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PEER_DIR = process.env.NOTARY_PEER_DIR ?? [join(ROOT, '..', 'shared', 'peers', 'notary'), '/work/shared/peers/notary'].find((d) => existsSync(join(d, 'run-notary.sh')));
const PORTS = { notary: 14643, tagtrust: 14743 };
const GUN = 'registry.example.com/team/many';
const sha = (text) => createHash('sha256').update(text).digest('hex');
const OUT = process.env.BENCH_OUT ?? join(ROOT, 'docs', 'benchmarks.md');
const MARK = { begin: '<!-- sign-many-bench:begin -->', end: '<!-- sign-many-bench:end -->' };

async function prerequisites() {
  if (!PEER_DIR) throw new Error('cannot find run-notary.sh: set NOTARY_PEER_DIR to the folder with the Notary peer scripts');
  for (const bin of ['notary', 'notary-server', 'openssl', 'taskset']) {
    if ((await run('sh', ['-c', `command -v ${bin}`])).code !== 0) throw new Error(`${bin} is needed (apt-get install notary openssl util-linux)`);
  }
  if (!existsSync(join(ROOT, 'client/dist/tagtrust.cjs'))) throw new Error('build first: npm run build');
}

async function main() {
  await prerequisites();
  const work = await mkdtemp(join(os.tmpdir(), 'tagtrust-bench-many-'));
  log(`work dir ${work}; ${TAGS} tags per publish, ${RUNS} runs`);
  const certs = await certificate(join(work, 'certs'));
  const ca = await readFile(certs.cert);
  const rig = join(work, 'notary');
  const notaryRigEnv = { ...process.env, RIG: rig, NOTARY_PORT: String(PORTS.notary), NOTARY_TLS: '1', NOTARY_CPUS: '0', NOTARY_LOG_LEVEL: 'error' };
  const token = `tt_${randomBytes(24).toString('base64url')}`;
  const cleanup = [];
  try {
    await mkdir(join(rig, 'certs'), { recursive: true });
    await copyFile(certs.cert, join(rig, 'certs/server.crt'));
    await copyFile(certs.key, join(rig, 'certs/server.key'));
    await must('bash', [join(PEER_DIR, 'run-notary.sh'), 'start'], { env: notaryRigEnv });
    cleanup.push(() => run('bash', [join(PEER_DIR, 'run-notary.sh'), 'stop'], { env: notaryRigEnv }));
    const ttUrl = `https://127.0.0.1:${PORTS.tagtrust}`;
    const server = await startProcess('taskset', ['-c', '0', process.execPath, join(ROOT, 'server/dist/bin.js'), '--listen', `127.0.0.1:${PORTS.tagtrust}`, '--data', join(work, 'tagtrust-data'),
      '--tls-cert', certs.cert, '--tls-key', certs.key], {
      env: { MALLOC_ARENA_MAX: '2', ...process.env, TAGTRUST_ADMIN_TOKEN: token },
      logFile: join(work, 'tagtrust-server.log'),
      what: 'tagtrust-server',
      ready: () => probe(`${ttUrl}/healthz`, ca),
    });
    cleanup.push(() => stopProcess(server));

    const notaryEnv = { ...process.env, NOTARY_ROOT_PASSPHRASE: 'bench-root-pass', NOTARY_TARGETS_PASSPHRASE: 'bench-targets-pass', NOTARY_SNAPSHOT_PASSPHRASE: 'bench-snapshot-pass' };
    const N = (args) => must('notary', ['-d', join(work, 'notary-trust'), '-s', `https://127.0.0.1:${PORTS.notary}`, '--tlscacert', certs.cert, ...args], { env: notaryEnv });
    const ttEnv = { ...process.env, TAGTRUST_SERVER: ttUrl, TAGTRUST_HOME: join(work, 'tagtrust-home'), TAGTRUST_TOKEN: token, TAGTRUST_ROOT_PASSPHRASE: 'bench-root-pass', TAGTRUST_TARGETS_PASSPHRASE: 'bench-targets-pass' };
    const T = (args) => must(process.execPath, [join(ROOT, 'client/bin/tagtrust.js'), ...args, '--ca', certs.cert], { env: ttEnv });
    const digest = (tag) => sha(`${GUN}:${tag}`);
    const tags = (prefix) => Array.from({ length: TAGS }, (_, i) => `${prefix}-${i}`);

    await T(['init', GUN]);
    await N(['init', '-p', GUN]);
    // Warm-up: one multi-tag publish each, so neither server runs its publish path cold.
    await T(['sign', `${GUN}:warm-1`, `${GUN}:warm-2`, '--digest', `sha256:${digest('warm')}`, '--size', '1000']);
    await N(['addhash', GUN, 'warm-1', '1000', '--sha256', digest('warm')]);
    await N(['publish', GUN]);

    const timings = { fromFile: [], staged: [], notary: [] };
    for (let r = 0; r < RUNS; r += 1) {
      log(`run ${r + 1}/${RUNS}`);
      const file = join(work, `tags-${r}.txt`);
      await writeFile(file, tags(`f${r}`).map((tag) => `${GUN}:${tag} sha256:${digest(tag)} 1000\n`).join(''));
      let t0 = performance.now();
      await T(['sign', '--from-file', file]);
      timings.fromFile.push(performance.now() - t0);

      t0 = performance.now();
      for (const tag of tags(`s${r}`)) await T(['sign', `${GUN}:${tag}`, '--digest', `sha256:${digest(tag)}`, '--size', '1000', '--stage']);
      await T(['publish', GUN]);
      timings.staged.push(performance.now() - t0);

      t0 = performance.now();
      for (const tag of tags(`n${r}`)) await N(['addhash', GUN, tag, '1000', '--sha256', digest(tag)]);
      await N(['publish', GUN]);
      timings.notary.push(performance.now() - t0);
    }
    const list = (await T(['list', GUN])).stdout.trim().split('\n').length;
    const notaryList = (await N(['list', GUN])).stdout.trim().split('\n').length;
    log(`tagtrust lists ${list} lines, Notary ${notaryList} lines`);

    const s = (ms) => (ms / 1000).toFixed(2);
    const notary = median(timings.notary);
    const rows = [
      [`\`tagtrust sign --from-file\` (${TAGS} tags, one command)`, median(timings.fromFile)],
      [`\`tagtrust sign --stage\` x${TAGS} + \`tagtrust publish\``, median(timings.staged)],
      [`Notary: \`notary addhash\` x${TAGS} + \`notary publish\``, notary],
    ];
    const lines = [
      `| ${TAGS} tags in one publish, TLS, median of ${RUNS} | s | vs Notary |`,
      '| --- | ---: | ---: |',
      ...rows.map(([name, ms]) => `| ${name} | ${s(ms)} | ${(ms / notary).toFixed(2)} |`),
    ];
    const cpus = os.cpus();
    const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
    const raw = JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, v.map(Math.round)])));
    const section = `## Many tags in one publish

\`npm run bench:sign-many\` (bench/sign-many.mjs), ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, on ${cpus.length} x ${cpus[0]?.model ?? 'unknown'},
Node ${process.version}, load average at the end ${load}. Both servers on 127.0.0.1 over TLS (same certificate),
pinned to CPU 0; the CLIs on CPU 1. Each run publishes ${TAGS} new tags (${TAGS} digests) into the same collection
on each server; wall time of the whole flow, from the first command to the last one's exit.

${lines.join('\n')}

Raw (ms): ${raw}. See [signing.md](signing.md).
`;
    process.stdout.write(`${section}\n`);
    if (OUT !== '-') {
      const current = await readFile(OUT, 'utf8').catch(() => '');
      const begin = current.indexOf(MARK.begin);
      const end = current.indexOf(MARK.end);
      const block = `${MARK.begin}\n${section}${MARK.end}`;
      await writeFile(OUT, begin >= 0 && end > begin ? `${current.slice(0, begin)}${block}${current.slice(end + MARK.end.length)}` : `${current.trimEnd()}\n\n${block}\n`);
      log(`wrote the sign-many section of ${OUT}`);
    }
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch(() => {});
  }
}

main().catch((err) => {
  process.stderr.write(`bench/sign-many: ${err.stack ?? err}\n`);
  process.exit(1);
});
