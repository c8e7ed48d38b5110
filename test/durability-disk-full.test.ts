/**
 * Durability on a full disk: the data directory is a real 8 MiB tmpfs, filled until the kernel says
 * ENOSPC. Publishes fail with a 503 that says why, nothing acknowledged is lost, writes resume by
 * themselves once space is freed, and every publish acknowledged before or after the fault survives a
 * SIGKILL and a SIGTERM restart (issue 11: 89 acknowledged publishes were lost this way).
 * Mounting needs root (CAP_SYS_ADMIN); where the test cannot mount, it is skipped and says so.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerError } from '@tagtrust/client';
import type { Publisher } from '@tagtrust/client';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { startServerProcess } from './helpers/server-process.js';
import type { ServerProcess } from './helpers/server-process.js';

const GUN = 'registry.example.com/durability/app';

/** An 8 MiB tmpfs, or undefined when this process may not mount one. */
async function smallVolume(): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-volume-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
}

const volume = await smallVolume();
const volumeTest = volume ? test.serial : test.serial.skip;
if (!volume) console.log('durability-disk-full: skipped, this process may not mount a tmpfs (needs root)');
test.after.always(async () => {
  if (!volume) return;
  execFileSync('umount', ['-l', volume]);
  await rm(volume, { recursive: true, force: true });
});

/** Writes to `file` until the volume is full; returns how many bytes fit. */
async function fill(file: string): Promise<number> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += (await handle.write(chunk)).bytesWritten;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close();
  }
  return written;
}

/**
 * Signs tags on a full volume until the server refuses one; returns that error. The last page of
 * level's log may still have room for a publish or two: those are acknowledged (`onAcknowledged`).
 */
async function refusedSign(publisher: Publisher, gun: string, onAcknowledged: (tag: string) => void = () => {}): Promise<Error> {
  for (let i = 0; i < 20; i += 1) {
    try {
      await publisher.sign(`${gun}:while-full-${i}`, { digest: digestOf('f'), size: 10 });
      onAcknowledged(`while-full-${i}`);
    } catch (err) {
      return err as Error;
    }
  }
  throw new Error('20 publishes on a full volume were all acknowledged');
}

async function health(server: ServerProcess): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

volumeTest('a full disk refuses publishes with a 503; freed space resumes them; SIGKILL and SIGTERM lose nothing acknowledged', async (t) => {
  t.timeout(120_000);
  const dataDir = join(volume!, 'data');
  const filler = join(volume!, 'filler');
  let server = await startServerProcess(dataDir);
  t.teardown(() => server.stop('SIGKILL'));
  const home = await tempHome();
  let publisher = publisherFor(server.url, home);
  await publisher.init(GUN);
  const acknowledged = new Map<string, string>();
  const sign = async (tag: string, digest: string) => {
    await publisher.sign(`${GUN}:${tag}`, { digest, size: 10 });
    acknowledged.set(tag, digest);
  };
  for (let i = 0; i < 5; i += 1) await sign(`before-${i}`, digestOf(String(i)));

  t.true((await fill(filler)) > 0);
  const refused = await refusedSign(publisher, GUN, (tag) => acknowledged.set(tag, digestOf('f')));
  t.true(refused instanceof ServerError, String(refused));
  t.regex(refused.message, /no space left on device in .*db.*HTTP 503/);
  t.is((await health(server)).status, 503, '/readyz fails while the store cannot write');
  t.regex(server.stderr(), /storage write failed: no space left on device in /);
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${GUN}:before-4`)).digest, digestOf('4'), 'reads go on');

  await rm(filler);
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await sign('after-0', digestOf('a'));
      break;
    } catch (err) {
      if (!(err instanceof ServerError) || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  t.is((await health(server)).status, 200);
  for (let i = 1; i < 30; i += 1) await sign(`after-${i}`, digestOf((i % 10).toString()));

  const resolveAll = async () => {
    const puller = pullerFor(server.url, home);
    for (const [tag, digest] of acknowledged) t.is((await puller.resolve(`${GUN}:${tag}`)).digest, digest, tag);
    const fresh = pullerFor(server.url, await tempHome());
    t.is((await fresh.list(GUN)).length, acknowledged.size);
  };
  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    await server.stop(signal);
    server = await startServerProcess(dataDir);
    publisher = publisherFor(server.url, home);
    await resolveAll();
    await sign(`after-${signal}`, digestOf('b'));
  }

  // Restarting while the disk is full says why instead of "Database failed to open".
  await server.stop('SIGKILL');
  await fill(filler);
  const failed = await t.throwsAsync(startServerProcess(dataDir));
  t.regex((failed as Error & { stderr: string }).stderr, /^tagtrust-server: cannot open the database: no space left on device in .*db; free space/m);
  t.notRegex((failed as Error & { stderr: string }).stderr, /Database failed to open|\n\s+at /);
  await rm(filler);
  server = await startServerProcess(dataDir);
  await resolveAll();
});

volumeTest('renewal on a full disk: the stored timestamp is served while valid, the failure is reported, an expired one is a 503', async (t) => {
  t.timeout(120_000);
  const dataDir = join(volume!, 'renewal');
  const filler = join(volume!, 'filler');
  const server = await startServerProcess(dataDir, ['--timestamp-lifetime', '30s', '--access-log']);
  t.teardown(async () => {
    await server.stop('SIGKILL');
    await rm(filler, { force: true });
  });
  const gun = `${GUN}-renewal`;
  const publisher = publisherFor(server.url, await tempHome());
  await publisher.init(gun);
  await publisher.sign(`${gun}:v1`, { digest: digestOf('a'), size: 10 });
  const timestamp = async () => {
    const response = await fetch(`${server.url}/v2/${gun}/_trust/tuf/timestamp.json`);
    return { status: response.status, body: (await response.json()) as { signed?: { version: number; expires: string }; error?: { message: string } } };
  };
  await fill(filler);
  await refusedSign(publisher, gun);
  const before = await timestamp();

  // Renewal is due at half the lifetime (15 s); the stored timestamp stays valid until 30 s.
  await new Promise((resolve) => setTimeout(resolve, Date.parse(before.body.signed!.expires) - 14_000 - Date.now()));
  for (let i = 0; i < 3; i += 1) {
    const served = await timestamp();
    t.is(served.status, 200);
    t.deepEqual(served.body.signed, before.body.signed, 'the stored, still valid timestamp');
  }
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${gun}:v1`)).digest, digestOf('a'));
  const ready = await health(server);
  t.is(ready.status, 503);
  t.like(ready.body, { status: 'degraded', renewal: { failing: 1 } });
  t.regex(server.stderr(), new RegExp(`renewing snapshot/timestamp of ${gun.replaceAll('.', '\\.')} failed .*no space left on device in`));
  // The failure was met serving a read: its log entry names that request (logging/request-context.ts),
  // whose own entry --access-log puts in the log.
  const entries = server.stderr().trim().split('\n').map((line) => JSON.parse(line) as { msg: string; requestId?: string; path?: string });
  const failure = entries.find((entry) => entry.msg.startsWith(`renewing snapshot/timestamp of ${gun} failed`));
  t.like(entries.find((entry) => entry.path !== undefined && entry.requestId === failure?.requestId), { path: `/v2/${gun}/_trust/tuf/timestamp.json` });

  // Expired and still not renewable: never served; the client calls it a server error.
  await new Promise((resolve) => setTimeout(resolve, Date.parse(before.body.signed!.expires) + 1_000 - Date.now()));
  const expired = await timestamp();
  t.is(expired.status, 503);
  t.regex(expired.body.error!.message, /has expired and the server cannot renew it \(.*no space left on device in /);
  const failed = await t.throwsAsync(pullerFor(server.url, await tempHome()).resolve(`${gun}:v1`), { instanceOf: ServerError });
  t.regex(failed.message, /HTTP 503 \(a server error, not a problem with the metadata\)/);

  await rm(filler);
  const deadline = Date.now() + 20_000;
  while ((await timestamp()).status !== 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
  t.is((await pullerFor(server.url, await tempHome()).resolve(`${gun}:v1`)).digest, digestOf('a'));
  t.is((await health(server)).status, 200);
});
