/**
 * Auditing a collection's tag transparency log (docs/immutability.md), against the log head signed
 * into the timestamp this client verifies:
 * - `auditLog`: checks that the log is consistent with the head this client audited last (RFC 9162
 *   consistency proof), that the entries appended since hash to the new head (a monitor's check),
 *   and, given another puller's head, that both lie on one history (no fork). The audit state
 *   (`trust/<gun>/log-audit`: size, root and right-edge hashes; 0600, atomic) is saved only when every
 *   check passed. The first audit downloads every entry.
 * - `verifyTagHistory`: every change of a tag, each proved included under the signed head, the whole
 *   log recomputed from its entries, and the tag's current signed digest checked against the log.
 * Every failure is a LogInconsistentError (exit 30); the trusted metadata is then not updated either.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@tagtrust/keys';
import { LOG_PAGE_LIMIT, LogInconsistentError, NotFoundError, hashLeaf, logHeadOf, parseGun, parseTaggedReference, targetName, verifyConsistency, verifyInclusion } from '@tagtrust/shared';
import type { LogEntry, LogHead } from '@tagtrust/shared';
import { Deadline } from '../deadline.js';
import { trustDir } from '../home.js';
import type { ClientOptions, ResolvedOptions } from '../options.js';
import { resolveOptions } from '../options.js';
import { ServerApi } from '../server-api.js';
import type { CollectionSession } from '../tuf/trusted-collection.js';
import { withTrustedCollection } from '../tuf/trusted-collection.js';
import { LogFrontier, checkHeadProgress, proofHashes } from './log-verify.js';
import type { FrontierState } from './log-verify.js';

const STATE_FILE = 'log-audit';

export interface AuditReport {
  gun: string;
  /** The signed head audited now. */
  head: LogHead;
  /** The head of the previous audit, if any. */
  previous?: LogHead;
  /** Entries checked in this audit. */
  checked: number;
  /** Another puller's head that was shown to lie on the same history. */
  compared?: LogHead;
}

export interface VerifiedChange extends LogEntry {
  /** The size of the signed tree the inclusion proof was checked against. */
  provedIn: number;
}

/** Parses `<size>:<root hex>`, another puller's head (from `tagtrust audit --json`). */
export function parseLogHead(text: string): LogHead | undefined {
  const match = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text);
  return match ? { size: Number(match[1]), root_hash: match[2]! } : undefined;
}

/** @throws LogInconsistentError, NotFoundError (server without a log), and the verification errors of the update */
export async function auditLog(gunInput: string, options: ClientOptions & { compare?: LogHead } = {}): Promise<AuditReport> {
  const gun = parseGun(gunInput);
  return withLog(gun, options, `auditing the tag log of ${gun}`, async (_session, api, head, resolved) => {
    const dir = trustDir(resolved.home, gun);
    const saved = await readState(dir);
    const previous = saved && { size: saved.size, root_hash: saved.root_hash };
    checkHeadProgress(gun, previous, head);
    if (previous && previous.size > 0 && previous.size < head.size) await proveConsistent(api, gun, previous, head, `the ${previous.size} entries this client audited before`);
    const frontier = saved ? LogFrontier.restore(saved) : LogFrontier.empty();
    const checked = await extend(api, gun, frontier, head);
    if (options.compare) await compareHeads(api, gun, head, options.compare);
    await writeFileAtomic(join(dir, STATE_FILE), JSON.stringify({ ...frontier.state(), root_hash: head.root_hash, audited: new Date().toISOString() }), 0o600);
    return { gun, head, ...(previous ? { previous } : {}), checked, ...(options.compare ? { compared: options.compare } : {}) };
  });
}

/** Every logged change of `<gun>:<tag>`, proved. @throws LogInconsistentError */
export async function verifyTagHistory(reference: string, options: ClientOptions = {}): Promise<VerifiedChange[]> {
  const { gun, tag } = parseTaggedReference(reference);
  return withLog(gun, options, `verifying the history of ${targetName(gun, tag)}`, async (session, api, head) => {
    const mine: LogEntry[] = [];
    await extend(api, gun, LogFrontier.empty(), head, (entry) => entry.tag === tag && mine.push(entry));
    const changes: VerifiedChange[] = [];
    for (const entry of mine) {
      const { proof } = await api.logProof(gun, entry.index, head.size);
      if (!verifyInclusion(hashLeaf(entry), entry.index, head.size, proofHashes(gun, proof), Buffer.from(head.root_hash, 'hex'))) {
        throw new LogInconsistentError(`entry ${entry.index} of the tag log of ${gun} (${tag}) is not proved included under the signed head of ${head.size} entries: tell the operator`);
      }
      changes.push({ ...entry, provedIn: head.size });
    }
    // The signed metadata must agree with the log: the tag resolves to a digest some role last logged for it.
    const info = await session.getTargetInfo(targetName(gun, tag)).catch(() => undefined);
    const signed = info?.hashes.sha256 ? `sha256:${info.hashes.sha256}` : null;
    const lastByRole = new Map(mine.map((e) => [e.role, e.digest]));
    const logged = [...lastByRole.values()];
    if (mine.length > 0 && (signed === null ? logged.some((d) => d !== null) : !logged.includes(signed))) {
      throw new LogInconsistentError(`${gun}:${tag} is signed for ${signed ?? 'nothing'} but the tag log of ${gun} last recorded ${logged.join(', ')}: the log hides a change; tell the operator`);
    }
    return changes;
  });
}

type LogUse<T> = (session: CollectionSession, api: ServerApi, head: LogHead, resolved: ResolvedOptions) => Promise<T>;

async function withLog<T>(gun: string, options: ClientOptions, what: string, use: LogUse<T>): Promise<T> {
  const resolved = resolveOptions(options);
  const deadline = new Deadline(resolved.timeoutMs, what);
  try {
    const api = new ServerApi(resolved.server, resolved.token, deadline, { ca: resolved.ca });
    // The same first-contact rule as the Puller: trust on first use unless TAGTRUST_NO_TOFU=1.
    const policy = { tofu: process.env.TAGTRUST_NO_TOFU !== '1' };
    const context = { home: resolved.home, server: resolved.server, gun, deadline, warn: resolved.warn, token: resolved.token, transport: { ca: resolved.ca }, policy };
    return await withTrustedCollection(context, async (session) => {
      const head = logHeadOf(session.metadata.timestamp.signed);
      if (!head) {
        const audited = await readState(trustDir(resolved.home, gun));
        if (audited) throw new LogInconsistentError(`the timestamp of ${gun} no longer carries the tag log head (this client audited ${audited.size} entries): the server hides its history; tell the operator`);
        throw new NotFoundError(`${resolved.server} keeps no tag log for ${gun} (its timestamp carries no log head): upgrade the server`);
      }
      return use(session, api, head, resolved);
    });
  } finally {
    deadline.dispose();
  }
}

/** Downloads entries [frontier size, head size) into the frontier and checks they hash to the head. */
async function extend(api: ServerApi, gun: string, frontier: LogFrontier, head: LogHead, each?: (entry: LogEntry) => unknown): Promise<number> {
  const from = frontier.entries;
  while (frontier.entries < head.size) {
    const start = frontier.entries;
    const { entries } = await api.logEntries(gun, start, Math.min(head.size, start + LOG_PAGE_LIMIT));
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new LogInconsistentError(`the server lists no tag log entry ${start} of ${gun} though its signed head has ${head.size}: entries were dropped; tell the operator`);
    }
    for (const entry of entries) {
      frontier.append(gun, entry);
      each?.(entry);
    }
  }
  const computed = frontier.head();
  if (computed.size !== head.size || computed.root_hash !== head.root_hash) {
    throw new LogInconsistentError(`the tag log entries of ${gun} the server lists do not hash to its signed head of ${head.size} entries: entries were rewritten or dropped; tell the operator`);
  }
  return head.size - from;
}

async function proveConsistent(api: ServerApi, gun: string, older: LogHead, newer: LogHead, what: string): Promise<void> {
  const { proof } = await api.logConsistency(gun, older.size, newer.size).catch((err: Error) => {
    throw new LogInconsistentError(`the server cannot prove the tag log of ${gun} extends ${what}: ${err.message}`, { cause: err });
  });
  if (!verifyConsistency(older.size, newer.size, Buffer.from(older.root_hash, 'hex'), Buffer.from(newer.root_hash, 'hex'), proofHashes(gun, proof))) {
    throw new LogInconsistentError(`the tag log of ${gun} (${newer.size} entries) does not extend ${what}: the server rewrote or forked its history; do not pull, tell the operator`);
  }
}

async function compareHeads(api: ServerApi, gun: string, mine: LogHead, other: LogHead): Promise<void> {
  const what = `the head another puller saw (${other.size} entries)`;
  if (other.size === mine.size) {
    if (other.root_hash !== mine.root_hash) throw new LogInconsistentError(`the tag log of ${gun} forked: ${what} differs from this client's at the same size; do not pull, tell the operator`);
    return;
  }
  if (other.size === 0) return;
  if (other.size < mine.size) await proveConsistent(api, gun, other, mine, what);
  else await proveConsistent(api, gun, mine, other, `this client's head (${mine.size} entries), against ${what}`);
}

async function readState(dir: string): Promise<(FrontierState & { root_hash: string }) | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as FrontierState & { root_hash: string };
  } catch {
    return undefined;
  }
}
