import test from 'ava';
import {
  DEFAULT_DOMAIN,
  InvalidReferenceError,
  isTargetInCollection,
  parseDigest,
  parseGun,
  parseReference,
  parseTaggedReference,
  parseTargetName,
  pinnedReference,
  targetName,
} from '@tagtrust/shared';
import type { ImageReference } from '@tagtrust/shared';

const HEX = 'a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4';
const DIGEST = `sha256:${HEX}`;

function expectInvalid(t: import('ava').ExecutionContext, fn: () => unknown, label: string): InvalidReferenceError {
  const err = t.throws(fn, { instanceOf: InvalidReferenceError }, label);
  if (!err) throw new Error(`${label}: did not throw`);
  t.is(err.code, 'INVALID_REFERENCE', label);
  t.false(err.message.includes('\n'), `${label}: message is one line`);
  t.regex(err.message, /a valid [a-z ]+ (looks like|is)/, `${label}: message shows what a valid one looks like`);
  return err;
}

const valid: Array<[string, ImageReference]> = [
  // docker.io normalisation
  ['ubuntu', { gun: 'docker.io/library/ubuntu' }],
  ['ubuntu:22.04', { gun: 'docker.io/library/ubuntu', tag: '22.04' }],
  ['library/ubuntu', { gun: 'docker.io/library/ubuntu' }],
  ['docker.io/ubuntu', { gun: 'docker.io/library/ubuntu' }],
  ['docker.io/library/ubuntu:latest', { gun: 'docker.io/library/ubuntu', tag: 'latest' }],
  ['index.docker.io/ubuntu', { gun: 'docker.io/library/ubuntu' }],
  ['index.docker.io/team/app:v1', { gun: 'docker.io/team/app', tag: 'v1' }],
  ['team/app', { gun: 'docker.io/team/app' }],
  ['team/app/sub:1', { gun: 'docker.io/team/app/sub', tag: '1' }],
  ['a', { gun: 'docker.io/library/a' }],
  ['localhost', { gun: 'docker.io/library/localhost' }],
  ['localhost:5000', { gun: 'docker.io/library/localhost', tag: '5000' }],
  ['registry.example.com', { gun: 'docker.io/library/registry.example.com' }],
  [`ubuntu@${DIGEST}`, { gun: 'docker.io/library/ubuntu', digest: DIGEST }],
  // explicit registries and ports
  ['registry.example.com/team/app', { gun: 'registry.example.com/team/app' }],
  ['registry.example.com/team/app:v1', { gun: 'registry.example.com/team/app', tag: 'v1' }],
  ['registry.example.com:5000/team/app:v1', { gun: 'registry.example.com:5000/team/app', tag: 'v1' }],
  ['registry.example.com:5000/team/app', { gun: 'registry.example.com:5000/team/app' }],
  ['localhost/app', { gun: 'localhost/app' }],
  ['localhost:5000/app', { gun: 'localhost:5000/app' }],
  ['localhost:5000/app:latest', { gun: 'localhost:5000/app', tag: 'latest' }],
  ['192.168.1.10:5000/app:1', { gun: '192.168.1.10:5000/app', tag: '1' }],
  ['my-registry.example.com/app', { gun: 'my-registry.example.com/app' }],
  ['x.y/z', { gun: 'x.y/z' }],
  // IPv6
  ['[::1]/app', { gun: '[::1]/app' }],
  ['[::1]:5000/app:v1', { gun: '[::1]:5000/app', tag: 'v1' }],
  ['[2001:db8::1]:8443/team/app@' + DIGEST, { gun: '[2001:db8::1]:8443/team/app', digest: DIGEST }],
  // nested paths and separators
  ['registry.example.com/a/b/c/d/e:tag', { gun: 'registry.example.com/a/b/c/d/e', tag: 'tag' }],
  ['foo__bar', { gun: 'docker.io/library/foo__bar' }],
  ['foo_bar', { gun: 'docker.io/library/foo_bar' }],
  ['foo.bar', { gun: 'docker.io/library/foo.bar' }],
  ['foo-bar', { gun: 'docker.io/library/foo-bar' }],
  ['foo---bar/a1.b2_c3__d4-e5', { gun: 'docker.io/foo---bar/a1.b2_c3__d4-e5' }],
  // tags and digests
  ['app:_x', { gun: 'docker.io/library/app', tag: '_x' }],
  ['app:V1.0-RC_1', { gun: 'docker.io/library/app', tag: 'V1.0-RC_1' }],
  ['app:' + 'a'.repeat(128), { gun: 'docker.io/library/app', tag: 'a'.repeat(128) }],
  [`registry.example.com/team/app:v1@${DIGEST}`, { gun: 'registry.example.com/team/app', tag: 'v1', digest: DIGEST }],
  // name of exactly 255 characters
  [`registry.example.com/${'a'.repeat(234)}`, { gun: `registry.example.com/${'a'.repeat(234)}` }],
];

for (const [input, expected] of valid) {
  test(`parseReference accepts ${JSON.stringify(input.length > 60 ? input.slice(0, 60) + '...' : input)}`, (t) => {
    t.deepEqual(parseReference(input), expected);
  });
}

const invalid: Array<[string, string, RegExp?]> = [
  ['empty', ''],
  ['uppercase repository', 'Ubuntu', /lowercase/],
  ['uppercase repository after docker.io namespace', 'team/App', /lowercase/],
  ['uppercase repository under a registry', 'registry.example.com/Team/app', /lowercase/],
  ['bad tag character', 'app:v1!', /tag/],
  ['tag with slash-free colon', 'app:a:b', /tag/],
  ['tag starting with "."', 'app:.v1', /tag/],
  ['tag starting with "-"', 'app:-v1', /tag/],
  ['tag too long', 'app:' + 'a'.repeat(129), /128/],
  ['":" with empty tag', 'app:', /tag/],
  ['":" with empty tag under a registry', 'registry.example.com:5000/app:', /tag/],
  ['short digest', 'app@sha256:abc', /64/],
  ['uppercase digest hex', `app@sha256:${HEX.toUpperCase()}`, /lowercase/],
  ['uppercase digest algorithm', `app@SHA256:${HEX}`, /lowercase/],
  ['sha512 digest', `app@sha512:${HEX}${HEX}`, /sha512.*only sha256/],
  ['digest without algorithm', `app@${HEX}`, /algorithm/],
  ['empty digest', 'app@', /digest/],
  ['non-hex digest', `app@sha256:${'g'.repeat(64)}`, /hex/],
  ['two digests', `app@${DIGEST}@${DIGEST}`, /@/],
  ['trailing slash', 'registry.example.com/team/app/', /empty component/],
  ['trailing slash on a docker.io name', 'team/', /empty component/],
  ['double slash', 'registry.example.com//app', /empty component/],
  ['double slash in path', 'team//app', /empty component/],
  ['leading slash', '/app', /empty component/],
  ['registry only with slash', 'registry.example.com/', /empty/],
  ['name longer than 255', `registry.example.com/${'a'.repeat(235)}`, /255/],
  ['docker.io name longer than 255 after normalisation', 'a'.repeat(240), /255/],
  ['leading space', ' ubuntu', /whitespace/],
  ['trailing space', 'ubuntu ', /whitespace/],
  ['inner space', 'team/my app', /whitespace/],
  ['newline', 'ubuntu\n', /whitespace/],
  ['tab before tag', 'app\t:v1', /whitespace/],
  ['non-ASCII', 'café', /path component/],
  ['empty port', 'registry.example.com:/app', /port/],
  ['non-digit port', 'registry.example.com:http/app', /port/],
  ['two ports', 'registry.example.com:5000:6000/app', /port/],
  ['host component starting with "-"', '-registry.example.com/app'],
  ['host component ending with "-"', 'registry-.example.com/app'],
  ['empty host component', 'registry..example.com/app', /empty component/],
  ['underscore in host', 'my_registry.example.com/app'],
  ['unterminated IPv6', '[::1/app', /IPv6/],
  ['bad IPv6', '[zz::1]/app', /IPv6/],
  ['text after IPv6', '[::1]x/app', /IPv6/],
  ['path component ending with a separator', 'foo./bar'],
  ['path component starting with a separator', '_foo'],
  ['three underscores', 'foo___bar'],
  ['mixed separators', 'foo_-bar'],
  ['two dots', 'foo..bar'],
  ['64-hex image id', HEX, /image ID/],
  ['empty name before tag', ':v1', /empty/],
  ['empty name before digest', `@${DIGEST}`, /empty/],
  ['way too long', 'a/'.repeat(1000) + 'a'],
];

for (const [label, input, pattern] of invalid) {
  test(`parseReference rejects ${label}`, (t) => {
    const err = expectInvalid(t, () => parseReference(input), label);
    if (pattern) t.regex(err.message, pattern);
  });
}

test('parseReference rejects non-strings with InvalidReferenceError', (t) => {
  expectInvalid(t, () => parseReference(undefined as unknown as string), 'undefined');
  expectInvalid(t, () => parseReference(42 as unknown as string), 'number');
});

test('error messages quote the input escaped and truncated', (t) => {
  const err = expectInvalid(t, () => parseReference('bad\nname'), 'newline');
  t.true(err.message.includes('"bad\\nname"'));
  const long = expectInvalid(t, () => parseReference('A'.repeat(500)), 'long');
  t.true(long.message.length < 600);
});

test('DEFAULT_DOMAIN is docker.io', (t) => {
  t.is(DEFAULT_DOMAIN, 'docker.io');
});

test('parseGun normalises bare repository names', (t) => {
  t.is(parseGun('ubuntu'), 'docker.io/library/ubuntu');
  t.is(parseGun('index.docker.io/team/app'), 'docker.io/team/app');
  t.is(parseGun('registry.example.com/team/app'), 'registry.example.com/team/app');
  t.is(parseGun('registry.example.com:5000/team/app'), 'registry.example.com:5000/team/app');
  t.is(parseGun('localhost:5000/app'), 'localhost:5000/app');
  t.is(parseGun('[::1]:5000/app'), '[::1]:5000/app');
});

test('parseGun rejects tags, digests and invalid names', (t) => {
  t.regex(expectInvalid(t, () => parseGun('registry.example.com/team/app:v1'), 'tag').message, /tag "v1"/);
  t.regex(expectInvalid(t, () => parseGun(`registry.example.com/team/app@${DIGEST}`), 'digest').message, /digest/);
  t.regex(expectInvalid(t, () => parseGun('localhost:5000'), 'port without path').message, /localhost:5000\/app/);
  expectInvalid(t, () => parseGun('registry.example.com/Team/app'), 'uppercase');
  expectInvalid(t, () => parseGun(''), 'empty');
});

test('parseTaggedReference requires a tag and allows a digest', (t) => {
  t.deepEqual(parseTaggedReference('registry.example.com:5000/team/app:v1'), {
    gun: 'registry.example.com:5000/team/app',
    tag: 'v1',
  });
  t.deepEqual(parseTaggedReference(`ubuntu:22.04@${DIGEST}`), { gun: 'docker.io/library/ubuntu', tag: '22.04', digest: DIGEST });
  t.regex(expectInvalid(t, () => parseTaggedReference('registry.example.com/team/app'), 'no tag').message, /no ":tag"/);
  expectInvalid(t, () => parseTaggedReference(`registry.example.com/team/app@${DIGEST}`), 'digest only');
  expectInvalid(t, () => parseTaggedReference('registry.example.com:5000/team/app'), 'port is not a tag');
  expectInvalid(t, () => parseTaggedReference('app:'), 'empty tag');
});

test('targetName joins a normalised gun and a valid tag', (t) => {
  t.is(targetName('registry.example.com/team/app', '1.5'), 'registry.example.com/team/app:1.5');
  t.is(targetName('localhost:5000/app', 'latest'), 'localhost:5000/app:latest');
  expectInvalid(t, () => targetName('registry.example.com/team/app', ''), 'empty tag');
  expectInvalid(t, () => targetName('registry.example.com/team/app', 'a/b'), 'slash in tag');
  expectInvalid(t, () => targetName('registry.example.com/team/app', 'a'.repeat(129)), 'long tag');
  expectInvalid(t, () => targetName('registry.example.com/team/app', 'v1@x'), 'at in tag');
  t.regex(expectInvalid(t, () => targetName('ubuntu', 'latest'), 'unnormalised gun').message, /docker\.io\/library\/ubuntu/);
  expectInvalid(t, () => targetName('registry.example.com/team/app:v1', 'v2'), 'gun with tag');
});

test('parseTargetName inverts targetName for normalised names', (t) => {
  for (const [gun, tag] of [
    ['registry.example.com/team/app', '1.5'],
    ['docker.io/library/ubuntu', '22.04'],
    ['registry.example.com:5000/team/app', 'v1'],
    ['[::1]:5000/app', 'latest'],
    ['registry.example.com/team/app/sub', 'a'.repeat(128)],
  ] as const) {
    t.deepEqual(parseTargetName(targetName(gun, tag)), { gun, tag });
  }
});

test('parseTargetName rejects names that are not exactly normalised gun:tag', (t) => {
  for (const name of [
    'ubuntu:22.04',
    'library/ubuntu:22.04',
    'docker.io/ubuntu:22.04',
    'index.docker.io/library/ubuntu:22.04',
    'registry.example.com/team/app',
    'registry.example.com/team/app:',
    `registry.example.com/team/app:1.5@${DIGEST}`,
    `registry.example.com/team/app@${DIGEST}`,
    ' registry.example.com/team/app:1.5',
    'registry.example.com/team/app:1.5 ',
    'registry.example.com/team/App:1.5',
    'registry.example.com/team/app/:1.5',
    'registry.example.com:5000',
    '',
  ]) {
    t.is(parseTargetName(name), undefined, JSON.stringify(name));
  }
  t.is(parseTargetName(undefined as unknown as string), undefined);
});

test('isTargetInCollection matches the exact collection only', (t) => {
  const gun = 'registry.example.com/team/app';
  t.true(isTargetInCollection('registry.example.com/team/app:1.5', gun));
  t.true(isTargetInCollection('registry.example.com/team/app:latest', gun));
  // siblings, sub-repositories, parents and other registries are other collections
  t.false(isTargetInCollection('registry.example.com/team/app-evil:1.5', gun));
  t.false(isTargetInCollection('registry.example.com/team/app/sub:1.5', gun));
  t.false(isTargetInCollection('registry.example.com/team:app', gun));
  t.true(isTargetInCollection('registry.example.com/team:app', 'registry.example.com/team'));
  t.false(isTargetInCollection('registry.example.com:5000/team/app:1.5', gun));
  t.false(isTargetInCollection('registry.example.com/team/app:1.5', 'registry.example.com:5000/team/app'));
  t.false(isTargetInCollection('evil.example.com/team/app:1.5', gun));
  // the name must carry a tag and nothing else
  t.false(isTargetInCollection('registry.example.com/team/app', gun));
  t.false(isTargetInCollection(`registry.example.com/team/app@${DIGEST}`, gun));
  t.false(isTargetInCollection(`registry.example.com/team/app:1.5@${DIGEST}`, gun));
  t.false(isTargetInCollection('registry.example.com/team/app:', gun));
  // unnormalised names or guns never match
  t.false(isTargetInCollection('ubuntu:latest', 'ubuntu'));
  t.false(isTargetInCollection('ubuntu:latest', 'docker.io/library/ubuntu'));
  t.true(isTargetInCollection('docker.io/library/ubuntu:latest', 'docker.io/library/ubuntu'));
  t.false(isTargetInCollection('REGISTRY.example.com/team/app:1.5', gun));
});

test('parseDigest accepts only sha256 with 64 lowercase hex', (t) => {
  t.is(parseDigest(DIGEST), DIGEST);
  t.regex(expectInvalid(t, () => parseDigest(`sha512:${HEX}${HEX}`), 'sha512').message, /only sha256/);
  t.regex(expectInvalid(t, () => parseDigest(`sha256:${HEX.toUpperCase()}`), 'uppercase').message, /lowercase/);
  t.regex(expectInvalid(t, () => parseDigest(`sha256:${HEX}0`), 'too long').message, /65/);
  t.regex(expectInvalid(t, () => parseDigest(HEX), 'no prefix').message, /algorithm/);
  expectInvalid(t, () => parseDigest(''), 'empty');
  expectInvalid(t, () => parseDigest(`sha256:${HEX} `), 'trailing space');
  expectInvalid(t, () => parseDigest(`sha256:${HEX}\n`), 'trailing newline');
});

test('pinnedReference joins a normalised gun and a digest', (t) => {
  t.is(pinnedReference('registry.example.com/team/app', DIGEST), `registry.example.com/team/app@${DIGEST}`);
  t.deepEqual(parseReference(pinnedReference('localhost:5000/app', DIGEST)), { gun: 'localhost:5000/app', digest: DIGEST });
  expectInvalid(t, () => pinnedReference('registry.example.com/team/app', 'sha256:abc'), 'bad digest');
  expectInvalid(t, () => pinnedReference('ubuntu', DIGEST), 'unnormalised gun');
});
