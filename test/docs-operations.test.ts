/** docs/operations.md "Backup and restore" and "Static mirrors" as written, with the installed tagtrust-server. */
import test from 'ava';
import { walkDoc } from './helpers/doc-walkthrough.js';

test('the backup, restore and mirror sessions of the operations guide run as written with the installed packages', async (t) => {
  const { steps } = await walkDoc(t, 'docs/operations.md', 'http://127.0.0.1:4443');
  t.is(steps.length, 6);
});
