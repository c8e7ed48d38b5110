/** `tagtrust drift` */
import type { Command } from '../command.js';
import { PULL_HELP, PULL_OPTIONS, puller } from '../command.js';
import { EXIT_DRIFT } from '../exit-codes.js';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryFromFlags } from '../registry-options.js';

export const driftCommand: Command = {
  name: 'drift',
  usage: 'tagtrust drift <gun> [--registry URL] [--json]',
  summary: 'compare every signed tag with what the registry serves for it now',
  details: `Reports tags the registry moved to another digest, signed tags it no longer has, and tags it has
that nobody signed. Exits ${EXIT_DRIFT} when there is any drift, 0 when every tag is as signed.
${REGISTRY_HELP}
${PULL_HELP}`,
  options: { ...PULL_OPTIONS, ...REGISTRY_OPTIONS },
  positionals: 1,
  async run([gunInput], values, out) {
    const [{ parseGun }, { checkDrift, hasDrift }] = await Promise.all([import('../lazy.js'), import('../../registry/drift.js')]);
    const gun = parseGun(gunInput!);
    const signed = await (await puller(values)).list(gun);
    const registry = await registryFromFlags(gun, values);
    const report = await checkDrift(gun, signed, registry.client, registry.name, registry.signal);
    if (values.json) out.json(report);
    else {
      for (const m of report.moved) out.print(`moved     ${gun}:${m.tag}  signed ${m.signed}, the registry serves ${m.served}`);
      for (const m of report.missing) out.print(`missing   ${gun}:${m.tag}  signed ${m.signed}, the registry does not have the tag`);
      for (const u of report.unsigned) out.print(`unsigned  ${gun}:${u.tag}  the registry serves ${u.served ?? 'it'}, nobody signed it`);
      out.print(`${report.ok.length} of ${signed.length} signed tags as signed; ${report.moved.length} moved, ${report.missing.length} missing, ${report.unsigned.length} unsigned (${report.registry})`);
    }
    if (hasDrift(report)) process.exitCode = EXIT_DRIFT;
  },
};
