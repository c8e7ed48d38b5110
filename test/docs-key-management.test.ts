/** docs/key-management.md as written: the four rotations; a 2-of-3 root whose keys travel (export, remove, import, passwd) to another holder who co-signs a rotation; a scoped token used, refused and revoked; the audit trails. */
import test from 'ava';
import { walkDoc } from './helpers/doc-walkthrough.js';

test('the key management sessions run as written with the installed packages', async (t) => {
  const { steps } = await walkDoc(t, 'docs/key-management.md', 'http://127.0.0.1:4443');
  t.is(steps.length, 27);
});
