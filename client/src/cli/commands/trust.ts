/** `tagtrust trust pin|show|forget` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { clientOptions } from '../command.js';

const USAGE = `tagtrust trust pin <gun>|<prefix>/* (--root-file FILE | --root-keyid ID)
       tagtrust trust show [<gun>] [--json]
       tagtrust trust forget <gun>`;

export const trustCommand: Command = {
  name: 'trust',
  usage: USAGE,
  summary: 'pin the roots pullers start from; show or forget what this home trusts',
  details: `pin:    a collection's first root must be FILE, or be signed by root key ID. A prefix pin
        (registry.example.com/team/*) covers every collection under it: pin an organisation once.
        The most specific pin wins. Pins apply on first contact; later roots follow the root chain.
show:   pins, and trusted collections with their root version, root keys and timestamp.
forget: drop a collection's trusted metadata (the next pull starts from its pin, --root-file or TOFU).
Strict mode (--no-tofu on resolve/list/verify, or TAGTRUST_NO_TOFU=1) refuses unpinned collections.`,
  options: { 'root-file': { type: 'string' }, 'root-keyid': { type: 'string' }, json: { type: 'boolean' } },
  positionals: [1, 2],
  async run([action, target], values, out) {
    const admin = await import('../../trust/trust-admin.js');
    const { resolveHome } = await import('../../options.js');
    const home = resolveHome((await clientOptions(values)).home);
    if (action === 'pin') {
      if (!target) throw new UsageError(`trust pin needs a collection or prefix; usage: ${USAGE}`);
      const pin = await admin.pinCollection(home, target, {
        rootFile: values['root-file'] as string | undefined,
        rootKeyId: values['root-keyid'] as string | undefined,
      });
      const what = pin.root ? `root v${pin.root.signed.version} from ${values['root-file']}` : `root key ${pin.rootKeyIds![0]!.slice(0, 16)}`;
      return out.print(`Pinned ${pin.pattern} to ${what}`);
    }
    if (action === 'show') {
      const report = await admin.showTrust(home, target);
      if (values.json) return out.json(report);
      if (report.pins.length === 0) out.print('No pins (collections are trusted on first use unless --no-tofu)');
      for (const p of report.pins) {
        const how = p.rootVersion === undefined ? `root key ${p.rootKeyIds?.map((id) => id.slice(0, 16)).join(', ')}` : `root v${p.rootVersion}`;
        out.print(`pin ${p.pattern}: ${how} (since ${p.created})`);
      }
      for (const c of report.collections) {
        out.print(
          `trusted ${c.gun}: root v${c.rootVersion} (keys ${c.rootKeyIds.map((id) => id.slice(0, 16)).join(', ')})` +
            `${c.timestampVersion === undefined ? '' : `, timestamp v${c.timestampVersion} until ${c.timestampExpires}`}` +
            `${c.pinnedBy ? `, pinned by ${c.pinnedBy}` : ', trusted on first use or --root-file'}`,
        );
      }
      return;
    }
    if (action === 'forget') {
      if (!target) throw new UsageError(`trust forget needs a collection; usage: ${USAGE}`);
      const existed = await admin.forgetCollection(home, target);
      return out.print(existed ? `Forgot the trusted metadata of ${target}` : `${target} had no trusted metadata`);
    }
    throw new UsageError(`unknown trust action "${action}"; usage: ${USAGE}`);
  },
};
