/** canonicalBytes must produce exactly what @tufjs/canonical-json (the reference tuf-js uses) produces. */
import test from 'ava';
import { canonicalize } from '@tufjs/canonical-json';
import { canonicalBytes } from '@tagtrust/shared';

const SAMPLES: unknown[] = [
  0,
  -0,
  -17,
  2 ** 53 - 1,
  1e21,
  true,
  false,
  null,
  '',
  'plain',
  'quote " and backslash \\ and both \\"',
  'control \u0000\u0001\n\t\r and unicode é 漢字 \u{1F600} \u2028',
  [],
  [1, 'two', [3, { four: 4 }], null],
  {},
  { b: 1, a: 2, A: 3, _: 4, '\u00e9': 5, aa: 6, 'a"b': 7, 'k\\': [{ z: null, y: true }] },
  {
    signed: {
      _type: 'targets',
      spec_version: '1.0.31',
      version: 12,
      expires: '2030-01-01T00:00:00Z',
      targets: { 'registry.example.com/team/app:v1': { length: 1234, hashes: { sha256: 'ab'.repeat(32) }, custom: { mediaType: 'application/vnd.oci.image.manifest.v1+json' } } },
    },
    signatures: [{ keyid: 'cd'.repeat(32), sig: 'ef'.repeat(64) }],
  },
];

test('canonicalBytes matches @tufjs/canonical-json', (t) => {
  for (const sample of SAMPLES) t.is(canonicalBytes(sample).toString('utf8'), canonicalize(sample), JSON.stringify(sample));
});

test('canonicalBytes matches on random nested documents', (t) => {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const chars = 'aZ09_-"\\é\u0001 :/.';
  const text = () => Array.from({ length: Math.floor(random() * 8) }, () => chars[Math.floor(random() * chars.length)]).join('');
  const value = (depth: number): unknown => {
    const kind = Math.floor(random() * (depth > 3 ? 4 : 6));
    if (kind === 0) return Math.floor(random() * 2e6) - 1e6;
    if (kind === 1) return text();
    if (kind === 2) return random() < 0.5;
    if (kind === 3) return null;
    if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [text(), value(depth + 1)]));
  };
  for (let i = 0; i < 300; i += 1) {
    const doc = value(0);
    t.is(canonicalBytes(doc).toString('utf8'), canonicalize(doc));
  }
});

test('canonicalBytes refuses what canonical JSON cannot express', (t) => {
  for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, undefined, { a: undefined }, [undefined], () => 1, 10n]) {
    t.throws(() => canonicalBytes(bad), { instanceOf: TypeError }, String(bad));
  }
});
