/**
 * The mapping of tuf-js failures to tagtrust's typed errors (client/src/tuf/error-map.ts), pinned to
 * real failures of tuf-js's own TrustedMetadataStore, so a tuf-js upgrade that changes an error class
 * or message fails here. The attack tests cover the same rules end to end.
 */
import test from 'ava';
import { TrustedMetadataStore } from 'tuf-js/dist/store.js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { generateKeyPair } from '@tagtrust/keys';
import { TagTrustError } from '@tagtrust/client';
import type { ErrorCode } from '@tagtrust/client';
import { TIMESTAMP_SIGNED_AT } from '@tagtrust/shared';
import { FailureLog, mapFailure, mapTufError, watchTrustedSet } from '../client/src/tuf/error-map.js';
import { Deadline } from '../client/src/deadline.js';
import { RepositorySimulator } from './harness/repository-simulator.js';

const GUN = 'registry.example.com/team/app';

interface Case {
  name: string;
  code: ErrorCode;
  message: RegExp;
  run: (sim: RepositorySimulator) => Promise<void> | void;
}

/** A store that trusts the simulator's root v1 and timestamp, watched by a FailureLog. */
function watchedStore(sim: RepositorySimulator, withTimestamp = true) {
  const store = new TrustedMetadataStore(sim.fetch('1.root.json')!);
  const log = new FailureLog();
  watchTrustedSet({ trustedSet: store }, log);
  if (withTimestamp) store.updateTimestamp(sim.fetch('timestamp.json')!);
  return { store, log };
}

function failure(sim: RepositorySimulator, act: (store: TrustedMetadataStore) => unknown, withTimestamp = true): TagTrustError {
  const { store, log } = watchedStore(sim, withTimestamp);
  let thrown: unknown;
  try {
    act(store);
  } catch (err) {
    thrown = err;
  }
  if (!thrown) throw new Error('expected a failure');
  return mapFailure(log.latest!, GUN);
}

const CASES: Case[] = [
  {
    name: 'ExpiredMetadataError (timestamp) -> ExpiredMetadataError',
    code: 'EXPIRED',
    message: /^timestamp v2 of registry\.example\.com\/team\/app expired at /,
    run: (sim) => {
      sim.timestamp.version += 1;
      sim.timestamp.expires = sim.expired();
      const bytes = sim.commit('timestamp');
      throw failure(sim, (s) => s.updateTimestamp(bytes), false);
    },
  },
  {
    name: 'BadVersionError (timestamp version) -> RollbackError',
    code: 'ROLLBACK',
    message: /offers timestamp v1 of .*, older than v2/,
    run: (sim) => {
      const old = sim.fetch('timestamp.json')!;
      sim.updateTimestamp();
      const { store, log } = watchedStore(sim);
      try {
        store.updateTimestamp(old);
      } catch {
        throw mapFailure(log.latest!, GUN);
      }
    },
  },
  {
    name: 'UnsignedMetadataError (timestamp) -> SignatureError',
    code: 'BAD_SIGNATURE',
    message: /^timestamp v2 of .* \(0\/1\)/,
    run: async (sim) => {
      sim.timestamp.version += 1;
      const bytes = sim.forge(sim.timestamp, [await generateKeyPair('ed25519')]);
      throw failure(sim, (s) => s.updateTimestamp(bytes), false);
    },
  },
  {
    name: 'UnsignedMetadataError (root) -> UntrustedRootError',
    code: 'UNTRUSTED_ROOT',
    message: /^root v2 of .* is not signed by the threshold of root v1's keys/,
    run: async (sim) => {
      sim.root.version += 1;
      const bytes = sim.forge(sim.root, [await generateKeyPair('ed25519')]);
      throw failure(sim, (s) => s.updateRoot(bytes), false);
    },
  },
  {
    name: 'BadVersionError (root version gap) -> BadVersionError',
    code: 'BAD_VERSION',
    message: /served root v3 of .* as 2\.root\.json/,
    run: (sim) => {
      sim.root.version += 2;
      sim.publishRoot();
      throw failure(sim, (s) => s.updateRoot(sim.fetch('3.root.json')!), false);
    },
  },
  {
    name: 'LengthOrHashMismatchError (snapshot) -> MismatchError',
    code: 'MISMATCH',
    message: /^snapshot v\d+ of .* does not match the length and hash its parent role lists/,
    run: (sim) => {
      const listed = sim.fetch(`${sim.snapshot.version}.snapshot.json`)!;
      throw failure(sim, (s) => s.updateSnapshot(Buffer.from(listed.toString().replace('"version"', ' "version"'))));
    },
  },
  {
    name: 'ValueError (wrong _type) -> MalformedMetadataError',
    code: 'MALFORMED_METADATA',
    message: /^timestamp of .* is not valid TUF metadata \(expected 'timestamp', got snapshot\)/,
    run: (sim) => {
      throw failure(sim, (s) => s.updateTimestamp(sim.fetch(`${sim.snapshot.version}.snapshot.json`)!), false);
    },
  },
  {
    name: 'TypeError (timestamp without meta) -> MalformedMetadataError',
    code: 'MALFORMED_METADATA',
    message: /is not valid TUF metadata/,
    run: (sim) => {
      const signed = { ...sim.timestamp, meta: { 'snapshot.json': 'no' } } as unknown as typeof sim.timestamp;
      delete signed[TIMESTAMP_SIGNED_AT];
      throw failure(sim, (s) => s.updateTimestamp(sim.forge(signed, sim.signers.get('timestamp')!)), false);
    },
  },
  {
    name: 'SyntaxError (invalid JSON) -> MalformedMetadataError',
    code: 'MALFORMED_METADATA',
    message: /^timestamp of .* is not valid TUF metadata \(/,
    run: (sim) => {
      throw failure(sim, (s) => s.updateTimestamp(Buffer.from('{"signed":')), false);
    },
  },
];

for (const c of CASES) {
  test(`tuf-js ${c.name}`, async (t) => {
    const sim = await RepositorySimulator.create({ gun: GUN });
    const err = await t.throwsAsync(async () => c.run(sim));
    t.true(err instanceof TagTrustError, `${err?.constructor.name}: ${err?.message}`);
    t.is((err as TagTrustError).code, c.code, err?.message);
    t.regex(err!.message, c.message);
    t.truthy(err!.cause, 'keeps the tuf-js error as cause');
  });
}

test('download failures: 404 for the timestamp is NotFound, a missing listed file and 5xx are ServerError with different messages', (t) => {
  const notFound = mapFailure({ role: 'timestamp', error: new DownloadHTTPError('HTTP 404 for x', 404) }, GUN);
  t.is(notFound.code, 'NOT_FOUND');
  t.regex(notFound.message, /collection registry\.example\.com\/team\/app has no timestamp on the server/);
  const missing = mapFailure({ role: 'snapshot', error: new DownloadHTTPError('HTTP 404 for x', 404) }, GUN);
  t.is(missing.code, 'SERVER');
  t.regex(missing.message, /the server lacks a file its metadata lists/);
  for (const status of [500, 503]) {
    const failed = mapFailure({ role: 'timestamp', error: new DownloadHTTPError(`HTTP ${status} for x`, status) }, GUN);
    t.is(failed.code, 'SERVER');
    t.regex(failed.message, new RegExp(`timestamp of registry\\.example\\.com/team/app failed: the server answered HTTP ${status} \\(a server error, not a problem with the metadata\\); retry later`));
    t.notRegex(failed.message, /lacks a file/);
  }
});

test('text fallback when nothing was recorded (a RuntimeError wrapping the cause as text)', (t) => {
  const deadline = new Deadline(60_000, 'test');
  t.teardown(() => deadline.dispose());
  const wrapped = (text: string) => new Error(`Unable to load snapshot metadata error Error: ${text}`);
  t.is(mapTufError(wrapped('snapshot.json is expired'), GUN, deadline).code, 'EXPIRED');
  t.is(mapTufError(wrapped('New version 1 of targets.json is less than current version 2'), GUN, deadline).code, 'ROLLBACK');
  t.is(mapTufError(wrapped('Expected hash ab but got cd'), GUN, deadline).code, 'MISMATCH');
  t.is(mapTufError(wrapped('snapshot was signed by 0/1 keys'), GUN, deadline).code, 'BAD_SIGNATURE');
  t.is(mapTufError(wrapped('something else'), GUN, deadline).code, 'MALFORMED_METADATA');
});

test('watchTrustedSet refuses an Updater of another shape (a tuf-js upgrade)', (t) => {
  t.throws(() => watchTrustedSet({}, new FailureLog()), { message: /not the one tagtrust supports/ });
});
