/**
 * The HTTP API. One route table; handlers parse, call the repository, set body and cache headers.
 *
 *   GET  /healthz                                 liveness: always 200, with storage and renewal state
 *   GET  /readyz                                  503 while writes fail or renewals keep failing
 *   GET  /openapi.json                            this API's description (OpenAPI 3.1, server/openapi.json)
 *   GET  /metrics                                 Prometheus metrics (public; admin with required pull tokens)
 *   GET  /v2/<gun>/_trust/tuf/<role>.json         latest version (no-cache + ETag; timestamp: short max-age)
 *   GET  /v2/<gun>/_trust/tuf/<N>.<role>.json     exact version (immutable)
 *   GET  /v2/<gun>/_trust/tuf/<snapshot|timestamp>.key   online public key (creating it needs push)
 *   POST /v2/<gun>/_trust/tuf/<snapshot|timestamp>.key   start a rotation: new pending key (admin)
 *   POST /v2/<gun>/_trust/tuf/                    publish signed root, targets and delegated roles (push)
 *   /v2/<gun>/_trust/pending[/<id>]               staging area for approvals (pending-routes.ts)
 *   POST /v2/<gun>/_trust/lease, DELETE …/lease/<id>   one publisher at a time, FIFO (lease-routes.ts)
 *   DELETE /v2/<gun>/_trust/tuf/                  delete a collection (admin)
 *   GET  /v2/<gun>/_trust/changefeed?after=N&limit=M     audit trail, paged
 *   GET  /v2/<gun>/_trust/log/{entries,proof,consistency}  tag transparency log (log-routes.ts)
 *   GET  /_admin/collections                      collections with each role's expiry (admin)
 *   GET  /_admin/tokens, POST /_admin/tokens, DELETE /_admin/tokens/<name>   tokens (admin)
 *   GET  /_admin/changefeed?after=N&limit=M       server audit trail: token changes (admin)
 *   GET  /_admin/backup                           a consistent backup of the database, streamed (admin)
 * Reads (GET of metadata and the changefeed) need a pull scope only when the operator requires it.
 * Authorisation runs before anything is looked up.
 * Metadata is served from prepared bytes with the header policy of metadata-response.ts; when reads
 * are public, the server answers cache hits before Koa (fast-read.ts) with the same headers.
 */
import { Readable } from 'node:stream';
import Koa from 'koa';
import type { Context } from 'koa';
import Router from '@koa/router';
import { InvalidInputError, InvalidReferenceError, LEASE_HEADER, NotFoundError, parseGun } from '@tagtrust/shared';
import type { Authorizer } from '../auth.js';
import type { Repository } from '../repository.js';
import type { Tokens } from '../tokens.js';
import { readJsonBody } from './body.js';
import { apiDescription, recordRoutes } from './api-description.js';
import { backupLines } from '../backup/backup-file.js';
import { errorMiddleware, notFound } from './errors.js';
import { cacheControl, missingMetadataMessage, sendMetadata } from './metadata-response.js';
import type { PendingChanges } from '../pending/pending-changes.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import { registerPendingRoutes } from './pending-routes.js';
import { registerLogRoutes } from './log-routes.js';
import { registerLeaseRoutes } from './lease-routes.js';
import type { PublishLeases } from '../publish-leases.js';
import type { StorageHealth } from '../storage/durable-level.js';

export interface AppDependencies {
  repository: Repository;
  authorizer: Authorizer;
  tokens: Tokens;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** The staging area for changes awaiting approvals; without it the pending routes are absent. */
  pending?: PendingChanges;
  /**
   * Served at `/metrics` when given (absent when a separate metrics listener serves them); admin-only
   * when `adminOnly` (collection names appear in the expiry series: private when reads are).
   */
  metrics?: { metrics: ServerMetrics; adminOnly: boolean };
  /** Every database entry from one consistent snapshot taken when called (backup/backup-file.ts). */
  backupEntries?: () => AsyncIterable<[string, string]>;
  /** Publish leases per collection; without them the lease routes are absent. */
  leases?: PublishLeases;
  /** Whether the store accepts writes (default: it does). */
  storageHealth?: () => StorageHealth;
}

/** `[<N>.]<role>.json`: top-level roles, `targets/...` delegated roles, and hashed bins `<name_prefix>-<hex>` (shared/succinct-roles.ts). */
const METADATA_FILE = /^(?:([1-9]\d{0,11})\.)?(root|targets|snapshot|timestamp|targets\/[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*|[A-Za-z][A-Za-z0-9_-]{0,31}-[0-9a-f]{1,4})\.json$/;
const KEY_FILE = /^(snapshot|timestamp)\.key$/;

export function createApp(deps: AppDependencies): Koa {
  const { repository, authorizer, tokens } = deps;
  const router = new Router();
  const authorize = (ctx: Context, permission: Parameters<Authorizer['authorize']>[1]) =>
    authorizer.authorize(ctx.get('authorization') || undefined, permission);

  const health = () => {
    const storage = deps.storageHealth?.() ?? { writable: true };
    const renewal = repository.renewalHealth();
    return { status: storage.writable && renewal.failing === 0 ? 'ok' : 'degraded', storage, renewal };
  };
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = health();
  });
  router.get('/readyz', (ctx) => {
    const body = health();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = body.status === 'ok' ? 200 : 503;
    ctx.body = body;
  });

  router.get('/openapi.json', async (ctx) => {
    ctx.type = 'application/json';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await apiDescription();
  });

  if (deps.metrics) {
    const { metrics, adminOnly } = deps.metrics;
    router.get('/metrics', async (ctx) => {
      if (adminOnly) await authorize(ctx, { action: 'admin' });
      ctx.set('Cache-Control', 'no-store');
      ctx.type = metrics.contentType;
      ctx.body = await metrics.render();
    });
  }

  router.get('/v2/*gun/_trust/tuf/:file', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    const file = ctx.params.file ?? '';
    const keyMatch = KEY_FILE.exec(file);
    if (keyMatch) {
      const role = keyMatch[1] as 'snapshot' | 'timestamp';
      await authorize(ctx, { action: 'push', gun });
      const { key } = await repository.onlineKey(gun, role);
      ctx.body = key;
      return;
    }
    await authorize(ctx, { action: 'pull', gun });
    const match = METADATA_FILE.exec(file);
    if (!match) throw new NotFoundError(`no metadata file "${file}" in ${gun}: files are <role>.json or <version>.<role>.json`);
    const version = match[1] === undefined ? undefined : Number(match[1]);
    const role = match[2]!;
    const prepared = await repository.readPrepared(gun, role, version);
    if (!prepared) {
      throw new NotFoundError(missingMetadataMessage(gun, role, version));
    }
    await sendMetadata(ctx, prepared, cacheControl(prepared, version !== undefined, Date.now()));
  });

  router.post('/v2/*gun/_trust/tuf/:file', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    const keyMatch = KEY_FILE.exec(ctx.params.file ?? '');
    const caller = await authorize(ctx, { action: 'admin' });
    if (!keyMatch) throw new NotFoundError(`cannot rotate "${ctx.params.file}": only snapshot.key and timestamp.key are server-held keys`);
    ctx.body = await repository.rotateOnlineKey(gun, keyMatch[1] as 'snapshot' | 'timestamp', caller.name);
  });

  router.post('/v2/*gun/_trust/tuf{/}', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    const caller = await authorize(ctx, { action: 'push', gun });
    const body = await readJsonBody(ctx.req, deps.bodyLimit);
    const published = await repository.publish(gun, body, caller.name);
    // Stored: the publisher's turn is over (publish-leases.ts). The answer says so, so a client behind
    // a proxy that drops the header still releases the lease itself.
    const lease = ctx.get(LEASE_HEADER);
    ctx.body = lease && deps.leases?.release(gun, lease) ? { ...published, leaseReleased: true } : published;
  });

  router.delete('/v2/*gun/_trust/tuf{/}', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    const caller = await authorize(ctx, { action: 'admin' });
    await repository.deleteCollection(gun, caller.name);
    ctx.body = { gun, deleted: true };
  });

  router.get('/v2/*gun/_trust/changefeed', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    await authorize(ctx, { action: 'pull', gun });
    const after = queryInteger(ctx.query.after, 'after', 0, 0);
    const limit = queryInteger(ctx.query.limit, 'limit', 100, 1, 1000);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await repository.changefeed(gun, after, limit);
  });

  router.get('/_admin/collections', async (ctx) => {
    await authorize(ctx, { action: 'admin' });
    ctx.body = { collections: await repository.listCollections() };
  });

  router.get('/_admin/tokens', async (ctx) => {
    await authorize(ctx, { action: 'admin' });
    ctx.body = { tokens: await tokens.list() };
  });

  router.post('/_admin/tokens', async (ctx) => {
    const caller = await authorize(ctx, { action: 'admin' });
    const body = await readJsonBody(ctx.req, 64 * 1024);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await tokens.create(body, caller.name);
    ctx.status = 201;
  });

  router.delete('/_admin/tokens/:name', async (ctx) => {
    const caller = await authorize(ctx, { action: 'admin' });
    await tokens.revoke(ctx.params.name ?? '', caller.name);
    ctx.body = { name: ctx.params.name, revoked: true };
  });

  router.get('/_admin/changefeed', async (ctx) => {
    await authorize(ctx, { action: 'admin' });
    const after = queryInteger(ctx.query.after, 'after', 0, 0);
    const limit = queryInteger(ctx.query.limit, 'limit', 100, 1, 1000);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await tokens.changefeed(after, limit);
  });

  registerLogRoutes(router, { log: repository.tagLog, authorizer });

  const { backupEntries } = deps;
  if (backupEntries) {
    router.get('/_admin/backup', async (ctx) => {
      await authorize(ctx, { action: 'admin' });
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'application/x-ndjson';
      ctx.body = Readable.from(backupLines(backupEntries(), new Date()));
    });
  }

  if (deps.pending) registerPendingRoutes(router, { pending: deps.pending, authorizer, bodyLimit: deps.bodyLimit });
  if (deps.leases) registerLeaseRoutes(router, { leases: deps.leases, authorizer });

  const app = new Koa();
  app.use(errorMiddleware);
  app.use(router.routes());
  app.use(notFound);
  recordRoutes(app, router);
  return app;
}

function collectionName(raw: string | undefined): string {
  const gun = parseGun(raw ?? '');
  if (gun !== raw) throw new InvalidReferenceError(`collection name "${raw}" is not in normalised form: use ${gun}`);
  return gun;
}

function queryInteger(raw: unknown, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw) || n < min || n > max) {
    throw new InvalidInputError(`query parameter ${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

