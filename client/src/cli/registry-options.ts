/** The flags of the commands that talk to a container registry (sign, drift, push). */
import { UsageError } from '@tagtrust/shared/errors';
import type { Values } from './command.js';

export const REGISTRY_OPTIONS = {
  registry: { type: 'string' },
  'registry-credentials': { type: 'string' },
  'registry-ca': { type: 'string' },
} as const;

export const REGISTRY_HELP = `  --registry URL      the registry serving the collection (default: https://<the collection's domain>)
  --registry-credentials FILE  file with one line user:password for the registry (default: anonymous)
  --registry-ca FILE  PEM CA certificate to trust for an https registry`;

/** The registry client for `gun` from the flags, and a deadline signal from --timeout. */
export async function registryFromFlags(gun: string, values: Values) {
  const [{ readFile }, { registryFor }, { parseCredentials }] = await Promise.all([
    import('node:fs/promises'),
    import('../registry/registry-for.js'),
    import('../registry/registry-auth.js'),
  ]);
  const read = (flag: string) =>
    readFile(values[flag] as string).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`--${flag} ${values[flag]}: cannot read it (${err.code ?? err.message})`);
    });
  const credentialsFile = values['registry-credentials'];
  const registry = registryFor(gun, {
    ...(values.registry === undefined ? {} : { url: values.registry as string }),
    ...(credentialsFile === undefined ? {} : { credentials: parseCredentials((await read('registry-credentials')).toString('utf8'), '--registry-credentials') }),
    ...(values['registry-ca'] === undefined ? {} : { ca: await read('registry-ca') }),
  });
  const timeoutS = values.timeout === undefined ? 30 : Number(values.timeout);
  return { ...registry, signal: AbortSignal.timeout(timeoutS * 1000) };
}
