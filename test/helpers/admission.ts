/**
 * The admission webhook for tests: a real `startAdmissionWebhook` on 127.0.0.1 (ephemeral port,
 * self-signed certificate), AdmissionReview fixtures as the API server sends them
 * (test/fixtures/admission/), the JSONPatch applied with fast-json-patch (an independent RFC 6902
 * implementation), and offline validation of objects and responses against the Kubernetes schemas
 * (kubernetes-models).
 */
import { request } from 'node:https';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { Status } from '@kubernetes-models/apimachinery/apis/meta/v1/Status';
import { Pod } from 'kubernetes-models/v1/Pod';
import { ReplicationController } from 'kubernetes-models/v1/ReplicationController';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ReplicaSet } from 'kubernetes-models/apps/v1/ReplicaSet';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { startAdmissionWebhook } from '@tagtrust/client';
import type { AdmissionWebhook } from '@tagtrust/client';
import { issueSelfSignedCertificate } from '@tagtrust/server';
import type { TlsMaterial } from '@tagtrust/server';
import { publisherFor, tempHome } from './client.js';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let material: Promise<TlsMaterial> | undefined;
/** One self-signed certificate for 127.0.0.1 per test process. */
export const webhookCertificate = () => (material ??= issueSelfSignedCertificate({ hosts: ['127.0.0.1'] }));

export interface TestWebhook {
  url: string;
  webhook: AdmissionWebhook;
  home: string;
  /** Every JSON log line. */
  logs: Record<string, unknown>[];
  /** POSTs a review (object or raw body) to `path` (default /mutate). */
  post(body: unknown, path?: string): Promise<HttpAnswer>;
  get(path: string): Promise<HttpAnswer>;
}

export interface HttpAnswer {
  status: number;
  text: string;
  json: Json;
}

/** Starts the webhook with `policy` (YAML) written to a file in a fresh home; stopped at teardown. */
export async function startTestWebhook(t: ExecutionContext, policy: string, options: { home?: string; bodyLimit?: number; tlsReloadMs?: number } = {}): Promise<TestWebhook> {
  const tls = await webhookCertificate();
  const home = options.home ?? (await tempHome());
  await Promise.all([writeFile(join(home, 'policy.yaml'), policy), writeFile(join(home, 'cert.pem'), tls.cert), writeFile(join(home, 'key.pem'), tls.key)]);
  const logs: Record<string, unknown>[] = [];
  const webhook = await startAdmissionWebhook({
    policyFile: join(home, 'policy.yaml'),
    tlsCertFile: join(home, 'cert.pem'),
    tlsKeyFile: join(home, 'key.pem'),
    listen: '127.0.0.1:0',
    home,
    log: (entry) => logs.push(entry),
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    ...(options.tlsReloadMs === undefined ? {} : { tlsReloadMs: options.tlsReloadMs }),
  });
  t.teardown(() => webhook.close());
  const call = (method: string, path: string, body?: unknown) => httpsCall(`${webhook.url}${path}`, method, tls.cert, body);
  return { url: webhook.url, webhook, home, logs, post: (body, path = '/mutate') => call('POST', path, body), get: (path) => call('GET', path) };
}

/** One HTTPS request trusting `ca`; a string or Buffer body is sent as is, anything else as JSON. */
export function httpsCall(url: string, method: string, ca: string, body?: unknown): Promise<HttpAnswer> {
  const bytes = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: bytes ? { 'content-type': 'application/json', 'content-length': bytes.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Json = {};
        try {
          json = JSON.parse(text) as Json;
        } catch {
          // not JSON (healthz)
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(bytes);
  });
}

export async function loadFixture(name: string): Promise<Json> {
  return JSON.parse(await readFile(new URL(`../fixtures/admission/${name}`, import.meta.url), 'utf8')) as Json;
}

/**
 * Checks an AdmissionReview answer as the API server would (k8s.io/api/admission/v1 AdmissionResponse:
 * only known fields, uid echoed, patch base64 of a JSONPatch with patchType JSONPatch, status a
 * meta/v1 Status) and returns its response.
 */
export function checkReviewAnswer(t: ExecutionContext, answer: HttpAnswer, uid: string): Json {
  t.is(answer.status, 200, answer.text);
  t.is(answer.json.apiVersion, 'admission.k8s.io/v1');
  t.is(answer.json.kind, 'AdmissionReview');
  const response = answer.json.response as Json;
  t.is(response.uid, uid, 'the response echoes the request uid');
  t.is(typeof response.allowed, 'boolean');
  for (const key of Object.keys(response)) t.true(['uid', 'allowed', 'status', 'patch', 'patchType', 'auditAnnotations', 'warnings'].includes(key), `unknown response field ${key}`);
  if (response.status !== undefined) t.notThrows(() => new Status(response.status).validate(), 'status is a valid meta/v1 Status');
  if (response.patch !== undefined) {
    t.is(response.patchType, 'JSONPatch');
    t.true(Array.isArray(patchOf(response)));
  }
  if (response.warnings !== undefined) t.true((response.warnings as unknown[]).every((w) => typeof w === 'string'));
  return response;
}

export function patchOf(response: Json): Operation[] {
  return response.patch === undefined ? [] : (JSON.parse(Buffer.from(response.patch as string, 'base64').toString('utf8')) as Operation[]);
}

/** The object after the response's JSONPatch (validated operation by operation), checked against its Kubernetes schema. */
export function patched(t: ExecutionContext, object: Json, response: Json): Json {
  const result = fastJsonPatch.applyPatch(structuredClone(object), patchOf(response), true, false).newDocument as Json;
  validateObject(t, result);
  return result;
}

const MODELS: Record<string, { new (data: never): { validate(): void } }> = {
  'v1/Pod': Pod,
  'v1/ReplicationController': ReplicationController,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/ReplicaSet': ReplicaSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
};

/** Validates a workload object against the Kubernetes OpenAPI schema of its kind. */
export function validateObject(t: ExecutionContext, object: Json): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) return void t.fail(`no schema for ${object.apiVersion}/${object.kind}`);
  t.notThrows(() => new Model(object as never).validate(), `${object.kind} ${object.metadata?.name} is valid`);
}

/** Every image of a pod spec, by container list. */
export function imagesOf(podSpec: Json): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const list of ['initContainers', 'containers', 'ephemeralContainers']) {
    if (Array.isArray(podSpec[list])) out[list] = (podSpec[list] as Json[]).map((c) => c.image as string);
  }
  return out;
}

/**
 * Signs `<gun>:<tag> -> digest` on a real server, one collection per repository, all sharing the
 * first collection's root key (as an organisation would, to pin them by prefix).
 * @returns the shared root key ID
 */
export async function signImages(serverUrl: string, images: Record<string, string>): Promise<string> {
  const publisher = publisherFor(serverUrl, await tempHome());
  const byGun = new Map<string, [string, string][]>();
  for (const [reference, digest] of Object.entries(images)) {
    const colon = reference.lastIndexOf(':');
    const gun = reference.slice(0, colon);
    byGun.set(gun, [...(byGun.get(gun) ?? []), [reference, digest]]);
  }
  let rootKeyId: string | undefined;
  for (const [gun, tags] of byGun) {
    const init = await publisher.init(gun, rootKeyId === undefined ? {} : { rootKeyId });
    rootKeyId ??= init.rootKeyId;
    for (const [reference, digest] of tags) await publisher.sign(reference, { digest, size: 1000 });
  }
  return rootKeyId!;
}
