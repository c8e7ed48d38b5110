/**
 * A malicious tagtrust server / registry / network for attack tests: node:http on 127.0.0.1 with an
 * ephemeral port, serving `/v2/<gun>/_trust/tuf/<file>` from a source per collection (usually a
 * RepositorySimulator or a captured real collection), with per-file overrides that replace the
 * answer: other bytes, an HTTP status, a drip feed, a hang, an answer held until the test releases
 * it, or an endless body.
 *
 *     const evil = await MaliciousServer.start();
 *     evil.serve(sim.gun, (file) => sim.fetch(file));
 *     evil.override(sim.gun, 'timestamp.json', { endless: true });
 *     evil.clearOverrides();   // honest again
 *
 * It records every request path and how many body bytes it sent per request, so tests can show that
 * a client stopped reading.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Reply =
  | Buffer
  | string
  | { status: number }
  | { drip: Buffer; intervalMs: number }
  | { hang: true }
  | { after: Promise<unknown>; bytes: Buffer }
  | { endless: true; chunkSize?: number };

export type Source = (file: string) => Buffer | undefined;

export interface RequestRecord {
  path: string;
  gun?: string;
  file?: string;
  bytesSent: number;
  /** True once the response ended or the client went away. */
  done: boolean;
}

const PATH = /^\/v2\/(.+)\/_trust\/tuf\/([^/]+)$/;
const API_PATH = /^\/v2\/(.+)\/_trust\/(log\/[a-z]+)$/;

/** Answers other API paths of a collection (e.g. `log/entries`) with a JSON value; undefined answers 404. */
export type ApiSource = (path: string, query: URLSearchParams) => unknown;

export class MaliciousServer {
  readonly requests: RequestRecord[] = [];
  private readonly sources = new Map<string, Source>();
  private readonly overrides = new Map<string, Reply>();
  private readonly apis = new Map<string, ApiSource>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<MaliciousServer> {
    let instance: MaliciousServer | undefined;
    const server = createServer((req, res) => instance!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    instance = new MaliciousServer(server, `http://127.0.0.1:${port}`);
    return instance;
  }

  /** Serves a collection's files from `source` (undefined answers 404). */
  serve(gun: string, source: Source | Map<string, Buffer>): void {
    this.sources.set(gun, source instanceof Map ? (file) => source.get(file) : source);
  }

  /** Serves a collection's API paths other than metadata files (the tag log) from `source`. */
  serveApi(gun: string, source: ApiSource): void {
    this.apis.set(gun, source);
  }

  /** Replaces the answer for one file of a collection until cleared. */
  override(gun: string, file: string, reply: Reply): void {
    this.overrides.set(`${gun}\u0000${file}`, reply);
  }

  /** Drops overrides (of one collection, or all): the server is honest again. */
  clearOverrides(gun?: string): void {
    for (const key of [...this.overrides.keys()]) if (gun === undefined || key.startsWith(`${gun}\u0000`)) this.overrides.delete(key);
  }

  /** Requests for files of a collection, in order. */
  requested(gun?: string): string[] {
    return this.requests.filter((r) => gun === undefined || r.gun === gun).map((r) => r.file ?? r.path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURI((req.url ?? '/').split('?')[0]!);
    const match = PATH.exec(path);
    const record: RequestRecord = { path, gun: match?.[1], file: match?.[2], bytesSent: 0, done: false };
    this.requests.push(record);
    res.on('close', () => {
      record.done = true;
    });
    const api = match ? undefined : API_PATH.exec(path);
    if (api) {
      const value = this.apis.get(api[1]!)?.(api[2]!, new URL(req.url ?? '/', 'http://localhost').searchParams);
      if (value === undefined) return this.status(res, record, 404);
      const bytes = Buffer.from(JSON.stringify(value));
      record.bytesSent = bytes.length;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length });
      res.end(bytes);
      return;
    }
    if (!match) return this.status(res, record, 404);
    const [, gun, file] = match as unknown as [string, string, string];
    const reply = this.overrides.get(`${gun}\u0000${file}`) ?? this.sources.get(gun)?.(file);
    if (reply === undefined) return this.status(res, record, 404);
    if (Buffer.isBuffer(reply) || typeof reply === 'string') {
      const bytes = Buffer.from(reply);
      record.bytesSent = bytes.length;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.length });
      res.end(bytes);
      return;
    }
    if ('status' in reply) return this.status(res, record, reply.status);
    if ('hang' in reply) return; // never answer; the client's deadline must end it
    if ('after' in reply) {
      // Answer once the test releases it (to interleave concurrent clients).
      void reply.after.then(() => {
        record.bytesSent = reply.bytes.length;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.bytes.length });
        res.end(reply.bytes);
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if ('drip' in reply) return this.drip(res, record, reply.drip, reply.intervalMs);
    this.endless(res, record, Buffer.alloc(reply.chunkSize ?? 64 * 1024, 0x20));
  }

  /** An error answer with the JSON body a tagtrust server sends. */
  private status(res: ServerResponse, record: RequestRecord, status: number): void {
    const body = JSON.stringify({ error: { code: status === 404 ? 'NOT_FOUND' : 'SERVER', message: `HTTP ${status} from the test server` } });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
    record.bytesSent = body.length;
  }

  /** One byte every `intervalMs` until done or the client leaves. */
  private drip(res: ServerResponse, record: RequestRecord, bytes: Buffer, intervalMs: number): void {
    let offset = 0;
    const timer = setInterval(() => {
      if (record.done || res.destroyed) return clearInterval(timer);
      if (offset >= bytes.length) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write(bytes.subarray(offset, offset + 1));
      offset += 1;
      record.bytesSent = offset;
    }, intervalMs);
    res.on('close', () => clearInterval(timer));
  }

  /** Writes `chunk` forever, respecting backpressure, until the client goes away. */
  private endless(res: ServerResponse, record: RequestRecord, chunk: Buffer): void {
    const pump = () => {
      while (!record.done && !res.destroyed) {
        record.bytesSent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  }
}
