/**
 * Starts tagtrust-server: listens first (so a taken port ends the start before any data directory or
 * secret is created), then opens the store, loads secrets (refusing a lost master key or a short admin
 * token, secrets.ts), serves HTTP (or HTTPS when given a certificate and key) and renews online-signed
 * metadata in the background. `close()` stops all of it at once; `shutdown()` drains first (SIGTERM:
 * http/drain.ts). Requests the read cache can answer alone skip Koa (http/fast-read.ts). Every
 * request gets an ID and a log entry (logging/request-log.ts); everything goes through one logger.
 */
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createServer as createHttpServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { DEFAULT_LIFETIMES, UsageError } from '@tagtrust/shared';
import { TokenAuthorizer } from './auth.js';
import { createApp } from './http/app.js';
import { routesOf } from './http/api-description.js';
import type { RouteInfo } from './http/api-description.js';
import { serveFromCache } from './http/fast-read.js';
import { requestErrorLogger } from './http/request-errors.js';
import { limitConnections } from './http/connection-limit.js';
import { RequestDrain } from './http/drain.js';
import { listen, notReady, parseListen } from './http/listen.js';
import { createLogger, lineLogger } from './logging/logger.js';
import type { LogLevel, Logger } from './logging/logger.js';
import { logRequests } from './logging/request-log.js';
import { OnlineKeys } from './online-keys.js';
import { PendingChanges } from './pending/pending-changes.js';
import { PublishLeases } from './publish-leases.js';
import { Repository } from './repository.js';
import { ServerMetrics } from './metrics/metrics.js';
import { ExpiryIndex } from './metrics/expiry-index.js';
import { startMetricsListener } from './metrics/metrics-listener.js';
import { loadAdminToken, loadMasterKey, requireLongAdminToken } from './secrets.js';
import { openStore } from './storage/open-store.js';
import type { MetadataStore } from './storage/store.js';
import { watchReplicaChanges } from './replication/watch.js';
import { Tokens } from './tokens.js';

export interface ServerConfig {
  /** host:port to listen on; port 0 picks a free port. */
  listen: string;
  /** Data directory: the level database plus the generated secrets. */
  dataDir: string;
  /** postgres://… : keep the metadata there instead of the level database (replicas may share it). */
  databaseUrl?: string;
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
  /** Log every request at info; without it, successful reads are logged at debug (logging/request-log.ts). */
  accessLog?: boolean;
  /** The least level logged (default info). */
  logLevel?: LogLevel;
  /** On shutdown(), how long requests in flight may take to finish, in ms. */
  drainTimeout: number;
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
  /**
   * host:port of a separate plain-HTTP listener that serves only `GET /metrics`, without a token.
   * Unset: `/metrics` is on the main listener (public, or admin-only with `requirePullScope`).
   */
  metricsListen?: string;
  /** Clock; tests pass a controllable one. */
  now?: () => Date;
  /** Where log entries go, one JSON line per call (default: stderr; readable lines on a terminal). */
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
  drainTimeout: 25_000,
};

export interface RunningServer {
  url: string;
  /** The metrics listener's URL, when `metricsListen` is set. */
  metricsUrl?: string;
  repository: Repository;
  /** The HTTP routes it serves (method and path pattern), as described in server/openapi.json. */
  routes: RouteInfo[];
  /** Where the admin token came from (env var name or file path). */
  adminTokenSource: string;
  /** Where the metadata is: the data directory, or the PostgreSQL database (without credentials). */
  storeLocation: string;
  /** The server's logger (startup and shutdown lines of the command go through it too). */
  logger: Logger;
  /** Stops everything at once: requests in flight are cut off. */
  close(): Promise<void>;
  /**
   * Drains (http/drain.ts), then stops renewal and closes the store.
   * @returns false when requests were still in flight after `drainTimeout` (logged, store left open)
   */
  shutdown(why: string): Promise<boolean>;
}

export async function startServer(overrides: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const config: ServerConfig = { ...defaultConfig, ...overrides };
  const logger = createLogger({ level: config.logLevel, sink: config.log });
  // Listen before anything is created: a taken port leaves no data directory or secrets behind.
  // Until the services are open, requests get a 503.
  let listener: RequestListener | undefined;
  const drain = new RequestDrain();
  const dispatch = logRequests(
    drain.track((req, res) => (listener ? listener(req, res) : notReady(req, res))),
    { logger, accessLog: config.accessLog ?? false },
  );
  // Node checks both timeouts every connectionsCheckingInterval (default 30 s): check every second.
  const limits = { headersTimeout: config.headersTimeout, requestTimeout: config.requestTimeout, connectionsCheckingInterval: 1000 };
  const server: Server = config.tls ? createHttpsServer({ cert: config.tls.cert, key: config.tls.key, ...limits }, dispatch) : createHttpServer(limits, dispatch);
  limitConnections(server, { max: config.maxConnections, headersTimeoutMs: config.headersTimeout, requestTimeoutMs: config.requestTimeout, log: (line) => logger.warn(line) });
  await listen(server, config.listen);
  let services: Services;
  try {
    services = await openServices(config, logger);
  } catch (err) {
    server.close();
    throw err;
  }
  const { repository, store, pending, metrics } = services;
  const now = config.now ?? (() => new Date());
  listener = services.listener;
  const address = server.address() as AddressInfo;
  const scheme = config.tls ? 'https' : 'http';
  const url = `${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  const renewal = setInterval(() => {
    const run = metrics.renewalStarted();
    repository.renewAll().then(
      // A collection whose renewal failed is recorded by the repository (renewalHealth) and logged there.
      (renewed) => (repository.renewalHealth().failing ? run.failed() : run.finished(renewed, now())),
      (err: Error) => {
        run.failed();
        logger.error(`renewal failed: cannot list the collections (${err.message})`);
      },
    );
    pending.pruneAll().catch((err: Error) => logger.error(`pruning pending changes failed: ${err.message}`));
  }, config.renewInterval);
  renewal.unref();
  // Once: a second server.close() on a closed server would wait for a 'close' event that never comes.
  let listenerClosed: Promise<void> | undefined;
  const closeListener = () => (listenerClosed ??= new Promise<void>((done) => server.close(() => done())));
  let metricsListener: Awaited<ReturnType<typeof startMetricsListener>> | undefined;
  try {
    metricsListener = config.metricsListen ? await startMetricsListener(metrics, parseListen(config.metricsListen)) : undefined;
  } catch (err) {
    clearInterval(renewal);
    await closeListener();
    await store.close();
    throw new UsageError(`--metrics-listen ${config.metricsListen}: cannot listen there (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }

  return {
    url,
    metricsUrl: metricsListener?.url,
    repository,
    routes: services.routes,
    adminTokenSource: services.adminTokenSource,
    storeLocation: services.storeLocation,
    logger,
    close: stop,
    async shutdown(why) {
      logger.info({ inFlight: drain.inFlightCount, drainTimeoutMs: config.drainTimeout }, `${why}: draining: refusing new connections, waiting for ${drain.inFlightCount} request(s) in flight`);
      void closeListener();
      const left = await drain.drain(server, config.drainTimeout);
      if (left.length > 0) {
        const named = left.map((r) => `${r.method} ${r.path} (requestId ${r.requestId}, for ${((Date.now() - r.since) / 1000).toFixed(1)} s)`).join(', ');
        logger.error({ inFlight: left }, `drain timeout of ${config.drainTimeout / 1000} s passed with ${left.length} request(s) still in flight: ${named}; exiting without waiting for them`);
        return false;
      }
      await stop();
      logger.info('drained: every request answered, renewal stopped, store closed');
      return true;
    },
  };

  async function stop(): Promise<void> {
    clearInterval(renewal);
    await services.stopWatching?.();
    await metricsListener?.close();
    server.closeAllConnections();
    await closeListener();
    await store.close();
  }
}

interface Services {
  listener: RequestListener;
  repository: Repository;
  store: MetadataStore;
  storeLocation: string;
  /** Stops listening for other replicas' changes (shared store only). */
  stopWatching?: () => Promise<void>;
  pending: PendingChanges;
  metrics: ServerMetrics;
  routes: RouteInfo[];
  adminTokenSource: string;
}

/** Creates the data directory and secrets as needed, opens the store and builds the request listener. */
async function openServices(config: ServerConfig, logger: Logger): Promise<Services> {
  const log = lineLogger(logger);
  const dataDir = resolve(config.dataDir);
  // A short admin token is refused before anything is created.
  if (config.adminToken) requireLongAdminToken(config.adminToken.trim(), 'TAGTRUST_ADMIN_TOKEN');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const adminToken = await loadAdminToken(dataDir, config.adminToken);
  const masterKey = await loadMasterKey(dataDir, config.masterKey);
  if (masterKey.created) logger.warn(`generated a master key in ${masterKey.source} (mode 0600); back it up`);
  if (adminToken.created) logger.info(`generated an admin token in ${adminToken.source} (mode 0600)`);

  const { store, backupEntries, location, health } = await openStore(dataDir, config.databaseUrl, log);
  const storeLocation = config.databaseUrl === undefined ? config.dataDir : location;
  const now = config.now ?? (() => new Date());
  const expiries = new ExpiryIndex();
  const metrics = new ServerMetrics({ expiries, now });
  const repository = new Repository({
    expiries,
    onPublish: (outcome, seconds) => {
      metrics.publishObserved(outcome, seconds);
      logger[outcome === 'error' ? 'error' : 'info']({ outcome, durationMs: Math.round(seconds * 1e6) / 1e3 }, `publish ${outcome}`);
    },
    store,
    onlineKeys: new OnlineKeys(store, masterKey.value),
    lifetimes: { snapshot: config.snapshotLifetime, timestamp: config.timestampLifetime },
    now: config.now,
    readCacheBytes: config.readCacheBytes,
    log,
  });
  const authorizer = new TokenAuthorizer({
    store,
    adminToken: adminToken.value,
    requirePullScope: config.requirePullScope,
    now,
    onUseRecordFailed: (err) => logger.error(`recording a token's last use failed: ${err.message}`),
  });
  const tokens = new Tokens(store, config.now ?? (() => new Date()));
  const pending = new PendingChanges({ store, repository, lifetimeMs: config.pendingLifetime, now: config.now });
  repository.indexExpiries().catch((err: Error) => logger.error(`reading the expiries for the metrics failed: ${err.message}`));
  const app = createApp({
    repository,
    authorizer,
    tokens,
    bodyLimit: config.bodyLimit,
    pending,
    backupEntries,
    leases: new PublishLeases({ ttlMs: config.publishLeaseTtl }),
    storageHealth: health,
    metrics: config.metricsListen ? undefined : { metrics, adminOnly: config.requirePullScope ?? false },
  });
  app.on('error', requestErrorLogger(logger));

  const appListener = app.callback();
  // The cache fast path skips Koa, and so authorisation: only when reads are public.
  let listener: RequestListener = config.requirePullScope
    ? appListener
    : (req, res) => {
        const served = serveFromCache(repository, req, res);
        if (served === false) void appListener(req, res);
        else if (served !== true) {
          void served.then((done) => {
            if (!done) void appListener(req, res);
          });
        }
      };
  listener = metrics.instrument(listener);
  const stopWatching = watchReplicaChanges(store, repository, log);
  return { listener, repository, store, storeLocation, stopWatching, pending, metrics, routes: routesOf(app), adminTokenSource: adminToken.source };
}
