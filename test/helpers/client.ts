/**
 * Client-side fixtures: temp homes, publisher/puller objects with test passphrases, and a runner
 * for the real `tagtrust` binary.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Publisher, Puller } from '@tagtrust/client';
import type { PublisherOptions, PullerOptions } from '@tagtrust/client';
import { decryptKeyFile, parseKeyFile } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import { ADMIN_TOKEN } from './server.js';
import { registerSecrets } from './log-secrets.js';

export const PASSPHRASES = { root: 'root-passphrase-for-tests', targets: 'targets-passphrase-for-tests' };
registerSecrets({ 'the root passphrase': PASSPHRASES.root, 'the targets passphrase': PASSPHRASES.targets });
/** The installed `tagtrust` binary: the bin shim, which runs the bundle client/dist/tagtrust.cjs. */
export const CLI = fileURLToPath(new URL('../../client/bin/tagtrust.js', import.meta.url));

/**
 * `npx tsc -b && npx ava` rebuilds dist/ but not the CLI bundle (`npm run build` does both): rebuild
 * it here when it is older than the compiled code it is made of, so CLI tests never run stale code.
 */
function ensureFreshCliBundle(): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const bundle = join(root, 'client/dist/tagtrust.cjs');
  const built = (() => {
    try {
      return statSync(bundle).mtimeMs;
    } catch {
      return -1;
    }
  })();
  const newest = ['client/dist', 'shared/dist', 'keys/dist']
    .flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')).map((f) => join(root, dir, f)))
    .reduce((max, file) => Math.max(max, statSync(file).mtimeMs), 0);
  if (built < newest) execFileSync(process.execPath, [join(root, 'client/scripts/bundle-cli.mjs')], { stdio: 'inherit' });
}
ensureFreshCliBundle();

export const tempHome = () => mkdtemp(join(tmpdir(), 'tagtrust-home-'));

export const digestOf = (char: string) => `sha256:${char.repeat(64)}`;

export function publisherFor(url: string, home: string, options: Partial<PublisherOptions> = {}): Publisher {
  return new Publisher({
    server: url,
    home,
    token: ADMIN_TOKEN,
    warn: () => {},
    passphrases: async ({ role }) => (role === 'root' ? PASSPHRASES.root : PASSPHRASES.targets),
    ...options,
  });
}

export function pullerFor(url: string, home: string, options: Partial<PullerOptions> = {}): Puller {
  return new Puller({ server: url, home, warn: () => {}, ...options });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tagtrust ...args` with the server, home, token and passphrases in its environment. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: {
          PATH: process.env.PATH,
          TAGTRUST_TOKEN: ADMIN_TOKEN,
          TAGTRUST_ROOT_PASSPHRASE: PASSPHRASES.root,
          TAGTRUST_TARGETS_PASSPHRASE: PASSPHRASES.targets,
          ...env,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The bin key `enableBins` created in `home` (its passphrase is the targets one in tests). */
export async function binKeyOf(home: string): Promise<KeyPair> {
  for (const name of await readdir(join(home, 'keys'))) {
    const path = join(home, 'keys', name);
    const file = parseKeyFile(await readFile(path, 'utf8'), path);
    if (file.role === 'bins') return decryptKeyFile(file, PASSPHRASES.targets);
  }
  throw new Error(`no bin key in ${home}`);
}
