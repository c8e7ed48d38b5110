/**
 * The route pattern of a request path, for metric labels: a fixed, small set of patterns, so a
 * label never holds a collection name, a tag, a token name or anything else a client chose.
 */

const ROUTES: [RegExp, string][] = [
  [/^\/v2\/.+\/_trust\/tuf\/[1-9]\d*\..+\.json$/, '/v2/{gun}/_trust/tuf/{version}.{role}.json'],
  [/^\/v2\/.+\/_trust\/tuf\/(?:snapshot|timestamp)\.key$/, '/v2/{gun}/_trust/tuf/{role}.key'],
  [/^\/v2\/.+\/_trust\/tuf\/.+\.json$/, '/v2/{gun}/_trust/tuf/{role}.json'],
  [/^\/v2\/.+\/_trust\/tuf\/?$/, '/v2/{gun}/_trust/tuf/'],
  [/^\/v2\/.+\/_trust\/pending\/?$/, '/v2/{gun}/_trust/pending'],
  [/^\/v2\/.+\/_trust\/pending\/[^/]+$/, '/v2/{gun}/_trust/pending/{id}'],
  [/^\/v2\/.+\/_trust\/changefeed$/, '/v2/{gun}/_trust/changefeed'],
  [/^\/_admin\/tokens\/[^/]+$/, '/_admin/tokens/{name}'],
];
const FIXED = new Set(['/healthz', '/metrics', '/openapi.json', '/_admin/collections', '/_admin/tokens', '/_admin/changefeed', '/_admin/backup']);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

/** The route pattern of `url` (query string ignored), or `other` for paths no route serves. */
export function routeLabel(url: string): string {
  const path = url.split('?', 1)[0]!;
  if (FIXED.has(path)) return path;
  for (const [pattern, label] of ROUTES) if (pattern.test(path)) return label;
  return 'other';
}

/** The request method as a label: one of the standard methods, or `other`. */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : 'other';
}
