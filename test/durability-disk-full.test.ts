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

async function health(server: ServerProcess): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

volumeTest('a full disk refuses publishes with a 503; freed space resumes them; SIGKILL and SIGTERM lose nothing acknowledged', async (t) => {
  t.timeout(120_000);
  const dataDir = join(volume!, 'data');
  const filler = join(volume!, 'filler');
  let server = await startServerProcess(dataDir);
  t.teardown(async () => {
    t.log(server.stderr());
    await server.stop('SIGKILL');
  });
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
  // The last page of level's log may still have room for a publish or two; those are acknowledged.
  let refused: unknown;
  for (let i = 0; i < 20 && !refused; i += 1) await sign(`while-full-${i}`, digestOf('f')).catch((err: unknown) => (refused = err));
  t.true(refused instanceof ServerError, String(refused));
  t.regex((refused as Error).message, /no space left on device in .*db.*HTTP 503/);
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
