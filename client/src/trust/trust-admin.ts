/**
 * Managing what a home trusts: pin a collection (or a prefix), show pins and trusted collections,
 * forget a collection's trusted state. Pin semantics are in pin-policy.ts.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UntrustedRootError, UsageError, parseGun } from '@tagtrust/shared';
import type { Metadata, RootSigned, TimestampSigned } from '@tagtrust/shared';
import { trustDir } from '../home.js';
import type { Pin } from './pin-policy.js';
import { checkRootAgainstPin, parsePinPattern, parseRootDocument, parseRootKeyId, pinMatches } from './pin-policy.js';
import { loadPins, savePin } from './pin-store.js';

export interface PinRequest {
  /** A root document file (exact collections only). */
  rootFile?: string;
  /** A root key ID (64 hex). */
  rootKeyId?: string;
}

export interface TrustedCollectionInfo {
  gun: string;
  rootVersion: number;
  rootKeyIds: string[];
  timestampVersion?: number;
  timestampExpires?: string;
  /** The pin that covers it, if any. */
  pinnedBy?: string;
}

export interface TrustReport {
  pins: { pattern: string; rootKeyIds?: string[]; rootVersion?: number; created: string }[];
  collections: TrustedCollectionInfo[];
}

/**
 * Pins a collection or a prefix (`registry.example.com/team/*`).
 * @throws UsageError for a bad request; UntrustedRootError when the collection already trusts a root the pin rejects
 */
export async function pinCollection(home: string, patternInput: string, request: PinRequest): Promise<Pin> {
  const pattern = parsePinPattern(patternInput);
  if ((request.rootFile === undefined) === (request.rootKeyId === undefined)) {
    throw new UsageError('give exactly one of --root-file FILE and --root-keyid ID');
  }
  const pin: Pin = { pattern, created: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
  if (request.rootFile !== undefined) {
    if (pattern.endsWith('/*')) throw new UsageError('a prefix pin needs --root-keyid: a root file belongs to one collection');
    const text = await readFile(request.rootFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read root file ${request.rootFile}: ${err.code ?? err.message}`);
    });
    pin.root = parseRootDocument(text, request.rootFile, pattern);
  } else {
    pin.rootKeyIds = [parseRootKeyId(request.rootKeyId!)];
  }
  for (const collection of await trustedCollections(home)) {
    if (!pinMatches(pattern, collection.gun)) continue;
    const root = await readRoot(home, collection.gun);
    try {
      if (pin.root && pin.root.signed.version !== root.signed.version) {
        throw new UntrustedRootError(`it trusts root v${root.signed.version}, the pin is v${pin.root.signed.version}`);
      }
      checkRootAgainstPin(root, pin, collection.gun, 'the trusted state');
    } catch (err) {
      throw new UntrustedRootError(
        `${collection.gun} already trusts root v${root.signed.version}, which the pin does not match (${(err as Error).message.slice(0, 200)}): ` +
          `check which is right; \`tagtrust trust forget ${collection.gun}\` then pin again to start over from the pin`,
        { cause: err },
      );
    }
  }
  await savePin(home, pin);
  return pin;
}

/** Removes the trusted metadata of a collection (its next update starts from a pin, a root file or TOFU). */
export async function forgetCollection(home: string, gunInput: string): Promise<boolean> {
  const gun = parseGun(gunInput);
  const dir = trustDir(home, gun);
  const existed = await readdir(dir).then(() => true, () => false);
  await rm(dir, { recursive: true, force: true });
  return existed;
}

/** Pins and trusted collections of a home, optionally only those covering / covered by `gun`. */
export async function showTrust(home: string, gunInput?: string): Promise<TrustReport> {
  const gun = gunInput === undefined ? undefined : parseGun(gunInput);
  const pins = await loadPins(home);
  const collections = (await trustedCollections(home)).filter((c) => gun === undefined || c.gun === gun);
  for (const c of collections) c.pinnedBy = bestPattern(pins, c.gun);
  return {
    pins: pins
      .filter((p) => gun === undefined || pinMatches(p.pattern, gun))
      .map((p) => ({
        pattern: p.pattern,
        created: p.created,
        ...(p.rootKeyIds ? { rootKeyIds: p.rootKeyIds } : {}),
        ...(p.root ? { rootVersion: p.root.signed.version, rootKeyIds: p.root.signed.roles.root.keyids } : {}),
      })),
    collections,
  };
}

function bestPattern(pins: Pin[], gun: string): string | undefined {
  const matching = pins.filter((p) => pinMatches(p.pattern, gun)).map((p) => p.pattern);
  return matching.find((p) => p === gun) ?? matching.sort((a, b) => b.length - a.length)[0];
}

async function readRoot(home: string, gun: string): Promise<Metadata<RootSigned>> {
  return JSON.parse(await readFile(join(trustDir(home, gun), 'root.json'), 'utf8')) as Metadata<RootSigned>;
}

async function trustedCollections(home: string): Promise<TrustedCollectionInfo[]> {
  let names: string[];
  try {
    names = await readdir(join(home, 'trust'));
  } catch {
    return [];
  }
  const out: TrustedCollectionInfo[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const gun = decodeURIComponent(name);
    let root: Metadata<RootSigned>;
    try {
      root = await readRoot(home, gun);
    } catch {
      continue;
    }
    const info: TrustedCollectionInfo = { gun, rootVersion: root.signed.version, rootKeyIds: root.signed.roles.root.keyids };
    try {
      const ts = JSON.parse(await readFile(join(trustDir(home, gun), 'timestamp.json'), 'utf8')) as Metadata<TimestampSigned>;
      info.timestampVersion = ts.signed.version;
      info.timestampExpires = ts.signed.expires;
    } catch {
      // never updated yet
    }
    out.push(info);
  }
  return out;
}
