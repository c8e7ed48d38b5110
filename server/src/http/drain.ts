/**
 * Graceful shutdown (SIGTERM, SIGINT). Once the caller has stopped the listener taking new
 * connections (`server.close()`), `drain` closes idle keep-alive connections, answers a request that still arrives on a kept-alive connection with
 * 503 and `Connection: close`, and lets every request in flight finish: a publish in progress is
 * committed (synced) and acknowledged. It resolves once none is left, or when the timeout passes,
 * with the requests still in flight then.
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { ApiErrorBody } from '@tagtrust/shared';
import { requestIdOf } from '../logging/request-context.js';
import { pathOf } from '../logging/request-log.js';

export interface InFlightRequest {
  method: string;
  path: string;
  requestId: string;
  /** When it arrived (Date.now()). */
  since: number;
}

export class RequestDrain {
  private readonly inFlight = new Map<ServerResponse, InFlightRequest>();
  private draining = false;
  private onIdle: (() => void) | undefined;

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Tracks the requests `listener` handles; once draining, refuses new ones. */
  track(listener: RequestListener): RequestListener {
    return (req: IncomingMessage, res: ServerResponse) => {
      if (this.draining) {
        refuse(req, res);
        return;
      }
      this.inFlight.set(res, { method: req.method ?? '', path: pathOf(req.url), requestId: requestIdOf(req), since: Date.now() });
      res.once('close', () => {
        this.inFlight.delete(res);
        if (this.inFlight.size === 0) this.onIdle?.();
      });
      listener(req, res);
    };
  }

  /**
   * Stops taking requests and waits for the ones in flight. Call after `server.close()`.
   * @returns the requests still in flight when `timeoutMs` passed (empty: all finished)
   */
  async drain(server: Server, timeoutMs: number): Promise<InFlightRequest[]> {
    this.draining = true;
    server.closeIdleConnections();
    // Their connections close once they are answered.
    for (const res of this.inFlight.keys()) if (!res.headersSent) res.setHeader('connection', 'close');
    if (this.inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return [...this.inFlight.values()];
  }
}

function refuse(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({ error: { code: 'SERVER', message: 'the server is shutting down: retry (another replica, or this one once restarted, will answer)', requestId: requestIdOf(req) } } satisfies ApiErrorBody);
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'retry-after': '1', connection: 'close' });
  res.end(body);
  // Its body, if any, is not read.
  req.resume();
}
