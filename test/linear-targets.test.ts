/**
 * The client's linear-time Targets.fromJSON / toJSON (client/src/tuf/linear-targets.ts) must give
 * exactly what the original @tufjs/models methods give, and fail alike on malformed targets.
 */
import test from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { Targets } from '@tufjs/models';
import { originalTargets } from '../client/src/tuf/linear-targets.js';

const entry = (i: number) => ({ length: 100 + i, hashes: { sha256: i.toString(16).padStart(64, '0') }, custom: { mediaType: 'application/json', n: i } });

function sample(n: number): Record<string, unknown> {
  const targets: Record<string, unknown> = {};
  for (let i = 0; i < n; i += 1) targets[`registry.example.com/team/app:v${i}`] = entry(i);
  targets['10'] = entry(1); // integer-like keys sort first in both implementations
  Object.defineProperty(targets, '__proto__', { value: entry(2), enumerable: true, configurable: true, writable: true });
  return {
    _type: 'targets',
    spec_version: '1.0.31',
    version: 7,
    expires: '2030-01-01T00:00:00Z',
    targets,
    delegations: { keys: {}, roles: [] },
    x_unrecognised: { kept: true },
  };
}

test('fromJSON and toJSON match the original @tufjs/models methods', (t) => {
  const data = sample(50);
  const linear = Targets.fromJSON(structuredClone(data) as never);
  const original = originalTargets.fromJSON(structuredClone(data) as never);
  t.true(isDeepStrictEqual(linear, original));
  t.deepEqual(Object.keys(linear.targets), Object.keys(original.targets));
  const linearJson = linear.toJSON();
  const originalJson = originalTargets.toJSON.call(original);
  t.true(isDeepStrictEqual(linearJson, originalJson));
  t.is(JSON.stringify(linearJson), JSON.stringify(originalJson));
  t.true(Object.hasOwn(linear.targets, '__proto__'));
  t.is(Object.getPrototypeOf(linear.targets), Object.prototype);
});

test('fromJSON without targets and with malformed targets behaves like the original', (t) => {
  const { targets: _dropped, ...withoutTargets } = sample(1);
  t.deepEqual(Targets.fromJSON(structuredClone(withoutTargets) as never).targets, originalTargets.fromJSON(structuredClone(withoutTargets) as never).targets);
  for (const targets of [5, 'text', { a: 1 }, { a: null }]) {
    const bad = { ...sample(0), targets };
    const original = t.throws(() => originalTargets.fromJSON(structuredClone(bad) as never));
    const linear = t.throws(() => Targets.fromJSON(structuredClone(bad) as never));
    t.is(linear?.constructor, original?.constructor, JSON.stringify(targets));
  }
});

test('10,000 targets load and serialise in well under a second', (t) => {
  const data = sample(10_000);
  const start = performance.now();
  const targets = Targets.fromJSON(data as never);
  targets.toJSON();
  t.true(performance.now() - start < 1000, `${performance.now() - start} ms`);
});

test('Snapshot fromJSON and toJSON match the original @tufjs/models methods (hashed bins list 257+ files)', async (t) => {
  const { Snapshot } = await import('@tufjs/models');
  const { originalSnapshot } = await import('../client/src/tuf/linear-targets.js');
  const meta: Record<string, unknown> = { 'targets.json': { version: 3 } };
  for (let i = 0; i < 300; i += 1) meta[`targets/bin-${i.toString(16).padStart(3, '0')}.json`] = { version: i + 1, length: 100 + i, hashes: { sha256: i.toString(16).padStart(64, '0') } };
  const data = { _type: 'snapshot', spec_version: '1.0.31', version: 9, expires: '2030-01-01T00:00:00Z', meta, x_unrecognised: 1 };
  const linear = Snapshot.fromJSON(structuredClone(data) as never);
  const original = originalSnapshot.fromJSON(structuredClone(data) as never);
  t.true(isDeepStrictEqual(linear, original));
  t.is(JSON.stringify(linear.toJSON()), JSON.stringify(originalSnapshot.toJSON.call(original)));
  t.is(JSON.stringify(Snapshot.fromJSON(structuredClone({ ...data, meta: undefined }) as never).toJSON()), JSON.stringify(originalSnapshot.fromJSON(structuredClone({ ...data, meta: undefined }) as never).toJSON()));
  for (const bad of [{ ...data, meta: 'x' }, { ...data, meta: { 'targets.json': 5 } }, { ...data, meta: null }]) {
    const a = t.throws(() => Snapshot.fromJSON(structuredClone(bad) as never));
    const b = t.throws(() => originalSnapshot.fromJSON(structuredClone(bad) as never));
    t.is(a?.message, b?.message);
  }
});
