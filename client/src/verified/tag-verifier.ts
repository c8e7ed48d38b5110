/**
 * The in-memory verified-state core shared by the long-running pullers (the registry gate, the
 * admission webhook): answers "which digest is `<gun>:<tag>` signed for now?" from verified
 * metadata kept in memory, and refreshes each collection through the full TUF client (Puller).
 *
 * Rules:
 * - An answer (a Resolution, or the tag's own NotSigned/Mismatch/Substitution error) is reused for at
 *   most `refreshIntervalMs` after the update that produced it started, and never past the earliest
 *   expiry of the metadata it relied on.
 * - One refresh in flight per collection. Tags asked for while a refresh runs are batched into the
 *   next one, which starts when the current one ends: a burst of N pulls costs at most two updates.
 * - With `refreshAheadMs`, a lookup that finds an answer due to go stale within that time starts the
 *   collection's next refresh in the background and is still answered from memory: busy collections
 *   never make a lookup wait for an update, and no answer is older than `refreshIntervalMs`. Each
 *   collection starts at its own point of the last half of that window (from a hash of its name), so
 *   collections first seen together do not keep refreshing together.
 * - A failed update (rollback, freeze, bad signatures, unreachable server) is the answer for every
 *   tag of the collection until the next refresh is due: fail closed, and no retry storm.
 * - list(gun) follows the same rules for the collection's whole listing: reused while fresh, one
 *   listing in flight per collection, a failed update is the listing's answer until the next refresh.
 * - Memory is bounded: at most `maxCollections` collections (least recently used evicted) and
 *   `maxTagsPerCollection` answers each (oldest dropped; they are resolved again when asked).
 */
import { createHash } from 'node:crypto';
import { MismatchError, UsageError, parseGun, parseTaggedReference } from '@tagtrust/shared';
import type { TagTrustError } from '@tagtrust/shared';
import { Puller } from '../puller.js';
import type { PullerOptions, Resolution, SignedTag } from '../puller.js';

export interface TagVerifierOptions extends PullerOptions {
  /** How long a verified answer is reused before its collection is refreshed (ms, default 5,000). */
  refreshIntervalMs?: number;
  /**
   * Start a collection's refresh in the background when a lookup finds its answers this close to
   * going stale (ms, default 0: refresh only when stale, and the lookup waits for it).
   */
  refreshAheadMs?: number;
  /** Most collections kept in memory (default 10,000). */
  maxCollections?: number;
  /** Most tag answers kept per collection (default 4,096). */
  maxTagsPerCollection?: number;
  /** The clock, in ms since the epoch (tests). */
  now?: () => number;
}

type Answer = Resolution | TagTrustError;
type Outcome = Map<string, Answer> | Error;

interface Refresh {
  tags: Set<string>;
  done: Promise<Outcome>;
}

interface Listing {
  verifiedAt: number;
  validUntil: number;
  outcome: SignedTag[] | Error;
}

class CollectionState {
  /** Where in the refresh-ahead window this collection refreshes: 0.5 (late) to 1 (early). */
  readonly aheadShare: number;
  constructor(gun: string) {
    this.aheadShare = 0.5 + createHash('sha256').update(gun).digest().readUInt16BE(0) / 2 ** 17;
  }
  /** When the update behind `outcome` started (ms), and the earliest expiry of what it verified. */
  verifiedAt = Number.NEGATIVE_INFINITY;
  validUntil = Number.NEGATIVE_INFINITY;
  outcome: Outcome = new Map();
  running?: Refresh;
  queued?: Refresh;
  listing?: Listing;
  listingRunning?: Promise<Listing>;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 5_000;

export class TagVerifier {
  private readonly puller: Puller;
  private readonly refreshIntervalMs: number;
  private readonly refreshAheadMs: number;
  private readonly maxCollections: number;
  private readonly maxTags: number;
  private readonly now: () => number;
  private readonly collections = new Map<string, CollectionState>();

  constructor(options: TagVerifierOptions = {}) {
    this.puller = new Puller(options);
    this.refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    if (!(this.refreshIntervalMs >= 0)) throw new UsageError(`refresh interval must be a non-negative number of ms, got ${this.refreshIntervalMs}`);
    this.refreshAheadMs = options.refreshAheadMs ?? 0;
    if (!(this.refreshAheadMs >= 0)) throw new UsageError(`refresh-ahead time must be a non-negative number of ms, got ${this.refreshAheadMs}`);
    this.maxCollections = positive(options.maxCollections ?? 10_000, 'maxCollections');
    this.maxTags = positive(options.maxTagsPerCollection ?? 4_096, 'maxTagsPerCollection');
    this.now = options.now ?? Date.now;
  }

  /**
   * The verified answer for `<gun>:<tag>[@sha256:<hex>]` (a given digest must match the signed one).
   * @throws NotSignedError, MismatchError, SubstitutionError, or the update's verification error
   */
  async resolve(reference: string): Promise<Resolution> {
    const { gun, tag, digest } = parseTaggedReference(reference);
    const answer = await this.answer(gun, tag);
    if (digest && digest !== answer.digest) {
      throw new MismatchError(`${answer.reference} is signed for ${answer.digest}, not ${digest}: the reference you were given does not match the signed tag`);
    }
    return answer;
  }

  /**
   * Every signed tag of `gun` (Puller.list), from memory while fresh.
   * @throws the update's verification error
   */
  async list(gunInput: string): Promise<SignedTag[]> {
    const gun = parseGun(gunInput);
    const state = this.stateOf(gun);
    let listing = state.listing;
    if (!listing || !this.isFresh(listing.verifiedAt, listing.validUntil)) {
      state.listingRunning ??= this.startListing(gun, state);
      listing = await state.listingRunning;
    }
    if (listing.outcome instanceof Error) throw listing.outcome;
    return listing.outcome;
  }

  private startListing(gun: string, state: CollectionState): Promise<Listing> {
    const verifiedAt = this.now();
    return this.puller.listVerified(gun).then(
      ({ tags, metadata }): Listing => ({ verifiedAt, validUntil: Math.min(...Object.values(metadata).map((role) => Date.parse(role.expires))), outcome: tags }),
      (err: unknown): Listing => ({ verifiedAt, validUntil: Number.POSITIVE_INFINITY, outcome: err instanceof Error ? err : new Error(String(err)) }),
    ).then((listing) => {
      state.listing = listing;
      state.listingRunning = undefined;
      return listing;
    });
  }

  /** The answer for one tag: from memory while fresh, else from a refresh that looks the tag up. */
  private async answer(gun: string, tag: string): Promise<Resolution> {
    const state = this.stateOf(gun);
    let outcome = state.outcome;
    if (!this.fresh(state) || (outcome instanceof Map && !outcome.has(tag))) outcome = await this.refresh(gun, state, tag);
    else if (!state.running && !state.queued && this.dueSoon(state)) state.running = this.start(gun, state, new Set([tag]));
    if (outcome instanceof Error) throw outcome;
    const answer = outcome.get(tag);
    if (answer instanceof Error) throw answer;
    if (!answer) throw new Error(`internal: the refresh of ${gun} did not look up ${tag}`);
    return answer;
  }

  private fresh(state: CollectionState): boolean {
    return this.isFresh(state.verifiedAt, state.validUntil);
  }

  private isFresh(verifiedAt: number, validUntil: number): boolean {
    const now = this.now();
    return now - verifiedAt < this.refreshIntervalMs && now < validUntil;
  }

  /** Will the collection's answers go stale within `refreshAheadMs`? */
  private dueSoon(state: CollectionState): boolean {
    if (this.refreshAheadMs === 0) return false;
    const now = this.now();
    const ahead = this.refreshAheadMs * state.aheadShare;
    return now - state.verifiedAt >= this.refreshIntervalMs - ahead || state.validUntil - now <= ahead;
  }

  /** Joins the refresh that looks `tag` up: the running one if it covers the tag, else the next one. */
  private refresh(gun: string, state: CollectionState, tag: string): Promise<Outcome> {
    if (state.running?.tags.has(tag)) return state.running.done;
    if (!state.running && !state.queued) {
      state.running = this.start(gun, state, new Set([tag]));
      return state.running.done;
    }
    if (!state.queued) {
      const tags = new Set<string>();
      const previous = state.running!.done;
      state.queued = {
        tags,
        done: previous.then(() => {
          state.queued = undefined;
          state.running = this.start(gun, state, tags);
          return state.running.done;
        }),
      };
    }
    state.queued.tags.add(tag);
    return state.queued.done;
  }

  /** Runs one update of `gun` for `tags` plus the tags already known (most recent first, bounded). */
  private start(gun: string, state: CollectionState, tags: Set<string>): Refresh {
    const startedAt = this.now();
    const wanted = [...tags];
    const known = state.outcome instanceof Map ? [...state.outcome.keys()].reverse() : [];
    for (const tag of known) {
      if (wanted.length >= this.maxTags) break;
      if (!tags.has(tag)) wanted.push(tag);
    }
    const done = this.puller.resolveEach(gun, wanted).then(
      (answers): Outcome => {
        state.validUntil = earliestExpiry(answers);
        return answers;
      },
      (err: unknown): Outcome => {
        state.validUntil = Number.POSITIVE_INFINITY;
        return err instanceof Error ? err : new Error(String(err));
      },
    ).then((outcome) => {
      state.outcome = outcome;
      state.verifiedAt = startedAt;
      state.running = undefined;
      return outcome;
    });
    return { tags, done };
  }

  private stateOf(gun: string): CollectionState {
    let state = this.collections.get(gun);
    if (state) {
      this.collections.delete(gun);
    } else {
      state = new CollectionState(gun);
      if (this.collections.size >= this.maxCollections) {
        const oldest = this.collections.keys().next().value;
        if (oldest !== undefined) this.collections.delete(oldest);
      }
    }
    this.collections.set(gun, state);
    return state;
  }
}

function earliestExpiry(answers: Map<string, Answer>): number {
  let earliest = Number.POSITIVE_INFINITY;
  for (const answer of answers.values()) {
    if (answer instanceof Error) continue;
    for (const role of Object.values(answer.metadata)) earliest = Math.min(earliest, Date.parse(role.expires));
  }
  return earliest;
}

function positive(value: number, name: string): number {
  if (!(Number.isSafeInteger(value) && value > 0)) throw new UsageError(`${name} must be a positive integer, got ${value}`);
  return value;
}
