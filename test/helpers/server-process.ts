/**
 * The real `tagtrust-server` binary as a child process on 127.0.0.1 (ephemeral port), for tests that
 * kill it (SIGKILL, SIGTERM) or that must see what it prints when it cannot start.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN } from './server.js';
import { assertNoSecretsInLog } from './log-secrets.js';

export const SERVER_BIN = fileURLToPath(new URL('../../server/dist/bin.js', import.meta.url));

/** A fixed master key for a data directory that outlives one process (hex, 32 bytes; not a secret). */
const MASTER_KEY = '11'.repeat(32);

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the server printed on stderr so far. */
  stderr(): string;
  /** Its exit code once it exited (null after a signal it did not handle). */
  exited: Promise<number | null>;
  /** Sends `signal` and waits for the process to exit; throws if its log holds a secret (log-secrets.ts). */
  stop(signal: NodeJS.Signals): Promise<void>;
}

/** Starts the server on `dataDir`; rejects with its stderr when it exits before listening. */
export function startServerProcess(dataDir: string, args: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SERVER_BIN, '--listen', '127.0.0.1:0', '--data', dataDir, ...args], {
    env: { PATH: process.env.PATH, TAGTRUST_ADMIN_TOKEN: ADMIN_TOKEN, TAGTRUST_MASTER_KEY: MASTER_KEY },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
      if (url) {
        resolve({
          url,
          child,
          stderr: () => stderr,
          exited,
          async stop(signal) {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            await exited;
            assertNoSecretsInLog(stderr, `tagtrust-server ${url}`);
          },
        });
      }
    });
    void exited.then((code) => reject(Object.assign(new Error(`tagtrust-server exited with ${code}: ${stderr}`), { code, stderr })));
  });
}
