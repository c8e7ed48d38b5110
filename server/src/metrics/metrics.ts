/**
 * The server's Prometheus metrics (prom-client, in a registry of its own):
 * - `tagtrust_http_request_duration_seconds{method,route,status}`: every request, by route pattern
 *   (route-label.ts: never a raw path) and status;
 * - `tagtrust_publish_duration_seconds{outcome}`: publishes (published, conflict, refused, error);
 * - `tagtrust_renewal_runs_total`, `tagtrust_renewal_failures_total`,
 *   `tagtrust_renewal_last_success_timestamp_seconds`, `tagtrust_renewed_collections_total`;
 * - `tagtrust_role_expiry_seconds{role}`: the smallest seconds-to-expiry of each top-level role over
 *   all collections (negative once expired), `tagtrust_collection_expiry_seconds{role,gun}` for the
 *   NEAREST_PER_ROLE collections nearest to expiry, and `tagtrust_collections_tracked{role}`;
 * Expiry gauges are computed at scrape time from the in-memory ExpiryIndex: bounded label sets, no I/O.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TagTrustError, VersionConflictError } from '@tagtrust/shared';
import { EXPIRY_ROLES } from './expiry-index.js';
import type { ExpiryIndex } from './expiry-index.js';
import { methodLabel, routeLabel } from './route-label.js';

/** How many collections nearest to expiry are listed per role. */
export const NEAREST_PER_ROLE = 10;

export type PublishOutcome = 'published' | 'conflict' | 'refused' | 'error';

/** The outcome label of a publish that threw `err` (undefined: it succeeded). */
export function publishOutcome(err?: unknown): PublishOutcome {
  if (err === undefined) return 'published';
  if (err instanceof VersionConflictError) return 'conflict';
  return err instanceof TagTrustError ? 'refused' : 'error';
}

export interface ServerMetricsOptions {
  expiries: ExpiryIndex;
  now: () => Date;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;
  private readonly requests: Histogram<'method' | 'route' | 'status'>;
  private readonly publishes: Histogram<'outcome'>;
  private readonly renewalRuns: Counter;
  private readonly renewalFailures: Counter;
  private readonly renewalLastSuccess: Gauge;
  private readonly renewedCollections: Counter;

  constructor(options: ServerMetricsOptions) {
    const registers = [this.registry];
    this.requests = new Histogram({
      name: 'tagtrust_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.publishes = new Histogram({
      name: 'tagtrust_publish_duration_seconds',
      help: 'Publishes (verify, sign, commit) by outcome: published, conflict (409), refused (4xx), error (5xx)',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.renewalRuns = new Counter({ name: 'tagtrust_renewal_runs_total', help: 'Background renewal runs started', registers });
    this.renewalFailures = new Counter({ name: 'tagtrust_renewal_failures_total', help: 'Background renewal runs that failed', registers });
    this.renewalLastSuccess = new Gauge({
      name: 'tagtrust_renewal_last_success_timestamp_seconds',
      help: 'When the last background renewal run succeeded (Unix time; 0: none yet)',
      registers,
    });
    this.renewedCollections = new Counter({ name: 'tagtrust_renewed_collections_total', help: 'Collections whose snapshot/timestamp a renewal run re-signed', registers });
    const { expiries, now } = options;
    new Gauge({
      name: 'tagtrust_role_expiry_seconds',
      help: 'Smallest seconds until expiry of each top-level role over all collections (negative: expired)',
      labelNames: ['role'],
      registers,
      collect() {
        this.reset();
        const at = now().getTime();
        for (const role of EXPIRY_ROLES) {
          const [soonest] = expiries.nearest(role, 1);
          if (soonest) this.set({ role }, (soonest.expiresMs - at) / 1000);
        }
      },
    });
    new Gauge({
      name: 'tagtrust_collection_expiry_seconds',
      help: `Seconds until expiry of the ${NEAREST_PER_ROLE} collections nearest to expiry, per top-level role`,
      labelNames: ['role', 'gun'],
      registers,
      collect() {
        this.reset();
        const at = now().getTime();
        for (const role of EXPIRY_ROLES) {
          for (const { gun, expiresMs } of expiries.nearest(role, NEAREST_PER_ROLE)) this.set({ role, gun }, (expiresMs - at) / 1000);
        }
      },
    });
    new Gauge({
      name: 'tagtrust_collections_tracked',
      help: 'Collections whose expiry of this role the server knows',
      labelNames: ['role'],
      registers,
      collect() {
        for (const role of EXPIRY_ROLES) this.set({ role }, expiries.size(role));
      },
    });
  }

  /** Wraps a request listener so that every finished request is counted by route pattern and status. */
  instrument(listener: RequestListener): RequestListener {
    return (req: IncomingMessage, res: ServerResponse) => {
      const end = this.requests.startTimer({ method: methodLabel(req.method), route: routeLabel(req.url ?? '') });
      res.once('finish', () => end({ status: String(res.statusCode) }));
      listener(req, res);
    };
  }

  publishObserved(outcome: PublishOutcome, seconds: number): void {
    this.publishes.observe({ outcome }, seconds);
  }

  /** Counts a background renewal run; call `finished` with the number renewed, or `failed`. */
  renewalStarted(): { finished(renewed: number, at: Date): void; failed(): void } {
    this.renewalRuns.inc();
    return {
      finished: (renewed, at) => {
        this.renewedCollections.inc(renewed);
        this.renewalLastSuccess.set(at.getTime() / 1000);
      },
      failed: () => this.renewalFailures.inc(),
    };
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
