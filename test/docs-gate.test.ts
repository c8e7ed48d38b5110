/**
 * docs/gate.md "Try it on one machine" as written: the installed tagtrust gate between skopeo and
 * Debian's docker-registry, serving the signed manifest after the registry's tag was moved.
 */
import test from 'ava';
import { join } from 'node:path';
import { walkDoc } from './helpers/doc-walkthrough.js';
import { buildImage } from './helpers/oci-image.js';
import { freePort } from './helpers/ports.js';
import { startRegistry } from './helpers/registry.js';

test('the gate walk-through runs as written with the installed packages', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.close());
  const gatePort = await freePort();
  const { steps } = await walkDoc(t, 'docs/gate.md', 'http://127.0.0.1:4443', {
    replace: { '127.0.0.1:5001': registry.host, '127.0.0.1:5000': `127.0.0.1:${gatePort}` },
    prepare: async (work) => {
      await buildImage(join(work, 'app'), '1.0', 'the release');
      await buildImage(join(work, 'app'), '2.0', 'something else');
    },
  });
  t.is(steps.length, 10);
  // Digests are normalised when outputs are compared: check here that the gate served the signed one.
  const signed = /^Signed \S+ -> (sha256:[0-9a-f]{64})/m.exec(steps[1]!.output.join('\n'))?.[1];
  const [, , , , , , fromRegistry, fromGate] = steps.map((step) => step.output.join('\n'));
  t.truthy(signed);
  t.is(fromGate, signed);
  t.not(fromRegistry, signed, 'the registry serves the moved tag');
});
