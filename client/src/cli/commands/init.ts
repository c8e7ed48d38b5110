/** `tagtrust init` */
import type { Command } from '../command.js';
import { publisher } from '../command.js';

export const initCommand: Command = {
  name: 'init',
  usage: 'tagtrust init <gun> [--key-type ed25519|ecdsa|rsa]',
  summary: 'create a collection: new root and targets keys, root v1 and empty targets',
  details: 'Keys are stored encrypted in TAGTRUST_HOME/keys; passphrases come from TAGTRUST_ROOT_PASSPHRASE and\nTAGTRUST_TARGETS_PASSPHRASE or a prompt. Needs a push token (--token / TAGTRUST_TOKEN).',
  options: { 'key-type': { type: 'string' } },
  positionals: 1,
  async run([gun], values, out) {
    const { parseKeyAlgorithm } = await import('@tagtrust/keys');
    const algorithm = values['key-type'] === undefined ? undefined : parseKeyAlgorithm(values['key-type'] as string);
    const result = await (await publisher(values)).init(gun!, { algorithm });
    out.print(`Initialised ${result.gun}: root key ${result.rootKeyId.slice(0, 8)}, targets key ${result.targetsKeyId.slice(0, 8)}`);
    for (const file of result.keyFiles) out.print(`  private key: ${file}`);
  },
};
