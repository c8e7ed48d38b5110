/**
 * A real notary-server (Debian's `notary` package, installed by .ci/run) for tests: on 127.0.0.1 at a
 * free port, TLS with a self-signed certificate, memory storage, its in-process signer; and the real
 * `notary` CLI against it with its own trust directory and passphrases.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, get } from 'node:https';
import { issueSelfSignedCertificate } from '@tagtrust/server';
import { freePort } from './ports.js';
import { registerSecrets } from './log-secrets.js';

export const NOTARY_PASSPHRASES = {
  NOTARY_ROOT_PASSPHRASE: 'notary-root-passphrase',
  NOTARY_TARGETS_PASSPHRASE: 'notary-targets-passphrase',
  NOTARY_SNAPSHOT_PASSPHRASE: 'notary-snapshot-passphrase',
  NOTARY_DELEGATION_PASSPHRASE: 'notary-delegation-passphrase',
};
registerSecrets(Object.fromEntries(Object.entries(NOTARY_PASSPHRASES).map(([name, value]) => [`the passphrase in ${name}`, value])));

export interface NotaryServer {
  url: string;
  caFile: string;
  trustDir: string;
  dir: string;
  /** Runs the notary CLI against this server; rejects with its output on failure. */
  notary(args: string[]): Promise<string>;
  /** A new ecdsa key for a delegation role in the CLI's key store; returns a PUBLIC KEY PEM file for `notary delegation add`. */
  delegationKey(role: string): Promise<string>;
  close(): Promise<void>;
}

function healthy(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(`${url}/_notary_server/health`, { agent: new Agent({ ca }) }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });
}

export async function startNotaryServer(): Promise<NotaryServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-notary-'));
  const tls = await issueSelfSignedCertificate({ hosts: ['127.0.0.1'] });
  const caFile = join(dir, 'server.crt');
  await writeFile(caFile, tls.cert);
  await writeFile(join(dir, 'server.key'), tls.key, { mode: 0o600 });
  const port = await freePort();
  const config = {
    server: { http_addr: `127.0.0.1:${port}`, tls_key_file: join(dir, 'server.key'), tls_cert_file: caFile },
    trust_service: { type: 'local' },
    storage: { backend: 'memory' },
    logging: { level: 'error' },
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  const child: ChildProcess = spawn('notary-server', ['-config', join(dir, 'config.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const spawned = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`cannot start notary-server (is Debian's notary package installed? .ci/run installs it): ${err.message}`))));
  const url = `https://127.0.0.1:${port}`;
  for (let i = 0; ; i += 1) {
    if (await Promise.race([healthy(url, tls.cert), spawned])) break;
    if (i > 100 || child.exitCode !== null) throw new Error(`notary-server did not come up on ${url}: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const trustDir = join(dir, 'trust');
  const notary = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile('notary', ['-s', url, '--tlscacert', caFile, '-d', trustDir, ...args], { env: { PATH: process.env.PATH, HOME: dir, ...NOTARY_PASSPHRASES } }, (err, stdout, stderr) =>
        err ? reject(new Error(`notary ${args.join(' ')}: ${stderr || stdout}`)) : resolve(stdout),
      );
    });
  return {
    url,
    caFile,
    trustDir,
    dir,
    notary,
    async delegationKey(role) {
      const keyId = /keyID: ([0-9a-f]{64})/.exec(await notary(['key', 'generate', 'ecdsa', '--role', role]))?.[1];
      if (!keyId) throw new Error('notary key generate printed no key ID');
      // Notary's PEM carries "role: …" header lines that OpenSSL does not read; drop them.
      const pem = (await readFile(join(trustDir, 'private', `${keyId}.key`), 'utf8'))
        .split('\n')
        .filter((line) => !/^[a-z_]+: /i.test(line))
        .join('\n');
      const publicKey = createPublicKey(createPrivateKey({ key: pem, format: 'pem', passphrase: NOTARY_PASSPHRASES.NOTARY_DELEGATION_PASSPHRASE }));
      // One file per key: tests sharing this server generate keys for the same role at once.
      const file = join(dir, `${role.replace(/\W+/g, '-')}-${keyId.slice(0, 16)}.pem`);
      await writeFile(file, publicKey.export({ type: 'spki', format: 'pem' }));
      return file;
    },
    async close() {
      child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
