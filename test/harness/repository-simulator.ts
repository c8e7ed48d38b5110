/**
 * An in-memory tagtrust repository for attack tests, in the spirit of python-tuf's
 * tests/repository_simulator.py: it holds its own keys for every role (so tests can play a thief of
 * any key), keeps the signed parts of all roles as plain objects tests may edit, and publishes
 * versions into `files`, the exact bytes a server would serve (`root.json`, `N.root.json`,
 * `timestamp.json`, `N.snapshot.json`, `N.targets.json`, `N.<delegated role>.json`).
 *
 * Publishing works like tagtrust-server: consistent snapshots, snapshot and timestamp list the length
 * and sha256 of the files they point at, and the timestamp records its signing time. Edit a role's
 * `signed` object, then call the matching method:
 *
 *     sim.addTarget('v1', digestOf('a'), 10);   // edits targets.signed
 *     sim.publishTargets();                     // targets v+1 -> snapshot v+1 -> timestamp v+1
 *     sim.timestamp.version = 99999; sim.commit('timestamp');   // sign as is, no bump
 *     await sim.rotateKeys('timestamp'); sim.publishRoot();    // new root signed by old and new root keys
 *
 * Delegated targets roles (`addDelegation`) are committed and listed in snapshot like `targets`, so
 * delegation and hashed-bin attack tests can reuse the simulator.
 */
import { createHash } from 'node:crypto';
import { generateKeyPair, signMetadata } from '@tagtrust/keys';
import type { KeyPair } from '@tagtrust/keys';
import {
  DEFAULT_LIFETIMES,
  TIMESTAMP_SIGNED_AT,
  buildRoot,
  buildSnapshot,
  buildTargets,
  buildTimestamp,
  describeFile,
  expiresAfter,
  targetName,
} from '@tagtrust/shared';
import type {
  AnySigned,
  DelegatedRoleInfo,
  Metadata,
  RootSigned,
  SnapshotSigned,
  TargetsSigned,
  TimestampSigned,
  TopLevelRoleName,
} from '@tagtrust/shared';

export interface SimulatorOptions {
  gun?: string;
  /** Clock for expiries and the timestamp signing time (default: real time). */
  now?: () => Date;
  lifetimes?: Partial<Record<TopLevelRoleName, number>>;
  /** Use these root keys instead of new ones (e.g. an organisation key shared by collections). */
  rootKeys?: KeyPair[];
}

export const DEFAULT_GUN = 'registry.example.com/team/app';

export class RepositorySimulator {
  readonly gun: string;
  readonly now: () => Date;
  readonly lifetimes: Record<TopLevelRoleName, number>;
  /** Signing keys per role name (top-level and delegated). */
  readonly signers = new Map<string, KeyPair[]>();
  /** Exact bytes served per file name. Tests may replace entries (or use MaliciousServer overrides). */
  readonly files = new Map<string, Buffer>();

  root!: RootSigned;
  targets!: TargetsSigned;
  snapshot!: SnapshotSigned;
  timestamp!: TimestampSigned;
  /** Signed parts of delegated targets roles, by role name. */
  readonly delegates = new Map<string, TargetsSigned>();
  /** Root keys of the previous root version, which must co-sign the next root (spec 5.3.4). */
  private previousRootSigners: KeyPair[] = [];

  private constructor(options: SimulatorOptions) {
    this.gun = options.gun ?? DEFAULT_GUN;
    this.now = options.now ?? (() => new Date());
    this.lifetimes = { ...DEFAULT_LIFETIMES, ...options.lifetimes };
  }

  /** A repository with root v1, empty targets v1, snapshot v1 and timestamp v1, all published. */
  static async create(options: SimulatorOptions = {}): Promise<RepositorySimulator> {
    const sim = new RepositorySimulator(options);
    const rootKeys = options.rootKeys ?? [await generateKeyPair('ed25519')];
    sim.signers.set('root', rootKeys);
    for (const role of ['targets', 'snapshot', 'timestamp'] as const) sim.signers.set(role, [await generateKeyPair('ed25519')]);
    const roleKeys = (role: TopLevelRoleName) => ({
      keys: Object.fromEntries(sim.signers.get(role)!.map((k) => [k.keyId, k.publicKey])),
      threshold: 1,
    });
    sim.root = buildRoot({
      version: 1,
      expires: sim.expiry('root'),
      keys: { root: roleKeys('root'), targets: roleKeys('targets'), snapshot: roleKeys('snapshot'), timestamp: roleKeys('timestamp') },
    });
    sim.targets = buildTargets(1, sim.expiry('targets'));
    sim.snapshot = buildSnapshot(0, sim.expiry('snapshot'), {});
    sim.timestamp = buildTimestamp(0, sim.expiry('timestamp'), { version: 1 });
    sim.publishRoot();
    sim.commit('targets');
    sim.updateSnapshot();
    return sim;
  }

  /** `now + lifetime` of a role (delegated roles use the targets lifetime). */
  expiry(role: string, offsetMs = 0): string {
    const lifetime = this.lifetimes[role as TopLevelRoleName] ?? this.lifetimes.targets;
    return expiresAfter(new Date(this.now().getTime() + offsetMs), lifetime);
  }

  /** An expiry in the past. */
  expired(agoMs = 3600_000): string {
    return expiresAfter(new Date(this.now().getTime() - agoMs), 0);
  }

  // ---- targets -------------------------------------------------------------------------------

  /** Adds `<gun>:<tag>` -> digest to a targets role (default the top-level one); publish separately. */
  addTarget(tag: string, digest: string, size: number, role = 'targets'): void {
    const signed = this.signedOf(role) as TargetsSigned;
    signed.targets[targetName(this.gun, tag)] = { length: size, hashes: { sha256: digest.replace(/^sha256:/, '') } };
  }

  removeTarget(tag: string, role = 'targets'): void {
    delete (this.signedOf(role) as TargetsSigned).targets[targetName(this.gun, tag)];
  }

  /** Bumps and commits a targets role, then snapshot and timestamp. */
  publishTargets(role = 'targets'): void {
    const signed = this.signedOf(role) as TargetsSigned;
    signed.version += 1;
    signed.expires = this.expiry(role);
    this.commit(role);
    this.updateSnapshot();
  }

  /**
   * Delegates targets matching `match` (glob `paths`, or `path_hash_prefixes` for hashed bins) from
   * `delegator` to a new role with `keys` new keys (default 1; all of them sign, see `signers`);
   * commit it with publishTargets(name), then the delegator. Returns the first key.
   */
  async addDelegation(
    name: string,
    match: { paths: string[] } | { path_hash_prefixes: string[] },
    delegator = 'targets',
    options: { terminating?: boolean; threshold?: number; keys?: number } = {},
  ): Promise<KeyPair> {
    const keys: KeyPair[] = [];
    for (let i = 0; i < (options.keys ?? 1); i += 1) keys.push(await generateKeyPair('ed25519'));
    this.signers.set(name, keys);
    const parent = this.signedOf(delegator) as TargetsSigned;
    parent.delegations ??= { keys: {}, roles: [] };
    for (const key of keys) parent.delegations.keys[key.keyId] = key.publicKey;
    const role: DelegatedRoleInfo = {
      name,
      keyids: keys.map((key) => key.keyId),
      threshold: options.threshold ?? 1,
      terminating: options.terminating ?? false,
      ...match,
    };
    (parent.delegations.roles ??= []).push(role);
    this.delegates.set(name, buildTargets(0, this.expiry('targets')));
    return keys[0]!;
  }

  // ---- snapshot and timestamp (the server's online roles) -------------------------------------

  /** Snapshot v+1 listing the latest committed targets roles, then timestamp v+1. */
  updateSnapshot(): void {
    const meta: SnapshotSigned['meta'] = {};
    for (const role of ['targets', ...this.delegates.keys()]) {
      const version = (this.signedOf(role) as TargetsSigned).version;
      const bytes = this.files.get(`${version}.${encodeURIComponent(role)}.json`);
      if (bytes) meta[`${role}.json`] = describeFile(bytes, version);
    }
    this.snapshot.meta = meta;
    this.snapshot.version += 1;
    this.snapshot.expires = this.expiry('snapshot');
    this.commit('snapshot');
    this.updateTimestamp();
  }

  /** Timestamp v+1 listing the latest committed snapshot, signed now. */
  updateTimestamp(): void {
    this.relistSnapshot();
    this.timestamp.version += 1;
    this.timestamp.expires = this.expiry('timestamp');
    this.timestamp[TIMESTAMP_SIGNED_AT] = expiresAfter(this.now(), 0);
    this.commit('timestamp');
  }

  /** Points the timestamp at the committed snapshot (after a test edited and re-committed it). */
  relistSnapshot(): void {
    const bytes = this.files.get(`${this.snapshot.version}.snapshot.json`)!;
    this.timestamp.meta['snapshot.json'] = describeFile(bytes, this.snapshot.version);
  }

  // ---- root ----------------------------------------------------------------------------------

  /** Replaces a role's keys with `count` new keys (threshold unchanged unless given); publish the root after. */
  async rotateKeys(role: TopLevelRoleName, count = 1, threshold?: number): Promise<KeyPair[]> {
    const keys: KeyPair[] = [];
    for (let i = 0; i < count; i += 1) keys.push(await generateKeyPair('ed25519'));
    for (const k of keys) this.root.keys[k.keyId] = k.publicKey;
    this.root.roles[role] = { keyids: keys.map((k) => k.keyId), threshold: threshold ?? this.root.roles[role].threshold };
    const used = new Set(Object.values(this.root.roles).flatMap((r) => r.keyids));
    for (const keyId of Object.keys(this.root.keys)) if (!used.has(keyId)) delete this.root.keys[keyId];
    if (role === 'root') this.previousRootSigners = this.signers.get('root')!;
    this.signers.set(role, keys);
    return keys;
  }

  /**
   * Signs and publishes the current root as `N.root.json` and `root.json`: by the current root keys
   * and, after a root key rotation, by the previous ones too. Bump `root.version` first for a new root.
   */
  publishRoot(signers?: KeyPair[]): void {
    const keys = signers ?? [...this.signers.get('root')!, ...this.previousRootSigners];
    const bytes = this.serialise(signMetadata(this.root, keys));
    this.files.set(`${this.root.version}.root.json`, bytes);
    this.files.set('root.json', bytes);
    this.previousRootSigners = [];
  }

  /** The root as published (parsed), e.g. to pin it or give it as --root-file. */
  publishedRoot(version = this.root.version): Metadata<RootSigned> {
    return JSON.parse(this.files.get(`${version}.root.json`)!.toString('utf8')) as Metadata<RootSigned>;
  }

  // ---- signing and serving -------------------------------------------------------------------

  /** Signs a role's current `signed` object as is (no version bump) and stores its file(s). */
  commit(role: string, signers = this.signers.get(role)!): Buffer {
    const signed = this.signedOf(role);
    const bytes = this.serialise(signMetadata(structuredClone(signed), signers));
    if (role === 'timestamp') this.files.set('timestamp.json', bytes);
    else this.files.set(`${signed.version}.${encodeURIComponent(role)}.json`, bytes);
    if (role === 'root') this.files.set('root.json', bytes);
    return bytes;
  }

  /** Metadata bytes signed by arbitrary keys, for forgeries (not stored). */
  forge<T extends AnySigned>(signed: T, signers: KeyPair[]): Buffer {
    return this.serialise(signMetadata(structuredClone(signed), signers));
  }

  /** The file a client asks for, as a server would answer: bytes or undefined (404). */
  fetch(file: string): Buffer | undefined {
    return this.files.get(file);
  }

  /** A copy of every served file (to replay a complete, older set later). */
  capture(): Map<string, Buffer> {
    return new Map(this.files);
  }

  /** sha256 hex of bytes. */
  static sha256(bytes: Uint8Array): string {
    return createHash('sha256').update(bytes).digest('hex');
  }

  signedOf(role: string): AnySigned {
    if (role === 'root') return this.root;
    if (role === 'targets') return this.targets;
    if (role === 'snapshot') return this.snapshot;
    if (role === 'timestamp') return this.timestamp;
    const delegate = this.delegates.get(role);
    if (!delegate) throw new Error(`the simulator has no role ${role}`);
    return delegate;
  }

  private serialise(metadata: Metadata): Buffer {
    return Buffer.from(JSON.stringify(metadata));
  }
}
