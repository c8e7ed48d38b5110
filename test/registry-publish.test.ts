/**
 * The publisher side against a real registry (Debian's docker-registry, images pushed with skopeo):
 * `sign --digest` without `--size` reads the manifest by digest, `sign --oci-layout`, `push` signs
 * exactly the manifest it pushed, and `drift` reports moved, missing and unsigned tags.
 */
import test from 'ava';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publisherFor, pullerFor, runCli, tempHome } from './helpers/client.js';
import { HostileRegistry } from './helpers/hostile-registry.js';
import { buildImage, buildIndex } from './helpers/oci-image.js';
import type { BuiltManifest } from './helpers/oci-image.js';
import { pushImage, skopeo, startRegistry } from './helpers/registry.js';
import type { TestRegistry } from './helpers/registry.js';
import { startTestServer } from './helpers/server.js';
import type { TestServer } from './helpers/server.js';

let server: TestServer;
let registry: TestRegistry;
let home: string;
let layout: string;
let a: BuiltManifest;
let b: BuiltManifest;
let multi: BuiltManifest;
let gun: string;

test.before(async () => {
  [server, registry] = await Promise.all([startTestServer(), startRegistry()]);
  layout = await mkdtemp(join(tmpdir(), 'tagtrust-layout-'));
  a = await buildImage(layout, 'a', 'image a');
  b = await buildImage(layout, 'b', 'image b');
  multi = await buildIndex(layout, 'multi', 'pushed index', ['amd64', 'arm64']);
  home = await tempHome();
  gun = `${registry.host}/team/pub`;
  await publisherFor(server.url, home).init(gun);
  await pushImage(a.source, registry.host, 'team/pub:a');
});

test.after.always(async () => {
  await registry?.close();
  await server?.close();
});

const cli = (args: string[]) => runCli([...args, '--registry', registry.url], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
const resolved = async (ref: string) => pullerFor(server.url, await tempHome()).resolve(ref);

test('sign --digest without --size reads size and media type from the registry by digest', async (t) => {
  const result = await cli(['sign', `${gun}:from-registry`, '--digest', a.digest]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, new RegExp(`manifests/${a.digest}: ${a.size} bytes, application/vnd.oci.image.manifest.v1\\+json`));
  t.like(await resolved(`${gun}:from-registry`), { digest: a.digest, size: a.size, mediaType: a.mediaType });

  const absent = await cli(['sign', `${gun}:absent`, '--digest', b.digest]);
  t.is(absent.code, 5, absent.stderr);
  t.regex(absent.stderr, /^tagtrust: .*manifest sha256:\w+: the registry does not have it \(HTTP 404/);
});

test('sign --digest refuses a registry that serves other bytes for the digest (exit 23), signing nothing', async (t) => {
  const hostile = await HostileRegistry.start();
  t.teardown(() => hostile.close());
  hostile.replies.set(`/v2/team/pub/manifests/${b.digest}`, { bytes: a.bytes });
  const result = await runCli(['sign', `${gun}:forged`, '--digest', b.digest, '--registry', hostile.url], { TAGTRUST_SERVER: server.url, TAGTRUST_HOME: home });
  t.is(result.code, 23, result.stderr);
  t.regex(result.stderr, /the registry served other bytes/);
  await t.throwsAsync(resolved(`${gun}:forged`), { message: /not signed/ });
});

test('sign --oci-layout DIR:tag signs the manifest built locally', async (t) => {
  const result = await cli(['sign', `${gun}:local`, '--oci-layout', `${layout}:b`]);
  t.is(result.code, 0, result.stderr);
  t.like(await resolved(`${gun}:local`), { digest: b.digest, size: b.size, mediaType: b.mediaType });
  const ambiguous = await cli(['sign', `${gun}:local`, '--oci-layout', layout]);
  t.is(ambiguous.code, 3);
  t.regex(ambiguous.stderr, /holds \d+ manifests .*: name one as .*:TAG/);
});

test('push uploads a multi-arch image and signs exactly the manifest pushed', async (t) => {
  const result = await cli(['push', `${layout}:multi`, `${gun}:pushed`]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, new RegExp(`Pushed .*team/pub:pushed -> ${multi.digest} \\(4 blobs, 3 manifests\\)\\nSigned ${gun.replace(/\./g, '\\.')}:pushed -> ${multi.digest}`));
  const served = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/team/pub:pushed`]);
  t.is(served.stdout, multi.bytes.toString());
  t.like(await resolved(`${gun}:pushed`), { digest: multi.digest, size: multi.size, mediaType: multi.mediaType });
});

test('drift reports moved, missing and unsigned tags with exit 40; none: exit 0', async (t) => {
  const driftGun = `${registry.host}/team/drift`;
  const publisher = publisherFor(server.url, home);
  await publisher.init(driftGun);
  for (const tag of ['stays', 'moves']) await pushImage(a.source, registry.host, `team/drift:${tag}`);
  for (const tag of ['stays', 'moves', 'gone']) await publisher.sign(`${driftGun}:${tag}`, { digest: a.digest, size: a.size });
  const clean = await cli(['drift', `${driftGun}`]);
  t.is(clean.code, 40, 'gone is signed but not in the registry');

  await pushImage(b.source, registry.host, 'team/drift:moves');
  await pushImage(b.source, registry.host, 'team/drift:extra');
  const result = await cli(['drift', driftGun, '--json']);
  t.is(result.code, 40, result.stderr);
  t.like(JSON.parse(result.stdout), {
    gun: driftGun,
    ok: [{ tag: 'stays', digest: a.digest }],
    moved: [{ tag: 'moves', signed: a.digest, served: b.digest }],
    missing: [{ tag: 'gone', signed: a.digest }],
    unsigned: [{ tag: 'extra', served: b.digest }],
  });
  const text = await cli(['drift', driftGun]);
  t.regex(text.stdout, /^moved {5}.*:moves {2}signed sha256:\w+, the registry serves sha256:\w+$/m);
  t.regex(text.stdout, /1 of 3 signed tags as signed; 1 moved, 1 missing, 1 unsigned/);

  await publisher.sign(`${driftGun}:moves`, { digest: b.digest, size: b.size });
  await publisher.sign(`${driftGun}:extra`, { digest: b.digest, size: b.size });
  await publisher.unsign(`${driftGun}:gone`);
  const none = await cli(['drift', driftGun]);
  t.is(none.code, 0, none.stdout + none.stderr);
  t.regex(none.stdout, /3 of 3 signed tags as signed; 0 moved, 0 missing, 0 unsigned/);
});
