/**
 * A hostile upstream registry for gate tests: node:http on 127.0.0.1 with an ephemeral port, answering
 * `GET /v2/` and, per path (e.g. `/v2/evil/app/manifests/sha256:...`), the reply the test sets: the
 * right bytes, other bytes, a redirect, an endless body, or headers and then silence. It records how many body
 * bytes each request got before the gate went away.
 */
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type HostileReply = { bytes: Buffer; contentType?: string } | { redirect: string } | { endless: true } | { silent: true };

export interface HostileRecord {
  path: string;
  bytesSent: number;
  closed: boolean;
  /** How long the gate kept the connection (ms), once closed. */
  openMs?: number;
  authorization?: string;
}

export class HostileRegistry {
  readonly replies = new Map<string, HostileReply>();
  readonly requests: HostileRecord[] = [];

  private constructor(
    private readonly server: Server,
    readonly host: string,
  ) {}

  get url(): string {
    return `http://${this.host}`;
  }

  static async start(): Promise<HostileRegistry> {
    let instance: HostileRegistry | undefined;
    const server = createServer((req, res) => instance!.handle(req.url ?? '/', res, req.headers.authorization));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    instance = new HostileRegistry(server, `127.0.0.1:${(server.address() as AddressInfo).port}`);
    return instance;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(path: string, res: ServerResponse, authorization: string | undefined): void {
    const record: HostileRecord = { path, bytesSent: 0, closed: false, ...(authorization ? { authorization } : {}) };
    this.requests.push(record);
    const openedAt = Date.now();
    res.on('close', () => {
      record.closed = true;
      record.openMs = Date.now() - openedAt;
    });
    if (path === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    const reply = this.replies.get(path);
    if (!reply) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
    if ('redirect' in reply) return void res.writeHead(307, { location: reply.redirect }).end();
    if ('bytes' in reply) {
      record.bytesSent = reply.bytes.length;
      res.writeHead(200, { 'content-type': reply.contentType ?? 'application/vnd.oci.image.manifest.v1+json', 'content-length': reply.bytes.length });
      return void res.end(reply.bytes);
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    if ('silent' in reply) return void res.flushHeaders();
    const chunk = Buffer.alloc(64 * 1024, 0x7b);
    const pump = () => {
      while (!record.closed && !res.destroyed) {
        record.bytesSent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
    };
    pump();
  }
}
