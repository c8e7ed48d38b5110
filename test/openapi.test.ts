import test from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ADMIN_TOKEN, startTestServer } from './helpers/server.js';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { api } from './helpers/admin.js';

const GUN = 'registry.example.com/team/app';
const OPENAPI_FILE = fileURLToPath(new URL('../server/openapi.json', import.meta.url));

interface Recorded {
  method: string;
  path: string;
  status: number;
  contentType: string;
  body: Buffer;
}

/** A proxy in front of the server recording every real answer (decoded), so whatever the clients do is checked. */
async function recordingProxy(upstream: string): Promise<{ url: string; answers: Recorded[]; close(): Promise<void> }> {
  const answers: Recorded[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length', 'accept-encoding'].includes(k))) as Record<string, string>;
    const response = await fetch(`${upstream}${req.url}`, { method: req.method, headers, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined });
    const body = Buffer.from(await response.arrayBuffer());
    const contentType = response.headers.get('content-type') ?? '';
    answers.push({ method: req.method!, path: req.url!, status: response.status, contentType, body });
    const etag = response.headers.get('etag');
    res.writeHead(response.status, { 'content-type': contentType, ...(etag ? { etag } : {}) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, answers, close: () => new Promise((done) => server.close(() => done())) };
}

type OpenApi = {
  openapi: string;
  components: { schemas: Record<string, { example?: unknown }> };
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema: unknown; example?: unknown }> }> }>>;
};

/** `/v2/*gun/_trust/tuf/:file` and `/v2/*gun/_trust/tuf{/}` as OpenAPI paths. */
const openApiPath = (routerPath: string) => routerPath.replace(/\{\/\}$/, '/').replace(/[*:](\w+)/g, '{$1}');

/** A regexp matching request paths of an OpenAPI path template (gun and file may contain `/`). */
const templateRegExp = (template: string) =>
  new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{(gun|file)\}/g, '(.+)').replace(/\{\w+\}/g, '([^/]+)')}$`);

test('server/openapi.json is served, describes every route of the server and nothing else, and real answers validate against it', async (t) => {
  const doc = JSON.parse(await readFile(OPENAPI_FILE, 'utf8')) as OpenApi;
  t.is(doc.openapi, '3.1.0');
  const server = await startTestServer();
  t.teardown(() => server.close());

  // Every route the server has is described, and every described operation is a route.
  const routes = server.server.routes.map((r) => `${r.method} ${openApiPath(r.path)}`).sort();
  const documented = Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).filter((k) => ['get', 'post', 'put', 'delete', 'patch'].includes(k)).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
  t.deepEqual(documented, routes);

  // Schemas compile with a real JSON Schema 2020-12 validator (OpenAPI 3.1's dialect), and every documented example validates.
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  const relink = <T>(value: T): T => JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', '"urn:tagtrust:schemas#/$defs/'));
  ajv.addSchema({ $id: 'urn:tagtrust:schemas', $defs: relink(doc.components.schemas) });
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    if (schema.example !== undefined) t.true(ajv.validate({ $ref: `urn:tagtrust:schemas#/$defs/${name}` }, schema.example), `example of ${name}: ${ajv.errorsText()}`);
  }

  const proxy = await recordingProxy(server.url);
  t.teardown(() => proxy.close());
  const p = proxy.url;
  for (const path of ['/healthz', '/readyz', '/openapi.json', '/metrics']) t.is((await fetch(`${p}${path}`)).status, 200);
  t.deepEqual(JSON.parse(await (await fetch(`${server.url}/openapi.json`)).text()), doc, 'the served document is the one in the repository');

  // Publishing, delegations and approvals, pulling: the clients' own traffic.
  const owner = publisherFor(p, await tempHome());
  await owner.init(GUN);
  await owner.sign(`${GUN}:v1`, { digest: digestOf('a'), size: 10 });
  const managers = [publisherFor(p, await tempHome()), publisherFor(p, await tempHome())];
  const keys = await Promise.all(managers.map((m, i) => m.generateKey(`release${i}`)));
  await owner.addDelegation(GUN, 'targets/release', { keys: keys.map((k) => k.publicKey), threshold: 2, paths: ['v*'] });
  await managers[0]!.sign(`${GUN}:v2`, { digest: digestOf('b'), size: 10 }, { role: 'targets/release' });
  t.is((await managers[1]!.listPending(GUN)).length, 1);
  t.true((await managers[1]!.approve(GUN, 'targets/release')).published);
  t.is((await pullerFor(p, await tempHome()).resolve(`${GUN}:v2`)).digest, digestOf('b'));
  await managers[0]!.sign(`${GUN}:v3`, { digest: digestOf('c'), size: 10 }, { role: 'targets/release' });
  const [staged] = (await api(p, 'GET', `/v2/${GUN}/_trust/pending`, ADMIN_TOKEN)).body as { id: string }[];
  t.is((await api(p, 'DELETE', `/v2/${GUN}/_trust/pending/${staged!.id}`, ADMIN_TOKEN)).status, 200);
  t.is((await api(p, 'GET', `/v2/${GUN}/_trust/log/entries?start=0&end=2`, undefined)).status, 200);
  t.is((await api(p, 'GET', `/v2/${GUN}/_trust/log/proof?index=0&size=2`, undefined)).status, 200);
  t.is((await api(p, 'GET', `/v2/${GUN}/_trust/log/consistency?from=1&to=2`, undefined)).status, 200);
  t.is((await api(p, 'GET', `/v2/${GUN}/_trust/log/entries?start=x`, undefined)).status, 400);
  const lease = await api(p, 'POST', `/v2/${GUN}/_trust/lease`, ADMIN_TOKEN);
  t.is(lease.status, 200);
  t.is((await api(p, 'DELETE', `/v2/${GUN}/_trust/lease/${(lease.body as { lease: string }).lease}`, ADMIN_TOKEN)).status, 200);

  // The rest of the API, raw, with answers of each documented kind.
  const stale = await api(p, 'GET', `/v2/${GUN}/_trust/tuf/2.targets.json`, undefined);
  t.is((await api(p, 'POST', `/v2/${GUN}/_trust/tuf/`, ADMIN_TOKEN, { targets: stale.body })).status, 409);
  t.is((await api(p, 'POST', `/v2/${GUN}/_trust/tuf/`, undefined, {})).status, 401);
  t.is((await api(p, 'GET', `/v2/${GUN}/_trust/tuf/99.root.json`, undefined)).status, 404);
  t.is((await api(p, 'GET', `/v2/${GUN}/_trust/changefeed?limit=2`, undefined)).status, 200);
  const created = await api(p, 'POST', '/_admin/tokens', ADMIN_TOKEN, { name: 'ci', scopes: ['push:registry.example.com/**'], expires: '2099-01-01T00:00:00Z' });
  t.is(created.status, 201);
  t.is((await api(p, 'POST', '/_admin/tokens', ADMIN_TOKEN, { name: 'x', scopes: ['admin'], expiry: 'soon' })).status, 400);
  t.is((await api(p, 'GET', '/_admin/tokens', created.body.token)).status, 403);
  t.is((await api(p, 'GET', '/_admin/tokens', ADMIN_TOKEN)).status, 200);
  t.is((await api(p, 'GET', '/_admin/changefeed', ADMIN_TOKEN)).status, 200);
  t.is((await api(p, 'DELETE', '/_admin/tokens/ci', ADMIN_TOKEN)).status, 200);
  t.is((await api(p, 'GET', '/_admin/collections', ADMIN_TOKEN)).status, 200);
  t.is((await api(p, 'POST', `/v2/${GUN}/_trust/tuf/timestamp.key`, ADMIN_TOKEN)).status, 200);
  t.is((await fetch(`${p}/_admin/backup`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 200);
  t.is((await api(p, 'DELETE', `/v2/${GUN}/_trust/tuf/`, ADMIN_TOKEN)).status, 200);

  // Every answer is documented (path, method, status, content type) and its JSON body validates.
  const exercised = new Set<string>();
  const templates = Object.keys(doc.paths).map((template) => ({ template, pattern: templateRegExp(template) }));
  for (const answer of proxy.answers) {
    const path = answer.path.split('?', 1)[0]!;
    const template = templates.find((c) => c.pattern.test(path))?.template;
    const what = `${answer.method} ${answer.path} -> ${answer.status}`;
    if (!t.truthy(template, `${what}: no documented path`)) continue;
    const operation = doc.paths[template!]![answer.method.toLowerCase()];
    const response = operation?.responses?.[String(answer.status)];
    if (!t.truthy(response, `${what}: status not documented`)) continue;
    if (answer.status === 304) continue;
    const mediaType = answer.contentType.split(';', 1)[0]!;
    const content = response!.content?.[mediaType];
    if (!t.truthy(content, `${what}: content type ${mediaType} not documented`)) continue;
    if (answer.status < 300) exercised.add(`${answer.method} ${template}`);
    if (mediaType !== 'application/json') continue;
    const valid = ajv.validate(relink(content!.schema) as object, JSON.parse(answer.body.toString('utf8')));
    t.true(valid, `${what}: ${ajv.errorsText()}`);
    if (content!.example !== undefined) t.true(ajv.validate(relink(content!.schema) as object, content!.example), `example of ${what}`);
  }
  t.deepEqual([...exercised].sort(), documented, 'every documented operation answered for real');
});
