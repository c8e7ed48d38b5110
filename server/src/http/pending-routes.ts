/**
 * Routes of the staging area (shared/pending-api.ts). All need a push token for the collection.
 *
 *   POST /v2/<gun>/_trust/pending        propose the next version of a targets role
 *   GET  /v2/<gun>/_trust/pending        list pending changes with their signature counts
 *   POST /v2/<gun>/_trust/pending/<id>   add signatures; publishes when the threshold is met
 *   DELETE /v2/<gun>/_trust/pending/<id> withdraw a change (its proposer, or a token with admin scope)
 *
 * An approval body is small (pending/approval.ts): it is read up to APPROVAL_BODY_LIMIT bytes only.
 */
import type Router from '@koa/router';
import { ForbiddenError, InvalidReferenceError, NotFoundError, parseGun } from '@tagtrust/shared';
import type { Authorizer } from '../auth.js';
import { APPROVAL_BODY_LIMIT } from '../pending/approval.js';
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
    const id = pendingId(ctx.params.id);
    ctx.body = await pending.approve(gun, id, await readJsonBody(ctx.req, Math.min(APPROVAL_BODY_LIMIT, deps.bodyLimit)), caller.name);
  });

  router.delete('/v2/*gun/_trust/pending/:id', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    const header = ctx.get('authorization') || undefined;
    const caller = await authorizer.authorize(header, { action: 'push', gun });
    const admin = await authorizer.authorize(header, { action: 'admin' }).then(
      () => true,
      (err: unknown) => {
        if (err instanceof ForbiddenError) return false;
        throw err;
      },
    );
    ctx.body = await pending.withdraw(gun, pendingId(ctx.params.id), { name: caller.name, admin });
  });
}

function pendingId(raw: string | undefined): string {
  const id = raw ?? '';
  if (!PENDING_ID.test(id)) throw new NotFoundError(`"${id.slice(0, 40)}" is not a pending change id (16 hex characters)`);
  return id;
}

function collectionName(raw: string | undefined): string {
  const gun = parseGun(raw ?? '');
  if (gun !== raw) throw new InvalidReferenceError(`collection name "${raw}" is not in normalised form: use ${gun}`);
  return gun;
}
