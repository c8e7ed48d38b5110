/**
 * The HTTP API. One route table; handlers parse, call the repository, set body and cache headers.
 *
 *   GET  /healthz
 *   GET  /v2/<gun>/_trust/tuf/<role>.json         latest version (revalidate: no-cache + ETag)
 *   GET  /v2/<gun>/_trust/tuf/<N>.<role>.json     exact version (immutable)
 *   GET  /v2/<gun>/_trust/tuf/<snapshot|timestamp>.key   online public key (creating it needs push)
 *   POST /v2/<gun>/_trust/tuf/                    publish signed root, targets and delegated roles (push)
 *   /v2/<gun>/_trust/pending[/<id>]               staging area for approvals (pending-routes.ts)
 */
import { createHash } from 'node:crypto';
import Koa from 'koa';
import type { Context } from 'koa';
import Router from '@koa/router';
import { InvalidReferenceError, NotFoundError, parseGun } from '@tagtrust/shared';
import type { Authorizer } from '../auth.js';
import type { Repository } from '../repository.js';
import { readJsonBody } from './body.js';
import { errorMiddleware, notFound } from './errors.js';
import type { PendingChanges } from '../pending/pending-changes.js';
import { registerPendingRoutes } from './pending-routes.js';

export interface AppDependencies {
  repository: Repository;
  authorizer: Authorizer;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** The staging area for changes awaiting approvals; without it the pending routes are absent. */
  pending?: PendingChanges;
}

const METADATA_FILE = /^(?:([1-9]\d{0,11})\.)?(root|targets|snapshot|timestamp|targets\/[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*)\.json$/;
const KEY_FILE = /^(snapshot|timestamp)\.key$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

export function createApp(deps: AppDependencies): Koa {
  const { repository, authorizer } = deps;
  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/v2/*gun/_trust/tuf/:file', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    const file = ctx.params.file ?? '';
    const keyMatch = KEY_FILE.exec(file);
    if (keyMatch) {
      const role = keyMatch[1] as 'snapshot' | 'timestamp';
      authorizer.authorize(ctx.get('authorization') || undefined, { action: 'push', gun });
      const { key } = await repository.onlineKey(gun, role);
      ctx.body = key;
      return;
    }
    const match = METADATA_FILE.exec(file);
    if (!match) throw new NotFoundError(`no metadata file "${file}" in ${gun}: files are <role>.json or <version>.<role>.json`);
    const version = match[1] === undefined ? undefined : Number(match[1]);
    const role = match[2]!;
    const stored = await repository.readFile(gun, role, version);
    if (!stored) {
      throw new NotFoundError(`${gun} has no ${version === undefined ? '' : `version ${version} of `}${role} metadata`);
    }
    sendMetadata(ctx, stored.text, version === undefined ? 'no-cache' : IMMUTABLE);
  });

  router.post('/v2/*gun/_trust/tuf{/}', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    authorizer.authorize(ctx.get('authorization') || undefined, { action: 'push', gun });
    const body = await readJsonBody(ctx.req, deps.bodyLimit);
    ctx.body = await repository.publish(gun, body);
  });

  if (deps.pending) registerPendingRoutes(router, { pending: deps.pending, authorizer, bodyLimit: deps.bodyLimit });

  const app = new Koa();
  app.use(errorMiddleware);
  app.use(router.routes());
  app.use(notFound);
  return app;
}

function collectionName(raw: string | undefined): string {
  const gun = parseGun(raw ?? '');
  if (gun !== raw) throw new InvalidReferenceError(`collection name "${raw}" is not in normalised form: use ${gun}`);
  return gun;
}

function sendMetadata(ctx: Context, text: string, cacheControl: string): void {
  const etag = `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"`;
  ctx.set('Cache-Control', cacheControl);
  ctx.set('ETag', etag);
  if (ctx.get('if-none-match') === etag) {
    ctx.status = 304;
    return;
  }
  ctx.type = 'application/json';
  ctx.body = text;
}
