/**
 * The fetcher tuf-js downloads metadata through. Every request shares the operation's deadline
 * (so a server that drips bytes or never answers ends in a TimeoutError) and reuses connections.
 * tuf-js wraps some errors in text-only RuntimeErrors, so the typed error of the last failed
 * download is kept in `lastError` for the error mapping to recover.
 */
import { BaseFetcher } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { NetworkError, TagTrustError } from '@tagtrust/shared';
import type { Deadline } from '../deadline.js';

export class DeadlineFetcher extends BaseFetcher {
  lastError?: TagTrustError;

  constructor(private readonly deadline: Deadline) {
    super();
  }

  override async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    let response: Response;
    try {
      response = await fetch(url, { signal: this.deadline.signal });
    } catch (err) {
      this.lastError = this.deadline.expired
        ? this.deadline.error()
        : new NetworkError(`cannot download ${url}: ${(err as Error).cause ?? (err as Error).message}; check --server`, { cause: err });
      throw this.lastError;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new DownloadHTTPError(`HTTP ${response.status} for ${url}`, response.status);
    }
    return response.body as ReadableStream<Uint8Array<ArrayBuffer>>;
  }
}
