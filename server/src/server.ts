/**
 * Starts tagtrust-server: opens the store, loads secrets, serves HTTP (or HTTPS when given a
 * certificate and key) and renews online-signed metadata in the background. `close()` stops all of it.
 * Requests the read cache can answer alone skip Koa (http/fast-read.ts).
 */
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { DEFAULT_LIFETIMES, UsageError } from '@tagtrust/shared';
import { TokenAuthorizer } from './auth.js';
import { createApp } from './http/app.js';
import { serveFromCache } from './http/fast-read.js';
import { requestErrorLogger } from './http/request-errors.js';
import { limitConnections } from './http/connection-limit.js';
import { OnlineKeys } from './online-keys.js';
import { PendingChanges } from './pending/pending-changes.js';
import { PublishLeases } from './publish-leases.js';
import { Repository } from './repository.js';
import { loadAdminToken, loadMasterKey } from './secrets.js';
import { LevelStore } from './storage/level-store.js';
import { isLocked } from './storage/durable-level.js';
import { Tokens } from './tokens.js';

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
  masterKey?: string;
  adminToken?: string;
  /** When true, reads need a token with a pull (or push, or admin) scope for the collection. */
  requirePullScope?: boolean;
  /** Serve HTTPS with this PEM certificate (chain) and private key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Called with one line per finished request: method, path, status, milliseconds, body bytes (when set by Koa). */
  accessLog?: (line: string) => void;
  /** Largest total of latest metadata kept in memory, in bytes (default 256 MiB). */
  readCacheBytes?: number;
  /** Most connections open at once; past it the oldest idle or still-sending-headers one is closed. */
  maxConnections: number;
  /** How long a client may take to send its request headers, in ms. */
  headersTimeout: number;
  /** How long a client may take to send its whole request (headers and body), in ms. */
  requestTimeout: number;
  /** How long a publish lease lasts unless its holder releases it, in ms (publish-leases.ts). */
  publishLeaseTtl: number;
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
  maxConnections: 2000,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  publishLeaseTtl: 10_000,
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

  let store: LevelStore;
  try {
    store = await LevelStore.open(join(dataDir, 'db'), { log });
  } catch (err) {
    if (isLocked(err)) {
      throw new UsageError(`the database in ${dataDir} is in use by another tagtrust-server process: stop it, or use another --data directory`, { cause: err });
    }
    throw err;
  }
  const repository = new Repository({
    store,
    onlineKeys: new OnlineKeys(store, masterKey.value),
    lifetimes: { snapshot: config.snapshotLifetime, timestamp: config.timestampLifetime },
    now: config.now,
    readCacheBytes: config.readCacheBytes,
    log,
  });
  const authorizer = new TokenAuthorizer({ store, adminToken: adminToken.value, requirePullScope: config.requirePullScope });
  const tokens = new Tokens(store, config.now ?? (() => new Date()));
  const pending = new PendingChanges({ store, repository, lifetimeMs: config.pendingLifetime, now: config.now });
  const leases = new PublishLeases({ ttlMs: config.publishLeaseTtl });
  const app = createApp({ repository, authorizer, tokens, bodyLimit: config.bodyLimit, pending, leases, storageHealth: () => store.health() });
  app.on('error', requestErrorLogger(log));

  const { host, port } = parseListen(config.listen);
  const appListener = app.callback();
  // The cache fast path skips Koa, and so authorisation: only when reads are public.
  let listener: RequestListener = config.requirePullScope
    ? appListener
    : (req, res) => {
        if (!serveFromCache(repository, req, res)) void appListener(req, res);
      };
  if (config.accessLog) listener = withAccessLog(listener, config.accessLog);
  // Node checks both timeouts every connectionsCheckingInterval (default 30 s): check every second.
  const limits = { headersTimeout: config.headersTimeout, requestTimeout: config.requestTimeout, connectionsCheckingInterval: 1000 };
  const server: Server = config.tls ? createHttpsServer({ cert: config.tls.cert, key: config.tls.key, ...limits }, listener) : createHttpServer(limits, listener);
  limitConnections(server, { max: config.maxConnections, headersTimeoutMs: config.headersTimeout, requestTimeoutMs: config.requestTimeout, log });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address() as AddressInfo;
  const scheme = config.tls ? 'https' : 'http';
  const url = `${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  const renewal = setInterval(() => {
    repository.renewAll().catch((err: Error) => log(`tagtrust-server: renewal failed: cannot list the collections (${err.message})`));
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

function withAccessLog(listener: RequestListener, log: (line: string) => void): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const bytes = res.getHeader('content-length');
      log(`${req.method} ${req.url} ${res.statusCode} ${ms.toFixed(3)}ms${bytes === undefined ? '' : ` ${bytes}B`}`);
    });
    listener(req, res);
  };
}

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  if (!match) throw new UsageError(`--listen "${listen}" is not host:port (e.g. 127.0.0.1:4443)`);
  return { host: match[1] ?? match[2]!, port: Number(match[3]) };
}
