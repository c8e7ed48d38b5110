/**
 * Routes of the staging area (shared/pending-api.ts). All need a push token for the collection.
 *
 *   POST /v2/<gun>/_trust/pending        propose the next version of a targets role
 *   GET  /v2/<gun>/_trust/pending        list pending changes with their signature counts
 *   POST /v2/<gun>/_trust/pending/<id>   add signatures; publishes when the threshold is met
 */
import type Router from '@koa/router';
import { InvalidReferenceError, NotFoundError, parseGun } from '@tagtrust/shared';
import type { Authorizer } from '../auth.js';
import type { PendingChanges } from '../pending/pending-changes.js';
import { readJsonBody } from './body.js';

export interface PendingRouteDependencies {
  pending: PendingChanges;
  authorizer: Authorizer;
  bodyLimit: number;
}

const PENDING_ID = /^[0-9a-f]{16}$/;

export function registerPendingRoutes(router: Router, deps: PendingRouteDependencies): void {
  const { pending, authorizer } = deps;

  router.post('/v2/*gun/_trust/pending', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    const caller = await authorizer.authorize(ctx.get('authorization') || undefined, { action: 'push', gun });
    ctx.body = await pending.propose(gun, await readJsonBody(ctx.req, deps.bodyLimit), caller.name);
  });

  router.get('/v2/*gun/_trust/pending', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    await authorizer.authorize(ctx.get('authorization') || undefined, { action: 'push', gun });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await pending.list(gun);
  });

  router.post('/v2/*gun/_trust/pending/:id', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    const caller = await authorizer.authorize(ctx.get('authorization') || undefined, { action: 'push', gun });
    const id = ctx.params.id ?? '';
    if (!PENDING_ID.test(id)) throw new NotFoundError(`"${id}" is not a pending change id (16 hex characters)`);
    ctx.body = await pending.approve(gun, id, await readJsonBody(ctx.req, deps.bodyLimit), caller.name);
  });
}

function collectionName(raw: string | undefined): string {
  const gun = parseGun(raw ?? '');
  if (gun !== raw) throw new InvalidReferenceError(`collection name "${raw}" is not in normalised form: use ${gun}`);
  return gun;
}
