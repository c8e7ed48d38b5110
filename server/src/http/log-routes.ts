/**
 * Routes of the tag transparency log (tag-log/tag-log.ts). Reads, so they need a pull scope only
 * when the operator requires one. Entries and proofs of a given size never change: cacheable.
 *
 *   GET /v2/<gun>/_trust/log/entries?start=S&end=E        entries [S, E), at most LOG_PAGE_LIMIT
 *   GET /v2/<gun>/_trust/log/proof?index=I&size=N         inclusion proof of entry I in the tree of N
 *   GET /v2/<gun>/_trust/log/consistency?from=M&to=N      consistency proof from size M to N
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidInputError, InvalidReferenceError, parseGun } from '@tagtrust/shared';
import type { Authorizer } from '../auth.js';
import type { TagLog } from '../tag-log/tag-log.js';

export interface LogRouteDependencies {
  log: TagLog;
  authorizer: Authorizer;
}

export function registerLogRoutes(router: Router, deps: LogRouteDependencies): void {
  const { log, authorizer } = deps;
  const open = async (ctx: Context) => {
    const gun = parseGun(ctx.params.gun ?? '');
    if (gun !== ctx.params.gun) throw new InvalidReferenceError(`collection name "${ctx.params.gun}" is not in normalised form: use ${gun}`);
    await authorizer.authorize(ctx.get('authorization') || undefined, { action: 'pull', gun });
    return gun;
  };

  router.get('/v2/*gun/_trust/log/entries', async (ctx) => {
    const gun = await open(ctx);
    const start = integer(ctx.query.start, 'start', 0);
    const end = integer(ctx.query.end, 'end', start + 1);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await log.entries(gun, start, end);
  });

  router.get('/v2/*gun/_trust/log/proof', async (ctx) => {
    const gun = await open(ctx);
    const body = await log.inclusion(gun, integer(ctx.query.index, 'index', 0), integer(ctx.query.size, 'size', 1));
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.body = body;
  });

  router.get('/v2/*gun/_trust/log/consistency', async (ctx) => {
    const gun = await open(ctx);
    const body = await log.consistency(gun, integer(ctx.query.from, 'from', 1), integer(ctx.query.to, 'to', 1));
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.body = body;
  });
}

function integer(raw: unknown, name: string, min: number): number {
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw) || Number(raw) < min) {
    throw new InvalidInputError(`query parameter ${name} must be an integer of at least ${min}`);
  }
  return Number(raw);
}
