/**
 * The CLI and server installed the documented way (README "Install on another machine"): the
 * `npm run package` tarballs installed with `npm install -g` into a temp prefix, never the clone's
 * node_modules/.bin. One install is shared by every test process: it is keyed by a hash of what the
 * packages are made of, and the first process to claim the key (an exclusive mkdir) builds it while
 * the others wait for its `ready` file (or start again when that process died half-way).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What the two packages are made of (scripts/package.mjs). */
const INPUTS = ['client/dist/tagtrust.cjs', 'server/dist', 'shared/dist', 'keys/dist', 'package.json', 'package-lock.json', 'scripts/package.mjs'];
const WAIT_MS = 180_000;

async function inputHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const input of INPUTS) {
    const path = join(ROOT, input);
    const files = (await stat(path)).isDirectory()
      ? (await readdir(path, { recursive: true, encoding: 'utf8' })).filter((f) => f.endsWith('.js')).sort().map((f) => join(path, f))
      : [path];
    for (const file of files) hash.update(file).update(await readFile(file));
  }
  return hash.digest('hex').slice(0, 16);
}

let installed: Promise<string> | undefined;

/** The `bin` directory of the installed `tagtrust` and `tagtrust-server`. */
export function installedBin(): Promise<string> {
  installed ??= install();
  return installed;
}

async function install(): Promise<string> {
  const dir = join(tmpdir(), `tagtrust-installed-${await inputHash()}`);
  const ready = join(dir, 'ready');
  const owner = join(dir, 'owner.pid');
  for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 250))) {
    try {
      await mkdir(dir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await exists(ready)) return join(dir, 'bin');
    const pid = Number(await readFile(owner, 'utf8').catch(() => '0'));
    // An installer that died half-way: start again (its pid file is written right after the mkdir).
    if (pid > 0 && !alive(pid)) await rm(dir, { recursive: true, force: true });
    if (Date.now() - started > WAIT_MS) throw new Error(`another test process did not finish installing the packages into ${dir} within ${WAIT_MS / 1000} s`);
  }
  await writeFile(owner, String(process.pid));
  const { stdout } = await run(process.execPath, [join(ROOT, 'scripts/package.mjs')], { cwd: ROOT });
  const tarballs = stdout.trim().split('\n');
  await run('npm', ['install', '-g', '--prefix', dir, '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], { timeout: 120_000 });
  await writeFile(ready, tarballs.join('\n'));
  return join(dir, 'bin');
}

const exists = (path: string) => stat(path).then(() => true, () => false);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** PATH with the installed binaries and the system's, nothing of the clone. */
export const installedPath = (bin: string) => `${bin}:/usr/local/bin:/usr/bin:/bin`;

export interface InstalledServer {
  url: string;
  /** What the server printed on start-up. */
  startup: string;
  stop(): void;
}

/** Starts the installed tagtrust-server in `cwd` (data in ./tagtrust-data) on an ephemeral port. */
export async function startInstalledServer(bin: string, cwd: string, env: Record<string, string>, args: string[] = []): Promise<InstalledServer> {
  const server = spawn(join(bin, 'tagtrust-server'), ['--listen', '127.0.0.1:0', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let startup = '';
  const url = await new Promise<string>((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      startup += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(startup);
      if (match) resolve(match[1]!);
    };
    server.stdout.on('data', seen);
    server.stderr.on('data', seen);
    server.once('exit', (code) => reject(new Error(`tagtrust-server exited (${code}): ${startup}`)));
  });
  return { url, startup, stop: () => server.kill() };
}
