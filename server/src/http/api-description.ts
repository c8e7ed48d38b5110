/**
 * The API description: `server/openapi.json` (OpenAPI 3.1, kept in the repository next to the code
 * it describes), served at `GET /openapi.json`; and the route table it must cover
 * (test/openapi.test.ts checks both ways, and validates real answers against its schemas).
 */
import { readFile } from 'node:fs/promises';
import type Koa from 'koa';
import type Router from '@koa/router';

const OPENAPI_FILE = new URL('../../openapi.json', import.meta.url);
let description: Promise<Buffer> | undefined;

/** The OpenAPI document's bytes, read once. */
export function apiDescription(): Promise<Buffer> {
  description ??= readFile(OPENAPI_FILE);
  return description;
}

/** One route: an HTTP method and the router's path pattern (`*name` and `:name` parameters). */
export interface RouteInfo {
  method: string;
  path: string;
}

const routeTables = new WeakMap<Koa, RouteInfo[]>();

/** Records the routes of `router` as the route table of `app`. */
export function recordRoutes(app: Koa, router: Router): void {
  routeTables.set(
    app,
    router.stack.flatMap((layer) => layer.methods.filter((method) => method !== 'HEAD').map((method) => ({ method, path: String(layer.path) }))),
  );
}

/** The routes `app` serves (empty for an app not made by createApp). */
export function routesOf(app: Koa): RouteInfo[] {
  return routeTables.get(app) ?? [];
}
