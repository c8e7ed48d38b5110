/**
 * Real registry parts for tests: Debian's `docker-registry` (the CNCF distribution registry) on
 * 127.0.0.1 with an ephemeral port, a temp config and temp storage; and `skopeo`, the puller and
 * pusher. Both must be installed (`.ci/run` installs them): a missing one fails the test, never skips it.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function requireTool(tool: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${tool} is not installed: run \`apt-get install -y docker-registry skopeo\` (.ci/run does)`);
  }
}

export interface TestRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  close(): Promise<void>;
}

export async function startRegistry(): Promise<TestRegistry> {
  requireTool('docker-registry');
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-registry-'));
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    ['version: 0.1', 'log:', '  level: info', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, '  delete:', '    enabled: true', 'http:', '  addr: 127.0.0.1:0', ''].join('\n'),
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const host = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`docker-registry did not start within 15 s:\n${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/listening on (127\.0\.0\.1:\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`docker-registry exited (${code}):\n${output}`)));
  });
  return {
    url: `http://${host}`,
    host,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SkopeoResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `skopeo --insecure-policy ...args` (http registries on 127.0.0.1: pass --*-tls-verify=false). */
export function skopeo(args: string[]): Promise<SkopeoResult> {
  requireTool('skopeo');
  return new Promise((resolve) => {
    execFile('skopeo', ['--insecure-policy', ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Pushes `oci:DIR:tag` to `docker://HOST/name:tag` (all platforms of an index). */
export async function pushImage(source: string, host: string, target: string): Promise<void> {
  const result = await skopeo(['copy', '--all', '--dest-tls-verify=false', source, `docker://${host}/${target}`]);
  if (result.code !== 0) throw new Error(`skopeo copy ${source} docker://${host}/${target} failed: ${result.stderr}`);
}
