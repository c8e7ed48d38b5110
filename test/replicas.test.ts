/**
 * Several tagtrust-server replicas on one PostgreSQL database, as real processes behind a
 * round-robin load balancer: concurrent publishers and pullers spread over them, one replica killed
 * with SIGKILL mid-run and restarted. No tag reported signed is lost, no puller ever fails
 * verification, and every timestamp any client was sent is the one stored for its version (no
 * forked timestamp, no rollback).
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { RepositoryError } from '@tagtrust/shared';
import { publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { startLoadBalancer, startReplica } from './helpers/replicas.js';
import type { ReplicaProcess } from './helpers/replicas.js';
import { postgres, stopStoreBackends } from './helpers/stores.js';

test.after.always(stopStoreBackends);

const digestOf = (name: string) => `sha256:${createHash('sha256').update(name).digest('hex')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A second machine of the same publisher: a new home holding copies of the private keys. */
async function copyKeys(fromHome: string): Promise<string> {
  const home = await tempHome();
  await mkdir(join(home, 'keys'), { recursive: true, mode: 0o700 });
  for (const name of await readdir(join(fromHome, 'keys'))) await copyFile(join(fromHome, 'keys', name), join(home, 'keys', name));
  return home;
}

test('3 replicas, 20 publishers, round-robin pullers, one replica SIGKILLed and restarted: nothing lost, no rollback, no fork', async (t) => {
  t.timeout(600_000);
  const databaseUrl = await (await postgres()).database();
  // Started together: the schema migration is guarded, so it runs once.
  const replicas: ReplicaProcess[] = await Promise.all([1, 2, 3].map(() => startReplica(databaseUrl)));
  t.teardown(() => Promise.all(replicas.map((r) => r.stop())).then(() => {}));
  const balancer = await startLoadBalancer(() => replicas.map((r) => r.url));
  t.teardown(() => balancer.close());

  const guns = ['a', 'b', 'c', 'd'].map((name) => `registry.example.com/replicas/${name}`);
  const firstHomes = await Promise.all(guns.map(() => tempHome()));
  for (const [i, gun] of guns.entries()) await publisherFor(balancer.url, firstHomes[i]!).init(gun);

  // 5 publishers per collection (20 in all), each signing 2 tags; a publish cut off by the kill is retried.
  const signed = new Map<string, string>();
  const publishers = await Promise.all(
    Array.from({ length: 20 }, async (_, p) => {
      const g = p % guns.length;
      const home = p < guns.length ? firstHomes[g]! : await copyKeys(firstHomes[g]!);
      return { gun: guns[g]!, p, publisher: publisherFor(balancer.url, home, { timeoutMs: 240_000, maxAttempts: 200 }) };
    }),
  );
  const publishing = publishers.map(async ({ gun, p, publisher }) => {
    for (const k of [1, 2]) {
      const reference = `${gun}:p${p}-${k}`;
      for (let attempt = 1; ; attempt += 1) {
        try {
          await publisher.sign(reference, { digest: digestOf(reference), size: 100 + p });
          signed.set(reference, digestOf(reference));
          break;
        } catch (err) {
          if (err instanceof RepositoryError || attempt >= 10) throw err;
          await sleep(200);
        }
      }
    }
  });

  // Pullers keep their trusted state (home) across updates: a rollback or a mix of files is an error.
  const verificationFailures: string[] = [];
  let pulling = true;
  const pullers = Array.from({ length: 3 }, async () => {
    const puller = pullerFor(balancer.url, await tempHome());
    while (pulling) {
      for (const gun of guns) {
        await puller.list(gun).catch((err: Error) => {
          if (err instanceof RepositoryError) verificationFailures.push(`${gun}: ${err.name}: ${err.message}`);
        });
      }
    }
  });

  const killing = (async () => {
    while (signed.size < 10) await sleep(50);
    await replicas[1]!.kill();
    await sleep(1000);
    await replicas[1]!.start();
  })();

  await Promise.all([...publishing, killing]);
  pulling = false;
  await Promise.all(pullers);

  t.deepEqual(verificationFailures, []);
  t.is(signed.size, 40);
  // Every tag reported signed is there, through every replica.
  for (const replica of replicas) {
    const puller = pullerFor(replica.url, await tempHome());
    for (const gun of guns) {
      const listed = new Map((await puller.list(gun)).map((tag) => [tag.reference, tag.digest]));
      for (const [reference, digest] of signed) if (reference.startsWith(`${gun}:`)) t.is(listed.get(reference), digest, reference);
    }
  }
  // No replica failed a request with a 500 (lost renewal races and stale caches are not errors).
  t.deepEqual(balancer.answers.filter((a) => a.status === 500).map((a) => `${a.method} ${a.path}: ${a.body.toString()}`), []);
  // Every timestamp sent to any client is the one stored for its version.
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const { rows } = await db.query<{ gun: string; version: number; body: string }>("SELECT gun, version, body FROM files WHERE role = 'timestamp'");
  const stored = new Map(rows.map((r) => [`${r.gun} ${r.version}`, r.body]));
  let served = 0;
  for (const answer of balancer.answers) {
    const match = /^\/v2\/(.+)\/_trust\/tuf\/timestamp\.json$/.exec(answer.path);
    if (!match || answer.status !== 200) continue;
    const version = (JSON.parse(answer.body.toString()) as { signed: { version: number } }).signed.version;
    served += 1;
    if (stored.get(`${match[1]} ${version}`) !== answer.body.toString()) t.fail(`a timestamp v${version} of ${match[1]} was served that is not the stored one`);
  }
  t.true(served > 20, `only ${served} timestamps were served`);
});
