/**
 * docs/migrating-from-notary.md as written, against Debian's real notary-server: the Notary collection
 * the doc describes (v1 through targets/releases, v2 in targets) is built with the notary CLI first.
 */
import test from 'ava';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { walkDoc } from './helpers/doc-walkthrough.js';
import { startNotaryServer } from './helpers/notary.js';

const GUN = 'registry.example.com/team/app';

test('the Notary migration walk-through runs as written with the installed packages', async (t) => {
  const notary = await startNotaryServer();
  t.teardown(() => notary.close());
  await notary.notary(['init', GUN]);
  await notary.notary(['addhash', GUN, 'v2', '1234', '--sha256', 'a'.repeat(64)]);
  await notary.notary(['publish', GUN]);
  await notary.notary(['delegation', 'add', GUN, 'targets/releases', await notary.delegationKey('targets/releases'), '--all-paths']);
  await notary.notary(['publish', GUN]);
  await notary.notary(['addhash', GUN, 'v1', '556', '--sha256', 'c'.repeat(64), '--roles', 'targets/releases']);
  await notary.notary(['publish', GUN]);
  const { steps } = await walkDoc(t, 'docs/migrating-from-notary.md', 'http://127.0.0.1:4443', {
    replace: { 'https://notary.example.com': notary.url },
    prepare: (work) => copyFile(notary.caFile, join(work, 'notary-ca.crt')),
  });
  t.true(steps.length >= 3);
});
