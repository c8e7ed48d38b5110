import test from 'ava';
import { digestOf } from './helpers/client.js';
import { attackFixture } from './harness/fixture.js';
import { trustedVersions } from './harness/attack.js';

test('harness: an honest simulated repository resolves, and publishes new versions', async (t) => {
  const { sim, puller, home, gun, ref } = await attackFixture(t);
  t.is((await puller().resolve(ref)).digest, digestOf('a'));
  t.deepEqual(await trustedVersions(home, gun), { root: 1, timestamp: 2, snapshot: 2, targets: 2 });
  sim.addTarget('v1', digestOf('b'), 100);
  sim.publishTargets();
  t.is((await puller().resolve(ref)).digest, digestOf('b'));
  t.deepEqual(await trustedVersions(home, gun), { root: 1, timestamp: 3, snapshot: 3, targets: 3 });
});

test('harness: delegated targets roles (for later delegation and hashed-bin attack tests)', async (t) => {
  const { sim, puller, gun } = await attackFixture(t);
  await sim.addDelegation('releases', { paths: [`${gun}:rel-*`] });
  sim.addTarget('rel-1', digestOf('c'), 100, 'releases');
  sim.publishTargets('releases');
  sim.publishTargets();
  t.is((await puller().resolve(`${gun}:rel-1`)).digest, digestOf('c'));
  t.is((await puller().resolve(`${gun}:v1`)).digest, digestOf('a'));
});
