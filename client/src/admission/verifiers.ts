/**
 * One TagVerifier per distinct trust setting of the policy (server, CA, TOFU, max age, pins), each
 * with its own trusted-state directory under the webhook's home, so rules that trust differently
 * never share roots. Pins from the policy are written into that directory before the first lookup.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '@tagtrust/shared';
import { pinCollection } from '../trust/trust-admin.js';
import { TagVerifier } from '../verified/tag-verifier.js';
import type { Policy, TrustSettings } from './policy.js';
import { trustKey } from './policy.js';

export interface VerifierPoolOptions {
  /** The webhook's home: trusted state goes to `<home>/admission/<hash of the trust settings>`. */
  home: string;
  /** Deadline for one refresh of a collection (ms). */
  timeoutMs: number;
  /** Notices (trust on first use). */
  warn: (message: string) => void;
  /** Most collections kept in memory per verifier. */
  maxCollections?: number;
}

export class VerifierPool {
  private constructor(private readonly verifiers: Map<string, TagVerifier>) {}

  /**
   * Builds the verifiers a policy needs and writes their pins.
   * @throws UsageError for an unreadable CA file; the pin errors of `tagtrust trust pin`
   */
  static async create(policy: Policy, options: VerifierPoolOptions): Promise<VerifierPool> {
    const verifiers = new Map<string, TagVerifier>();
    for (const rule of policy.rules) {
      if (rule.action !== 'verify') continue;
      const key = trustKey(rule.trust);
      if (verifiers.has(key)) continue;
      verifiers.set(key, await createVerifier(rule.trust, key, policy.refreshIntervalMs, options));
    }
    return new VerifierPool(verifiers);
  }

  /** The verifier for a rule's trust settings. */
  for(trust: TrustSettings): TagVerifier {
    const verifier = this.verifiers.get(trustKey(trust));
    if (!verifier) throw new Error(`internal: no verifier for the trust settings of ${trust.server}`);
    return verifier;
  }
}

async function createVerifier(trust: TrustSettings, key: string, refreshIntervalMs: number, options: VerifierPoolOptions): Promise<TagVerifier> {
  const home = join(options.home, 'admission', createHash('sha256').update(key).digest('hex').slice(0, 16));
  for (const pin of trust.pins) {
    await pinCollection(home, pin.pattern, pin.rootFile === undefined ? { rootKeyId: pin.rootKeyId! } : { rootFile: pin.rootFile });
  }
  const ca =
    trust.ca === undefined
      ? undefined
      : await readFile(trust.ca).catch((err: NodeJS.ErrnoException) => {
          throw new UsageError(`policy ca ${trust.ca}: cannot read it (${err.code ?? err.message})`);
        });
  return new TagVerifier({
    server: trust.server,
    home,
    timeoutMs: options.timeoutMs,
    warn: options.warn,
    tofu: trust.tofu,
    refreshIntervalMs,
    // Busy collections are refreshed in the background in the second half of the interval, so a
    // review waits for an update only on first sight of a collection or after a quiet spell.
    refreshAheadMs: refreshIntervalMs / 2,
    ...(ca === undefined ? {} : { ca }),
    ...(trust.maxAgeMs === undefined ? {} : { maxAgeMs: trust.maxAgeMs }),
    ...(options.maxCollections === undefined ? {} : { maxCollections: options.maxCollections }),
  });
}
