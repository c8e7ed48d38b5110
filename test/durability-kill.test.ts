/**
 * kill -9 loop (issue 11): the real server process is killed with SIGKILL while two publishers sign,
 * five times; after each restart on the same data directory every publish it had acknowledged is
 * served, and the publishers' homes go on signing (no rollback).
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PASSPHRASES, digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { KeyStore } from '../client/src/keystore.js';
import { startServerProcess } from './helpers/server-process.js';

const GUN = 'registry.example.com/durability/kill';

test('five SIGKILLs while two publishers sign: every acknowledged publish is there after each restart', async (t) => {
  t.timeout(300_000);
  const dataDir = await mkdtemp(join(tmpdir(), 'tagtrust-kill-'));
  let server = await startServerProcess(dataDir);
  t.teardown(async () => {
    await server.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });
  const home = await tempHome();
  await publisherFor(server.url, home).init(GUN);
  // One decrypted key for all the publishers of this home (the key store outlives each server process).
  const keyStore = new KeyStore(home, async () => PASSPHRASES.targets);
  const pullerHome = await tempHome();
  const acknowledged = new Map<string, string>();

  for (let cycle = 0; cycle < 5; cycle += 1) {
    const url = server.url;
    const signer = async (name: string) => {
      const publisher = publisherFor(url, home, { timeoutMs: 5_000, keyStore });
      for (let i = 0; ; i += 1) {
        const tag = `c${cycle}-${name}-${i}`;
        const digest = digestOf(String(i % 10));
        try {
          await publisher.sign(`${GUN}:${tag}`, { digest, size: 10 });
        } catch {
          return; // the server was killed under this publish: not acknowledged
        }
        acknowledged.set(tag, digest);
      }
    };
    const before = acknowledged.size;
    const signing = Promise.all([signer('a'), signer('b')]);
    // Kill once this cycle has an acknowledged publish, at a different point of the signing each time.
    for (const limit = Date.now() + 30_000; acknowledged.size === before && Date.now() < limit; ) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 150 * cycle));
    await server.stop('SIGKILL');
    await signing;
    server = await startServerProcess(dataDir);
    const listed = new Map((await pullerFor(server.url, pullerHome).list(GUN)).map((tag) => [tag.tag, tag.digest]));
    for (const [tag, digest] of acknowledged) t.is(listed.get(tag), digest, `cycle ${cycle}: ${tag}`);
  }
  t.log(`${acknowledged.size} acknowledged publishes over 5 kills, all served after each restart`);
  t.true(acknowledged.size >= 5, 'each cycle acknowledged at least one publish before the kill');
});
