/**
 * Staged approvals across replicas on one PostgreSQL database: approvals of one pending change that
 * reach two replicas at the same moment are serialised by the store's collection lock, so neither
 * signature is lost and the change publishes once its threshold is met. (The window between reading
 * and writing a change is a few ms: this test does not reliably fail without the lock; the lock, held
 * around every read-then-write of the staging area, is the guarantee.)
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startServer } from '@tagtrust/server';
import type { RunningServer } from '@tagtrust/server';
import { digestOf, publisherFor, pullerFor, tempHome } from './helpers/client.js';
import { ADMIN_TOKEN, secretCheckedLog } from './helpers/server.js';
import { MASTER_KEY } from './helpers/replicas.js';
import { postgres, stopStoreBackends } from './helpers/stores.js';

test.after.always(stopStoreBackends);

const GUN = 'registry.example.com/replicas/approvals';

test('approvals of one change on two replicas at once: both count, the change publishes', async (t) => {
  const databaseUrl = await (await postgres()).database();
  const servers: RunningServer[] = [];
  for (let i = 0; i < 2; i += 1) {
    const dataDir = await mkdtemp(join(tmpdir(), 'tagtrust-replica-'));
    servers.push(await startServer({ listen: '127.0.0.1:0', dataDir, databaseUrl, masterKey: MASTER_KEY, adminToken: ADMIN_TOKEN, log: secretCheckedLog(t) }));
  }
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  const [a, b] = servers as [RunningServer, RunningServer];
  const owner = publisherFor(a.url, await tempHome());
  await owner.init(GUN);
  const homes = await Promise.all([0, 1, 2].map(() => tempHome()));
  const keys = await Promise.all(homes.map((home, i) => publisherFor(a.url, home).generateKey(`release${i}`)));
  await owner.addDelegation(GUN, 'targets/release', { keys: keys.map((k) => k.publicKey), threshold: 3, paths: ['v*'] });

  for (let round = 1; round <= 3; round += 1) {
    const tag = `${GUN}:v${round}`;
    const proposed = await publisherFor(a.url, homes[0]!).sign(tag, { digest: digestOf(String(round)), size: 10 }, { role: 'targets/release' });
    t.truthy(proposed.pending, 'staged: 1 of 3');
    const [first, second] = await Promise.all([
      publisherFor(a.url, homes[1]!).approve(GUN, 'targets/release'),
      publisherFor(b.url, homes[2]!).approve(GUN, 'targets/release'),
    ]);
    t.true(first.published || second.published, `round ${round}: the third signature publishes the change`);
    t.is((await pullerFor(b.url, await tempHome()).resolve(tag)).digest, digestOf(String(round)));
  }
});
