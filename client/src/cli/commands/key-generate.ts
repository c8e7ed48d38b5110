/**
 * `tagtrust key generate --name NAME`: a signer's key pair for delegations. The private key stays
 * encrypted in this home (passphrase from TAGTRUST_<NAME>_PASSPHRASE or a prompt); the public key is
 * written to a file for the collection owner's `tagtrust delegation add --key FILE`. Local: no server
 * URL is needed, and a failed generate leaves neither file behind.
 * Dispatched from `tagtrust key` (commands/key.ts).
 */
import { UsageError } from '@tagtrust/shared/errors';
import type { Output, Values } from '../command.js';

export const KEY_GENERATE_USAGE = 'tagtrust key generate --name NAME [--key-type ed25519|ecdsa|rsa] [--out PUBFILE]';

export async function runKeyGenerate(values: Values, out: Output): Promise<void> {
  const name = values.name as string | undefined;
  if (!name) throw new UsageError(`key generate needs --name (e.g. --name ci); usage: ${KEY_GENERATE_USAGE}`);
  const { parseKeyAlgorithm } = await import('../lazy.js');
  const algorithm = values['key-type'] === undefined ? undefined : parseKeyAlgorithm(values['key-type'] as string);
  const pubFile = (values.out as string | undefined) ?? `${name}.pub`;
  const [{ KeyStore }, { terminalPassphrases }, { resolveHome }, { generateSignerKey }] = await Promise.all([
    import('../../keystore.js'),
    import('../prompt.js'),
    import('../../options.js'),
    import('../../key-admin.js'),
  ]);
  const keys = new KeyStore(resolveHome(values.home as string | undefined), terminalPassphrases);
  const key = await generateSignerKey(keys, name, algorithm, pubFile);
  out.print(`Generated key "${name}" ${key.keyId.slice(0, 8)}`);
  out.print(`  private key: ${key.keyFile}`);
  out.print(`  public key:  ${pubFile} (give it to the collection owner for \`tagtrust delegation add --key ${pubFile}\`)`);
}
