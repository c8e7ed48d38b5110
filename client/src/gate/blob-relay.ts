/**
 * Streams a blob from the upstream to the puller (redirects to blob storage followed by the registry
 * client), without holding it in memory.
 *
 * Rules:
 * - The upstream must answer within `timeoutMs`, and then never stay silent for `timeoutMs` mid-body.
 * - A whole-blob answer (200, no range) is hashed as it streams and its last chunk is held back: when
 *   the bytes do not hash to the requested digest, the puller's connection is cut before the blob
 *   completes, so a puller never receives a complete wrong blob (pullers check digests too).
 * - When the size is known (strict mode: from the signed manifests), an upstream announcing another
 *   length is refused before anything is sent, and a body running past the size is cut.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TimeoutError } from '@tagtrust/shared';
import { header } from '../registry/registry-client.js';
import type { RegistryClient } from '../registry/registry-client.js';
import { GateRefusal } from './oci-errors.js';
import type { Relay } from './verified-manifests.js';

const RELAYED_HEADERS = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'docker-content-digest', 'etag', 'last-modified'];

export interface BlobRelayOptions {
  upstream: RegistryClient;
  timeoutMs: number;
  warn: (line: string) => void;
}

export interface BlobRequest {
  name: string;
  digest: string;
  /** The blob's size, when the signed manifests say it. */
  size: number | undefined;
}

/** @throws the registry client's errors, or a refusal, before anything was sent to the puller */
export async function relayBlob(options: BlobRelayOptions, blob: BlobRequest, req: IncomingMessage, res: ServerResponse, relay: Relay): Promise<void> {
  const { name, digest, size } = blob;
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(new TimeoutError(`upstream sent no headers for blob ${digest} within ${options.timeoutMs} ms`)), options.timeoutMs);
  const range = req.headers.range;
  try {
    const response = await options.upstream.send(name, `${name}/blobs/${digest}`, {
      method: req.method === 'HEAD' ? 'HEAD' : 'GET',
      headers: { 'accept-encoding': 'identity', ...(range ? { range } : {}) },
      signal: controller.signal,
      ...(relay ? { relay } : {}),
    });
    const announced = header(response, 'content-length');
    if (size !== undefined && response.status === 200 && announced !== undefined && Number(announced) !== size) {
      response.body.destroy();
      throw new GateRefusal('DENIED', `the upstream announces ${announced} bytes for blob ${digest}, but the signed manifests say ${size}; refusing it`);
    }
    const headers: Record<string, string> = {};
    for (const name of RELAYED_HEADERS) {
      const value = header(response, name);
      if (value !== undefined) headers[name] = value;
    }
    res.writeHead(response.status, headers);
    const body = response.body;
    const checked = response.status === 200 && !range && req.method !== 'HEAD';
    const hash = checked ? createHash('sha256') : undefined;
    let held: Buffer | undefined;
    let received = 0;
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new TimeoutError(`upstream stalled while sending blob ${digest}`)), options.timeoutMs);
    };
    idle();
    res.once('close', () => body.destroy());
    for await (const chunk of body as AsyncIterable<Buffer>) {
      idle();
      received += chunk.length;
      if (size !== undefined && received > size) throw new Error(`the upstream sent more than the ${size} bytes the signed manifests give the blob`);
      if (!hash) {
        if (!res.write(chunk)) await drainedOrClosed(res);
        continue;
      }
      hash.update(chunk);
      if (held && !res.write(held)) await drainedOrClosed(res);
      held = chunk;
    }
    if (hash && `sha256:${hash.digest('hex')}` !== digest) {
      options.warn(`blob ${name}@${digest}: the upstream served other bytes; connection to the puller cut`);
      res.destroy();
      return;
    }
    res.end(held);
  } catch (err) {
    if (!res.headersSent) throw err;
    options.warn(`blob ${name}@${digest}: relay failed mid-body (${(err as Error).message}); connection to the puller cut`);
    res.destroy();
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when the puller can take more data, or has gone away (then the upstream body is destroyed). */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
