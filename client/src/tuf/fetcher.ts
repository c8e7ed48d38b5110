/**
 * The fetcher tuf-js downloads metadata through.
 * - Every request shares the operation's deadline, so a server that drips bytes or never answers
 *   ends in a TimeoutError.
 * - A body is read chunk by chunk up to min(the length tuf-js passes (the one the parent role lists),
 *   the client's own cap for the role, download-limits.ts); past it the download is cancelled and the
 *   connection dropped, so an endless body is never read whole (TooLargeError). A file listed as
 *   longer than the client's cap is refused without being requested.
 * - Each complete file goes through `inspect` (the MetadataGuard) before tuf-js parses it.
 * - Requests go through http/transport.ts: kept-alive connections shared by the process, gzip,
 *   and the CA of `transport`; downloads are read into memory (no temporary file per file).
 * - With `tagtrustServer` set, an error answer from it that no tagtrust server would give (an HTML
 *   404, a redirect, another service's JSON) is a ServerError saying so (http/foreign-server.ts),
 *   except the 403/404 that ends the root chain, which tuf-js needs as is.
 * - tuf-js wraps some errors in text-only RuntimeErrors, so every failure is also recorded in the
 *   FailureLog, from which the error mapping recovers the typed error.
 */
import { Readable } from 'node:stream';
import { BaseFetcher } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { NetworkError, TagTrustError, TooLargeError } from '@tagtrust/shared';
import type { Deadline } from '../deadline.js';
import type { HttpResponse, TransportOptions } from '../http/transport.js';
import { httpRequest } from '../http/transport.js';
import { describeConnectionError } from '../http/network-errors.js';
import { foreignAnswer } from '../http/foreign-server.js';
import type { FailureLog } from './error-map.js';
import { roleCap } from './download-limits.js';
import type { MetadataFile } from './metadata-guard.js';
import { parseMetadataFile } from './metadata-guard.js';

export interface FetchHooks {
  /** Checks a downloaded metadata file; throws a TagTrustError to refuse it. */
  inspect?: (file: MetadataFile, bytes: Buffer) => void;
  /** Only URLs under this base are metadata to inspect (targets downloaded through the same fetcher are not). */
  metadataBaseUrl?: string;
  failures?: FailureLog;
  /** Collection name for messages. */
  gun?: string;
  /** Bearer token sent with every download (servers that require pull scopes). */
  token?: string;
  /** Connection settings (CA) for downloads. */
  transport?: TransportOptions;
  /**
   * The base URL of the tagtrust server the files come from, whose error answers are checked
   * (unset for mirrors, static copies that answer whatever their web server does, and generic TUF repositories).
   */
  tagtrustServer?: string;
}

export class DeadlineFetcher extends BaseFetcher {
  constructor(
    private readonly deadline: Deadline,
    private readonly hooks: FetchHooks = {},
  ) {
    super();
  }

  override async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    let response: HttpResponse;
    try {
      const headers: Record<string, string> = this.hooks.token ? { authorization: `Bearer ${this.hooks.token}` } : {};
      response = await httpRequest(url, { signal: this.deadline.signal, headers }, this.hooks.transport);
    } catch (err) {
      throw this.fail(
        url,
        this.deadline.expired
          ? this.deadline.error(`waiting for ${fileOf(url)}`)
          : new NetworkError(`cannot download ${url}: ${describeConnectionError(url, err)}`, { cause: err }),
      );
    }
    if (response.status < 200 || response.status > 299) {
      const foreign = await this.foreignAnswer(url, response);
      if (this.deadline.expired) throw this.fail(url, this.deadline.error(`waiting for ${fileOf(url)}`));
      if (foreign) throw this.fail(url, foreign);
      throw this.fail(url, new DownloadHTTPError(`HTTP ${response.status} for ${url}`, response.status));
    }
    return Readable.toWeb(response.body) as ReadableStream<Uint8Array<ArrayBuffer>>;
  }

  /**
   * Downloads at most min(`listedLength`, the client's cap for the file's role) bytes of `url`, then
   * inspects them. @throws TooLargeError when the file is listed as, or turns out, longer.
   */
  override async downloadBytes(url: string, listedLength: number): Promise<Buffer> {
    const file = parseMetadataFile(url);
    const what = `${file ? `${file.role}${file.version === undefined ? '' : ` v${file.version}`}` : url} of ${this.hooks.gun ?? 'the collection'}`;
    const cap = roleCap(file);
    if (listedLength > cap) {
      throw this.fail(
        url,
        new TooLargeError(
          `${what} is listed as ${listedLength} bytes, more than the ${cap} bytes this client allows for it; refusing to download it. ` +
            'The server is misbehaving or malicious (endless data attack): do not pull from it; tell the operator',
        ),
      );
    }
    const body = await this.fetch(url);
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let received = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received += value.byteLength;
        if (received > listedLength) {
          throw new TooLargeError(
            `${what} is larger than the ${listedLength} bytes allowed for it; stopped reading. The server is misbehaving or malicious (endless data attack): ` +
              'do not pull from it; tell the operator',
          );
        }
        chunks.push(value);
      }
    } catch (err) {
      void reader.cancel().catch(() => {});
      if (this.deadline.expired) throw this.fail(url, this.deadline.error(`downloading ${fileOf(url)}`));
      if (err instanceof TagTrustError) throw this.fail(url, err);
      throw this.fail(
        url,
        new NetworkError(`the connection broke while downloading ${url}: ${(err as Error).message}; retry`, { cause: err }),
      );
    }
    const bytes = Buffer.concat(chunks);
    const isMetadata = this.hooks.metadataBaseUrl === undefined || url.startsWith(`${this.hooks.metadataBaseUrl}/`);
    if (file && isMetadata && this.hooks.inspect) {
      try {
        this.hooks.inspect(file, bytes);
      } catch (err) {
        throw this.fail(url, err);
      }
    }
    this.hooks.failures?.clear();
    return bytes;
  }

  /** The error for an error answer no tagtrust server would give, when `url` is on the tagtrust server; consumes the body. */
  private async foreignAnswer(url: string, response: HttpResponse): Promise<TagTrustError | undefined> {
    const server = this.hooks.tagtrustServer;
    // tuf-js reads a 403/404 for the next root version (`N.root.json`) as the end of the root chain.
    const endOfRootChain = /\/\d+\.root\.json$/.test(url) && (response.status === 403 || response.status === 404);
    if (server === undefined || !url.startsWith(`${server}/`) || endOfRootChain) {
      response.body.resume();
      return undefined;
    }
    return foreignAnswer(response, server, url.slice(server.length));
  }

  private fail(url: string, err: unknown): unknown {
    // Recorded so that the error mapping can recover it from tuf-js's text-only wrappers.
    this.hooks.failures?.record({ role: parseMetadataFile(url)?.role ?? url, error: err });
    return err;
  }
}

function fileOf(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}
