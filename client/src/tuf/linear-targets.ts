/**
 * Linear-time (de)serialisation of targets for @tufjs/models 4.1.1, installed once on import.
 *
 * @tufjs/models builds the `targets` map of Targets.fromJSON and Targets#toJSON with an object spread
 * inside a reduce, which copies the map once per entry: quadratic in the number of tags (about 0.1 s
 * at 1,000 tags, 25 s at 10,000). tuf-js runs both on every refresh, even when nothing was
 * downloaded (fromJSON to load targets, toJSON to verify its signature). These wrappers let the
 * original methods do everything except the `targets` map, which they build in one pass. Same
 * result, same errors for malformed input (test/linear-targets.test.ts compares with the originals).
 * Snapshot.fromJSON / toJSON build the snapshot's `meta` map the same way: with hashed bins the
 * snapshot lists 257+ files and every refresh paid that square too; wrapped the same way below.
 * Remove when @tufjs/models builds these maps in linear time.
 */
import { MetaFile, Snapshot, TargetFile, Targets } from '@tufjs/models';

type TargetsJson = Parameters<typeof Targets.fromJSON>[0];
type TargetJson = Parameters<typeof TargetFile.fromJSON>[1];
/** `targets` is readonly in the types; the wrappers replace it right after construction. */
type Mutable = { targets: Targets['targets'] };

const originalFromJSON = Targets.fromJSON.bind(Targets);
const originalToJSON = Targets.prototype.toJSON;

/** The unpatched methods, for tests. */
export const originalTargets = { fromJSON: originalFromJSON, toJSON: originalToJSON };

/** Sets an own enumerable property, also for a key named `__proto__` (as the original's spread does). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function isObjectRecord(value: unknown): value is Record<string, TargetJson> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'object' && v !== null);
}

function fromJSON(data: TargetsJson): Targets {
  const { targets, ...rest } = data;
  const result = originalFromJSON(rest);
  if (targets !== undefined) {
    if (!isObjectRecord(targets)) throw new TypeError('targets must be an object');
    const map: Record<string, TargetFile> = {};
    for (const [path, target] of Object.entries(targets)) define(map, path, TargetFile.fromJSON(path, target));
    (result as unknown as Mutable).targets = map;
  }
  return result;
}

function toJSON(this: Targets) {
  const self = this as unknown as Mutable;
  const targets = self.targets;
  self.targets = {};
  let json: ReturnType<typeof originalToJSON>;
  try {
    json = originalToJSON.call(this);
  } finally {
    self.targets = targets;
  }
  const map: Record<string, unknown> = {};
  for (const [path, target] of Object.entries(targets)) define(map, path, target.toJSON());
  json.targets = map as unknown as NonNullable<(typeof json)['targets']>;
  return json;
}

Targets.fromJSON = fromJSON as typeof Targets.fromJSON;
Targets.prototype.toJSON = toJSON;

type SnapshotJson = Parameters<typeof Snapshot.fromJSON>[0];
type MutableSnapshot = { meta: Snapshot['meta'] };

const originalSnapshotFromJSON = Snapshot.fromJSON.bind(Snapshot);
const originalSnapshotToJSON = Snapshot.prototype.toJSON;

/** The unpatched Snapshot methods, for tests. */
export const originalSnapshot = { fromJSON: originalSnapshotFromJSON, toJSON: originalSnapshotToJSON };

function snapshotFromJSON(data: SnapshotJson): Snapshot {
  const { meta, ...rest } = data as SnapshotJson & { meta?: unknown };
  const result = originalSnapshotFromJSON(rest as SnapshotJson);
  if (meta !== undefined) {
    if (!isObjectRecord(meta)) throw new TypeError('meta field is malformed');
    const map: Record<string, MetaFile> = {};
    for (const [path, file] of Object.entries(meta)) define(map, path, MetaFile.fromJSON(file as never));
    (result as unknown as MutableSnapshot).meta = map;
  }
  return result;
}

function snapshotToJSON(this: Snapshot) {
  const self = this as unknown as MutableSnapshot;
  const meta = self.meta;
  self.meta = {};
  let json: ReturnType<typeof originalSnapshotToJSON>;
  try {
    json = originalSnapshotToJSON.call(this);
  } finally {
    self.meta = meta;
  }
  const map: Record<string, unknown> = {};
  for (const [path, file] of Object.entries(meta)) define(map, path, file.toJSON());
  json.meta = map as unknown as (typeof json)['meta'];
  return json;
}

Snapshot.fromJSON = snapshotFromJSON as typeof Snapshot.fromJSON;
Snapshot.prototype.toJSON = snapshotToJSON;
