/**
 * Reads one Notary v1 collection and verifies it with its own trust data, the way the Notary client
 * does, before anything of it is believed:
 * 1. root: signed by its own root role (threshold of distinct keys); when the caller pins a root key
 *    ID (`--notary-root-keyid`), the root role must list it;
 * 2. timestamp: signed by the timestamp role;
 * 3. snapshot: the exact bytes the timestamp lists (length, sha256), signed by the snapshot role;
 * 4. targets and each delegated role (`targets/releases`, what `docker trust` signs): the exact bytes
 *    the snapshot lists, signed by their role's keys (delegations: from the delegating targets);
 * 5. nothing expired, unless the caller allows it (an old local trust directory).
 *
 * The result maps each tag to the digest Docker Content Trust would pull: `targets/releases` first,
 * then the top-level `targets`, then other delegated roles in the order targets lists them, each
 * only for the tag names its `paths` prefixes allow.
 */
import { createHash } from 'node:crypto';
import { ExpiredMetadataError, MalformedMetadataError, MismatchError, UntrustedRootError } from '@tagtrust/shared';
import type { NotaryKey, NotaryRoleKeys, NotarySignature } from './notary-keys.js';
import { checkNotarySignatures } from './notary-keys.js';
import type { NotarySource } from './notary-source.js';

export interface NotaryTag {
  tag: string;
  /** `sha256:<hex>` */
  digest: string;
  size: number;
  /** The Notary role that signed it (`targets`, `targets/releases` …). */
  role: string;
}

export interface NotaryCollection {
  gun: string;
  rootKeyIds: string[];
  tags: NotaryTag[];
}

export interface NotaryReadOptions {
  /** A root key ID (or prefix of 8+ hex) the Notary root role must list. */
  rootKeyId?: string;
  /** Accept expired metadata (e.g. an old local trust directory); the caller warns. */
  allowExpired?: boolean;
  now?: Date;
}

interface Signed<T> {
  signed: T;
  signatures: NotarySignature[];
}
interface MetaEntry {
  length: number;
  hashes: Record<string, string>;
}
interface RootSigned {
  expires: string;
  keys: Record<string, NotaryKey>;
  roles: Record<string, NotaryRoleKeys>;
}
interface DelegatedRole extends NotaryRoleKeys {
  name: string;
  paths?: string[];
}
interface TargetsSigned {
  expires: string;
  targets: Record<string, MetaEntry>;
  delegations?: { keys: Record<string, NotaryKey>; roles: DelegatedRole[] };
}

interface Signer {
  role: string;
  signed: TargetsSigned;
  paths?: string[];
}

const RELEASES = 'targets/releases';

export async function readNotaryCollection(source: NotarySource, gun: string, options: NotaryReadOptions = {}): Promise<NotaryCollection> {
  const now = options.now ?? new Date();
  const where = (role: string) => `${role}.json of ${gun} from the ${source.describe}`;
  const load = async <T>(role: string, listed?: MetaEntry): Promise<Signed<T> | undefined> => {
    const bytes = await source.read(role);
    if (!bytes) return undefined;
    if (listed) checkListed(where(role), bytes, listed);
    const parsed = parse<T>(where(role), bytes);
    const expires = (parsed.signed as { expires?: unknown }).expires;
    if (typeof expires !== 'string' || Number.isNaN(Date.parse(expires))) throw new MalformedMetadataError(`${where(role)} has no valid expiry: the Notary metadata is damaged`);
    if (!options.allowExpired && Date.parse(expires) <= now.getTime()) {
      throw new ExpiredMetadataError(`${where(role)} expired at ${expires}: ask the collection's owner to re-publish it, or pass --allow-expired to import it as it is`);
    }
    return parsed;
  };

  const root = await load<RootSigned>('root');
  if (!root) throw new UntrustedRootError(`no root.json for ${gun} in the ${source.describe}`);
  const roles = root.signed.roles ?? {};
  const roleKeys = (role: string): NotaryRoleKeys => {
    const keys = roles[role];
    if (!keys || !Array.isArray(keys.keyids)) throw new MalformedMetadataError(`${where('root')} has no ${role} role: the Notary metadata is damaged`);
    return keys;
  };
  checkNotarySignatures(where('root'), root.signed, root.signatures, root.signed.keys ?? {}, roleKeys('root'));
  const rootKeyIds = roleKeys('root').keyids;
  if (options.rootKeyId && !rootKeyIds.some((id) => id.startsWith(options.rootKeyId!))) {
    throw new UntrustedRootError(`the Notary root of ${gun} is signed by ${rootKeyIds.map((id) => id.slice(0, 8)).join(', ')}, not by the pinned ${options.rootKeyId}: refusing it`);
  }

  const timestamp = await load<{ meta: Record<string, MetaEntry> }>('timestamp');
  if (!timestamp) throw new MalformedMetadataError(`no timestamp.json for ${gun} in the ${source.describe}`);
  checkNotarySignatures(where('timestamp'), timestamp.signed, timestamp.signatures, root.signed.keys, roleKeys('timestamp'));
  const snapshot = await load<{ meta: Record<string, MetaEntry> }>('snapshot', metaEntry(where('timestamp'), timestamp.signed.meta, 'snapshot'));
  if (!snapshot) throw new MalformedMetadataError(`no snapshot.json for ${gun} in the ${source.describe}`);
  checkNotarySignatures(where('snapshot'), snapshot.signed, snapshot.signatures, root.signed.keys, roleKeys('snapshot'));
  const targets = await load<TargetsSigned>('targets', metaEntry(where('snapshot'), snapshot.signed.meta, 'targets'));
  if (!targets) throw new MalformedMetadataError(`no targets.json for ${gun} in the ${source.describe}`);
  checkNotarySignatures(where('targets'), targets.signed, targets.signatures, root.signed.keys, roleKeys('targets'));

  const signers: Signer[] = [];
  const delegations = targets.signed.delegations;
  for (const role of delegations?.roles ?? []) {
    const listed = snapshot.signed.meta[role.name];
    if (!listed) continue; // delegated, but nothing signed yet
    const metadata = await load<TargetsSigned>(role.name, listed);
    if (!metadata) throw new MalformedMetadataError(`the snapshot of ${gun} lists ${role.name} but the ${source.describe} does not have it`);
    checkNotarySignatures(where(role.name), metadata.signed, metadata.signatures, delegations!.keys ?? {}, role);
    signers.push({ role: role.name, signed: metadata.signed, ...(role.paths ? { paths: role.paths } : {}) });
  }
  const ordered = [...signers.filter((s) => s.role === RELEASES), { role: 'targets', signed: targets.signed }, ...signers.filter((s) => s.role !== RELEASES)];

  const tags = new Map<string, NotaryTag>();
  for (const { role, signed, paths } of ordered as Signer[]) {
    for (const [tag, entry] of Object.entries(signed.targets ?? {})) {
      if (tags.has(tag)) continue;
      if (paths && !paths.some((prefix) => tag.startsWith(prefix))) continue;
      tags.set(tag, { tag, role, ...digestOf(where(role), tag, entry) });
    }
  }
  return { gun, rootKeyIds, tags: [...tags.values()].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0)) };
}

function parse<T>(where: string, bytes: Buffer): Signed<T> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new MalformedMetadataError(`${where} is not JSON: the Notary metadata is damaged`, { cause: err });
  }
  const file = value as Signed<T>;
  if (!file || typeof file !== 'object' || !file.signed || typeof file.signed !== 'object' || !Array.isArray(file.signatures)) {
    throw new MalformedMetadataError(`${where} is not signed TUF metadata: the Notary metadata is damaged`);
  }
  return file;
}

function metaEntry(where: string, meta: Record<string, MetaEntry> | undefined, role: string): MetaEntry {
  const entry = meta?.[role];
  if (!entry || !Number.isSafeInteger(entry.length) || typeof entry.hashes?.sha256 !== 'string') {
    throw new MalformedMetadataError(`${where} lists no length and sha256 for ${role}: the Notary metadata is damaged`);
  }
  return entry;
}

function checkListed(where: string, bytes: Buffer, listed: MetaEntry): void {
  const sha256 = createHash('sha256').update(bytes).digest('base64');
  if (bytes.length !== listed.length || sha256 !== listed.hashes.sha256) {
    throw new MismatchError(`${where} is not the file its parent lists (${bytes.length} bytes, sha256 ${sha256}; listed ${listed.length}, ${listed.hashes.sha256}): mix-and-match or tampering, refusing it`);
  }
}

function digestOf(where: string, tag: string, entry: MetaEntry): { digest: string; size: number } {
  const sha256 = typeof entry?.hashes?.sha256 === 'string' ? Buffer.from(entry.hashes.sha256, 'base64') : undefined;
  if (!sha256 || sha256.length !== 32 || !Number.isSafeInteger(entry.length) || entry.length < 1) {
    throw new MalformedMetadataError(`${where}: tag "${tag}" has no sha256 digest and size: the Notary metadata is damaged`);
  }
  return { digest: `sha256:${sha256.toString('hex')}`, size: entry.length };
}
