/**
 * What every publishing job shares: the resolved options, this home's key store and the lifetimes
 * and limits a Publisher was built with, plus the per-operation helpers (deadline, server API,
 * trusted-collection context).
 */
import { DEFAULT_LIFETIMES } from '@tagtrust/shared';
import { Deadline } from '../deadline.js';
import { KeyStore, environmentPassphrases } from '../keystore.js';
import { resolveOptions } from '../options.js';
import type { ResolvedOptions } from '../options.js';
import { ServerApi } from '../server-api.js';
import type { PublisherOptions } from './types.js';
import { DEFAULT_BINS_THRESHOLD } from './types.js';

export interface PublisherContext {
  readonly options: ResolvedOptions;
  readonly keys: KeyStore;
  readonly targetsLifetimeMs: number;
  readonly rootLifetimeMs: number;
  /** How many times a publish is retried after losing a race to another publisher. */
  readonly maxAttempts: number;
  readonly binsThreshold: number;
}

export function publisherContext(options: PublisherOptions): PublisherContext {
  const resolved = resolveOptions(options);
  return {
    options: resolved,
    keys: options.keyStore ?? new KeyStore(resolved.home, options.passphrases ?? environmentPassphrases, resolved.warn),
    targetsLifetimeMs: options.targetsLifetimeMs ?? DEFAULT_LIFETIMES.targets,
    rootLifetimeMs: options.rootLifetimeMs ?? DEFAULT_LIFETIMES.root,
    maxAttempts: options.maxAttempts ?? 50,
    binsThreshold: options.binsThreshold ?? DEFAULT_BINS_THRESHOLD,
  };
}

/** Runs `job` within one operation deadline (`what` names the operation in a timeout message). */
export async function withDeadline<T>(ctx: PublisherContext, what: string, job: (deadline: Deadline) => Promise<T>): Promise<T> {
  const deadline = new Deadline(ctx.options.timeoutMs, what);
  try {
    return await job(deadline);
  } finally {
    deadline.dispose();
  }
}

export function serverApi(ctx: PublisherContext, deadline: Deadline): ServerApi {
  return new ServerApi(ctx.options.server, ctx.options.token, deadline, { ca: ctx.options.ca });
}

/** The context of a trusted-collection update (withTrustedCollection) for `gun`. */
export function sessionContext(ctx: PublisherContext, gun: string, deadline: Deadline) {
  return {
    home: ctx.options.home,
    server: ctx.options.server,
    gun,
    deadline,
    warn: ctx.options.warn,
    token: ctx.options.token,
    transport: { ca: ctx.options.ca },
  };
}

/** A short random pause before retrying a publish that lost a race (grows with the attempt). */
export function backOff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 10 * attempt)));
}
