/**
 * Trust pinning rules (no I/O). A pin says which root a collection without trusted state may start
 * from, instead of trusting the server's root on first use (TOFU):
 * - by root document (`--root-file`, exact collection only): the collection starts from that root;
 * - by root key ID (`--root-keyid`, a collection or a prefix `registry.example.com/team/*`): the first
 *   root must list that key for the root role, under its own key ID, and be signed by it.
 * Pins apply when a collection is first contacted; after that the root chain rules (each root signed
 * by the previous root's threshold) decide. The most specific pin wins: the exact collection, else the
 * longest matching prefix. In strict mode (no TOFU) a collection without a pin, a root file or trusted
 * state is refused.
 */
import { keyIdOf, keyMapProblem, verifyRoleSignatures } from '@tagtrust/keys';
import { UntrustedRootError, UsageError, canonicalBytes, parseGun, validateMetadata } from '@tagtrust/shared';
import type { Metadata, RootSigned } from '@tagtrust/shared';
import { parseStrictJson } from '../tuf/strict-json.js';

export interface Pin {
  /** A collection (`registry.example.com/team/app`) or a prefix ending in `/*`. */
  pattern: string;
  /** Root key IDs; the first root must be signed by one of them. */
  rootKeyIds?: string[];
  /** A root document to start from (exact collections only). */
  root?: Metadata<RootSigned>;
  /** When the pin was made (ISO time). */
  created: string;
}

const KEY_ID = /^[0-9a-f]{64}$/;

/** Normalises a pin pattern: a collection name, or a collection-name prefix followed by `/*`. */
export function parsePinPattern(input: string): string {
  if (input.endsWith('/*')) {
    const prefix = input.slice(0, -2);
    let normalised: string;
    try {
      normalised = parseGun(prefix);
    } catch (err) {
      throw new UsageError(`pin pattern "${input}" is not <registry>/<path>/*: ${(err as Error).message}`, { cause: err });
    }
    return `${normalised}/*`;
  }
  return parseGun(input);
}

export function parseRootKeyId(input: string): string {
  if (!KEY_ID.test(input)) throw new UsageError(`root key ID "${input}" must be 64 lowercase hex characters (see \`tagtrust trust show\`)`);
  return input;
}

/** Does `pattern` cover collection `gun`? */
export function pinMatches(pattern: string, gun: string): boolean {
  return pattern.endsWith('/*') ? gun.startsWith(pattern.slice(0, -1)) : pattern === gun;
}

/** The pin that applies to `gun`: the exact one, else the longest matching prefix. */
export function findPin(pins: readonly Pin[], gun: string): Pin | undefined {
  let best: Pin | undefined;
  for (const pin of pins) {
    if (!pinMatches(pin.pattern, gun)) continue;
    if (!pin.pattern.endsWith('/*')) return pin;
    if (!best || pin.pattern.length > best.pattern.length) best = pin;
  }
  return best;
}

/**
 * Parses and checks a first root (pin, root file, or the server's on first use) as strictly as any
 * downloaded metadata: strict JSON (no repeated object key), valid, self-signed, own key IDs. Store
 * the returned object (re-serialised), not `text`.
 * @throws UntrustedRootError
 */
export function parseRootDocument(text: string, source: string, gun: string): Metadata<RootSigned> {
  try {
    const root = validateMetadata(parseStrictJson(text), 'root', 'root', { reading: true });
    verifyRoleSignatures(root, 'root', root.signed.roles.root, root.signed.keys);
    const problem = keyMapProblem(root.signed.keys);
    if (problem !== undefined) throw new Error(problem);
    return root;
  } catch (err) {
    throw new UntrustedRootError(`the root of ${gun} from ${source} is not a valid self-signed root: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Checks a root offered for a first contact against the pin that covers the collection.
 * @throws UntrustedRootError naming the pin and what to do
 */
export function checkRootAgainstPin(root: Metadata<RootSigned>, pin: Pin, gun: string, source: string): void {
  const signed = root.signed;
  if (pin.root) {
    if (!canonicalBytes(pin.root.signed).equals(canonicalBytes(signed))) {
      throw new UntrustedRootError(
        `root v${signed.version} of ${gun} from ${source} is not the root pinned for ${pin.pattern} (v${pin.root.signed.version}): refusing it; ` +
          'check which root is right out of band and re-pin it with `tagtrust trust pin`',
      );
    }
    return;
  }
  const ids = pin.rootKeyIds ?? [];
  const usable = ids.filter((id) => signed.roles.root.keyids.includes(id) && signed.keys[id] !== undefined && keyIdOf(signed.keys[id]!) === id);
  for (const id of usable) {
    try {
      verifyRoleSignatures(root, 'root', { keyids: [id], threshold: 1 }, signed.keys);
      return;
    } catch {
      // try the next pinned key
    }
  }
  throw new UntrustedRootError(
    `root v${signed.version} of ${gun} from ${source} is not signed by a root key pinned for ${pin.pattern} (${ids.map((id) => id.slice(0, 8)).join(', ')}): ` +
      'refusing it; the server may be impersonating the collection. Check the pin with `tagtrust trust show`; if the owner re-created the collection with new root keys, pin its new root key (`tagtrust trust pin`)',
  );
}
