/**
 * A real tagtrust-server for tests: in-process, on 127.0.0.1 with an ephemeral port, on a real level
 * database in a fresh temp dir, with a clock the test can move forward. Its log (every entry, debug
 * level, JSON lines) is kept in `logLines`; `close()` throws if it holds a secret (log-secrets.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@tagtrust/server';
import type { RunningServer, ServerConfig } from '@tagtrust/server';
import { assertNoSecretsInLog, registerSecrets } from './log-secrets.js';

export const ADMIN_TOKEN = 'test-admin-token-not-a-secret-0000';
registerSecrets({ 'the admin token': ADMIN_TOKEN });

export class TestClock {
  private offsetMs = 0;
  now = (): Date => new Date(Date.now() + this.offsetMs);
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface TestServer {
  url: string;
  dataDir: string;
  clock: TestClock;
  server: RunningServer;
  /** Every log entry of the server (and of its earlier runs on this data dir), one JSON line each. */
  logLines: string[];
  /** Stops the server and starts a new one on the same data dir (new port). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestServer(config: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tagtrust-server-'));
  const clock = new TestClock();
  const logLines: string[] = [];
  const { log: alsoTo, ...rest } = config;
  const log = (line: string) => {
    logLines.push(line);
    alsoTo?.(line);
  };
  const start = () => startServer({ listen: '127.0.0.1:0', dataDir, adminToken: ADMIN_TOKEN, now: clock.now, logLevel: 'debug', ...rest, log });
  const handle: TestServer = {
    url: '',
    dataDir,
    clock,
    logLines,
    server: await start(),
    async restart() {
      await handle.server.close();
      handle.server = await start();
      handle.url = handle.server.url;
    },
    async close() {
      await handle.server.close();
      await rm(dataDir, { recursive: true, force: true });
      assertNoSecretsInLog(logLines.join('\n'), `the test server ${handle.url}`);
    },
  };
  handle.url = handle.server.url;
  return handle;
}

/**
 * A `log` for a server a test starts itself (startServer): keeps its entries and, when the test
 * ends, fails it if they hold a secret (log-secrets.ts).
 */
export function secretCheckedLog(t: { teardown(fn: () => Promise<void>): void }, lines: string[] = []): (line: string) => void {
  t.teardown(async () => assertNoSecretsInLog(lines.join('\n'), 'a server started by this test'));
  return (line) => lines.push(line);
}
