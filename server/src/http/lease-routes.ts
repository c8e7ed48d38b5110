/**
 * Routes of the publish leases (publish-leases.ts). Both need a push token for the collection.
 *
 *   POST   /v2/<gun>/_trust/lease        wait for the collection's lease: {lease, ttlMs, waitedBehind}
 *   DELETE /v2/<gun>/_trust/lease/<id>   release it: {released: true|false}
 * A successful publish with the header `x-tagtrust-lease: <id>` releases the lease too (app.ts).
 */
import type Router from '@koa/router';
import { InvalidReferenceError, NotFoundError, parseGun } from '@tagtrust/shared';
import type { Authorizer } from '../auth.js';
import type { PublishLeases } from '../publish-leases.js';

const LEASE_ID = /^[0-9a-f]{32}$/;

export function registerLeaseRoutes(router: Router, deps: { leases: PublishLeases; authorizer: Authorizer }): void {
  const { leases, authorizer } = deps;

  router.post('/v2/*gun/_trust/lease', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    await authorizer.authorize(ctx.get('authorization') || undefined, { action: 'push', gun });
    // The response closes early only when the client went away: it leaves the queue then.
    const gone = new AbortController();
    const leave = () => gone.abort(new Error('the client went away'));
    ctx.res.once('close', leave);
    try {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await leases.acquire(gun, gone.signal);
    } finally {
      ctx.res.off('close', leave);
    }
  });

  router.delete('/v2/*gun/_trust/lease/:id', async (ctx) => {
    const gun = collectionName(ctx.params.gun);
    await authorizer.authorize(ctx.get('authorization') || undefined, { action: 'push', gun });
    const id = ctx.params.id ?? '';
    if (!LEASE_ID.test(id)) throw new NotFoundError(`"${id}" is not a lease id (32 hex characters)`);
    ctx.body = { released: leases.release(gun, id) };
  });
}

function collectionName(raw: string | undefined): string {
  const gun = parseGun(raw ?? '');
  if (gun !== raw) throw new InvalidReferenceError(`collection name "${raw}" is not in normalised form: use ${gun}`);
  return gun;
}
