/** `tagtrust publish`: sign and publish every change staged for a collection, in one publish. */
import type { Command } from '../command.js';
import { publisher } from '../command.js';

export const publishCommand: Command = {
  name: 'publish',
  usage: 'tagtrust publish <gun> [--json]',
  summary: 'sign and publish the changes staged for a collection (sign/unsign --stage) in one publish',
  details: `All staged changes land in one publish, or none; they are dropped from this home only after the
server acknowledged the publish (on any failure they stay staged: fix the cause and run it again).
--json prints {gun, tags: [{reference, digest?, role, targetsVersion}], roles, attempts, published: [changes]}.`,
  options: { json: { type: 'boolean' } },
  positionals: 1,
  async run([gun], values, out) {
    // Any tag of the collection: it lets the targets key start decrypting while the modules load.
    const result = await (await publisher(values, `${gun}:latest`)).publishStaged(gun!);
    if (values.json) return out.json(result);
    if (result.published.length === 0) {
      out.print(`Nothing staged for ${result.gun}: stage changes with \`tagtrust sign|unsign --stage\``);
      return;
    }
    for (const [index, tag] of result.tags.entries()) {
      const verb = result.published[index]!.action === 'sign' ? `Signed ${tag.reference} -> ${tag.digest}` : `Removed ${tag.reference}`;
      out.print(`${tag.pending ? `Proposed: ${verb}` : verb} (${tag.role} v${tag.targetsVersion}${tag.pending ? `, pending ${tag.pending.id}` : ''})`);
    }
    for (const changed of result.roles.filter((r) => r.pending)) out.print(`  other signers approve with: tagtrust approve ${result.gun} ${changed.role}`);
  },
};
