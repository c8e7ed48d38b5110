/**
 * A real tagtrust-server for tests: in-process, on 127.0.0.1 with an ephemeral port, on a real level
 * database in a fresh temp dir, with a clock the test can move forward.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@tagtrust/server';
import type { RunningServer, ServerConfig } from '@tagtrust/server';

export const ADMIN_TOKEN = 'test-admin-token-not-a-secret-0000';

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
  /** Stops the server and starts a new one on the same data dir (new port). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestServer(config: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tagtrust-server-'));
  const clock = new TestClock();
  const start = () =>
    startServer({ listen: '127.0.0.1:0', dataDir, adminToken: ADMIN_TOKEN, now: clock.now, log: () => {}, ...config });
  const handle: TestServer = {
    url: '',
    dataDir,
    clock,
    server: await start(),
    async restart() {
      await handle.server.close();
      handle.server = await start();
      handle.url = handle.server.url;
    },
    async close() {
      await handle.server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  handle.url = handle.server.url;
  return handle;
}
