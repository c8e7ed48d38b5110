/**
 * Starts tagtrust-server: opens the store, loads secrets, serves HTTP and renews online-signed
 * metadata in the background. `close()` stops all of it.
 */
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Server } from 'node:http';
import { DEFAULT_LIFETIMES, UsageError } from '@tagtrust/shared';
import { AdminTokenAuthorizer } from './auth.js';
import { createApp } from './http/app.js';
import { OnlineKeys } from './online-keys.js';
import type { DelegationAuditSink } from './delegation-audit.js';
import { PendingChanges } from './pending/pending-changes.js';
import { Repository } from './repository.js';
import { loadAdminToken, loadMasterKey } from './secrets.js';
import { LevelStore } from './storage/level-store.js';

export interface ServerConfig {
  /** host:port to listen on; port 0 picks a free port. */
  listen: string;
  /** Data directory: the level database plus the generated secrets. */
  dataDir: string;
  bodyLimit: number;
  snapshotLifetime: number;
  timestampLifetime: number;
  /** How often the background renewal runs, in ms. */
  renewInterval: number;
  /** How long a pending change (awaiting approvals) stays open at most, in ms. */
  pendingLifetime: number;
  /** Receives delegation changes (added/removed roles, revoked keys) after they are committed. */
  delegationAudit?: DelegationAuditSink;
  masterKey?: string;
  adminToken?: string;
  /** Clock; tests pass a controllable one. */
  now?: () => Date;
  log?: (line: string) => void;
}

export const defaultConfig: ServerConfig = {
  listen: '127.0.0.1:4443',
  dataDir: './tagtrust-data',
  bodyLimit: 10 * 1024 * 1024,
  snapshotLifetime: DEFAULT_LIFETIMES.snapshot,
  timestampLifetime: DEFAULT_LIFETIMES.timestamp,
  renewInterval: 60_000,
  pendingLifetime: 7 * 24 * 3600_000,
};

export interface RunningServer {
  url: string;
  repository: Repository;
  /** Where the admin token came from (env var name or file path). */
  adminTokenSource: string;
  close(): Promise<void>;
}

export async function startServer(overrides: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const config: ServerConfig = { ...defaultConfig, ...overrides };
  const log = config.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const [masterKey, adminToken] = await Promise.all([
    loadMasterKey(dataDir, config.masterKey),
    loadAdminToken(dataDir, config.adminToken),
  ]);
  if (masterKey.created) log(`tagtrust-server: generated a master key in ${masterKey.source} (mode 0600); back it up`);
  if (adminToken.created) log(`tagtrust-server: generated an admin token in ${adminToken.source} (mode 0600)`);

  const store = await LevelStore.open(join(dataDir, 'db'));
  const repository = new Repository({
    store,
    onlineKeys: new OnlineKeys(store, masterKey.value),
    lifetimes: { snapshot: config.snapshotLifetime, timestamp: config.timestampLifetime },
    now: config.now,
    delegationAudit: config.delegationAudit,
  });
  const pending = new PendingChanges({ store, repository, lifetimeMs: config.pendingLifetime, now: config.now });
  const app = createApp({ repository, authorizer: new AdminTokenAuthorizer(adminToken.value), bodyLimit: config.bodyLimit, pending });
  app.on('error', (err: Error) => log(`tagtrust-server: internal error: ${err.stack ?? err.message}`));

  const { host, port } = parseListen(config.listen);
  const server: Server = await new Promise((resolveListen, reject) => {
    const s = app.listen(port, host, () => resolveListen(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  const renewal = setInterval(() => {
    repository.renewAll().catch((err: Error) => log(`tagtrust-server: renewal failed: ${err.message}`));
  }, config.renewInterval);
  renewal.unref();

  return {
    url,
    repository,
    adminTokenSource: adminToken.source,
    async close() {
      clearInterval(renewal);
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      await store.close();
    },
  };
}

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  if (!match) throw new UsageError(`--listen "${listen}" is not host:port (e.g. 127.0.0.1:4443)`);
  return { host: match[1] ?? match[2]!, port: Number(match[3]) };
}
