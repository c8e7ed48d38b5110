/** `tagtrust init` */
import type { Command } from '../command.js';
import { integerOption, publisher } from '../command.js';

export const initCommand: Command = {
  name: 'init',
  usage: 'tagtrust init <gun> [--key-type ed25519|ecdsa|rsa] [--root-keys N --root-threshold T | --root-key KEYID] [--json]',
  summary: 'create a collection: new root and targets keys, root v1 and empty targets',
  details: 'Keys are stored encrypted in TAGTRUST_HOME/keys; passphrases come from TAGTRUST_ROOT_PASSPHRASE and\nTAGTRUST_TARGETS_PASSPHRASE or a prompt. Needs a push token (--token / TAGTRUST_TOKEN).\n--root-keys N creates N root keys (move all but one to their holders\' homes); --root-threshold T\nmakes every later root need T of them (see `tagtrust root`).\n--root-key KEYID reuses a root key this home already holds, so collections share it and pullers can\npin them all by prefix (`tagtrust trust pin \'registry.example.com/team/*\' --root-keyid KEYID`).',
  options: { 'key-type': { type: 'string' }, 'root-keys': { type: 'string' }, 'root-threshold': { type: 'string' }, 'root-key': { type: 'string' }, json: { type: 'boolean' } },
  positionals: 1,
  async run([gun], values, out) {
    const { parseKeyAlgorithm } = await import('../lazy.js');
    const algorithm = values['key-type'] === undefined ? undefined : parseKeyAlgorithm(values['key-type'] as string);
    const rootKeys = integerOption(values['root-keys'], '--root-keys');
    const rootThreshold = integerOption(values['root-threshold'], '--root-threshold');
    const result = await (await publisher(values)).init(gun!, { algorithm, rootKeys, rootThreshold, rootKeyId: values['root-key'] as string | undefined });
    if (values.json) return out.json(result);
    const rootKeyText =
      result.rootKeyIds.length === 1
        ? `root key ${result.rootKeyId.slice(0, 8)}`
        : `root keys ${result.rootKeyIds.map((id) => id.slice(0, 8)).join(', ')} (threshold ${result.rootThreshold})`;
    out.print(`Initialised ${result.gun}: ${rootKeyText}, targets key ${result.targetsKeyId.slice(0, 8)}`);
    for (const file of result.keyFiles) out.print(`  private key: ${file}`);
  },
};
