/** `tagtrust gate` */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { PULL_HELP, PULL_OPTIONS, integerOption, pullerOptions } from '../command.js';

export const gateCommand: Command = {
  name: 'gate',
  usage:
    'tagtrust gate --upstream URL [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE] [--collection-prefix PREFIX] [--strict] [--on-moved serve-signed|refuse] [--upstream-credentials FILE] [--allow-push [--push-max-mb N]] [--refresh DURATION]',
  summary: 'serve a registry, each tag only as the digest its publishers signed (read-only unless --allow-push)',
  details: `Pullers (docker, containerd, podman, skopeo) pull from the gate as from a registry. A pull by tag
gets the manifest of the signed digest, fetched from the upstream by digest and hashed, or an OCI error
saying why not (unsigned tag, failed verification). See docs/gate.md.
  --upstream URL            the registry behind the gate, e.g. https://registry.example.com
  --listen HOST:PORT        where to listen (default 127.0.0.1:5000)
  --tls-cert/--tls-key FILE serve https with this PEM certificate and key
  --collection-prefix P     repository <name> is collection P/<name> (default: the upstream's host[:port])
  --strict                  by-digest manifests and blobs only when a signed tag reaches them
  --on-moved MODE           serve-signed (default): serve the signed manifest even when the upstream tag
                            moved; refuse: refuse the tag while the upstream tag points elsewhere
  --upstream-credentials F  file with one line user:password: the gate logs in to the upstream itself
                            (default: each puller's credentials are relayed)
  --allow-push              relay pushes (blob uploads, manifest PUT) to the upstream with each pusher's
                            credentials; deletes stay refused; a pushed tag is served once signed
  --push-max-mb N           largest body of one blob upload request relayed (default 10240)
  --upstream-ca FILE        PEM CA certificate to trust for an https upstream
  --upstream-timeout SEC    upstream deadline per manifest, longest silence in a blob (default 30)
  --refresh DURATION        how long a verified answer is reused (default 5s)
  --cache-mb N              manifest cache size (default 64)
${PULL_HELP}`,
  options: {
    upstream: { type: 'string' },
    listen: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'collection-prefix': { type: 'string' },
    strict: { type: 'boolean' },
    'on-moved': { type: 'string' },
    'upstream-credentials': { type: 'string' },
    'upstream-ca': { type: 'string' },
    'allow-push': { type: 'boolean' },
    'push-max-mb': { type: 'string' },
    'upstream-timeout': { type: 'string' },
    refresh: { type: 'string' },
    'cache-mb': { type: 'string' },
    ...PULL_OPTIONS,
  },
  positionals: 0,
  async run(_args, values, out) {
    const upstreamUrl = values.upstream as string | undefined;
    if (!upstreamUrl) throw new UsageError('--upstream URL is required: the registry the gate serves, e.g. https://registry.example.com');
    const onMoved = (values['on-moved'] as string | undefined) ?? 'serve-signed';
    if (onMoved !== 'serve-signed' && onMoved !== 'refuse') throw new UsageError(`--on-moved "${onMoved}" must be serve-signed or refuse`);
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('give both --tls-cert and --tls-key, or neither');
    const [{ readFile }, { parseDuration }, { RegistryClient }, { parseCredentials }, { TagVerifier }, { startGate }] = await Promise.all([
      import('node:fs/promises'),
      import('../lazy.js'),
      import('../../registry/registry-client.js'),
      import('../../registry/registry-auth.js'),
      import('../../verified/tag-verifier.js'),
      import('../../gate/gate-server.js'),
    ]);
    const read = (flag: string) =>
      readFile(values[flag] as string).catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(`--${flag} ${values[flag]}: cannot read it (${err.code ?? err.message})`);
      });
    const refreshMs = values.refresh === undefined ? undefined : parseDuration(values.refresh as string);
    if (values.refresh !== undefined && refreshMs === undefined) throw new UsageError(`--refresh "${values.refresh}" must be a duration like 5s or 1m`);
    const credentials = values['upstream-credentials'] === undefined ? undefined : parseCredentials((await read('upstream-credentials')).toString('utf8'), '--upstream-credentials');
    const upstream = new RegistryClient({
      url: upstreamUrl,
      ...(credentials ? { credentials } : {}),
      ...(values['upstream-ca'] === undefined ? {} : { ca: await read('upstream-ca') }),
    });
    const timeoutS = integerOption(values['upstream-timeout'], '--upstream-timeout');
    const cacheMb = integerOption(values['cache-mb'], '--cache-mb');
    const pushMaxMb = integerOption(values['push-max-mb'], '--push-max-mb');
    if (pushMaxMb !== undefined && values['allow-push'] !== true) throw new UsageError('--push-max-mb applies to pushes: give --allow-push too');
    const gate = await startGate({
      upstream,
      verifier: new TagVerifier({ ...(await pullerOptions(values)), ...(refreshMs === undefined ? {} : { refreshIntervalMs: refreshMs }) }),
      listen: (values.listen as string | undefined) ?? '127.0.0.1:5000',
      ...(values['tls-cert'] === undefined ? {} : { tls: { cert: await read('tls-cert'), key: await read('tls-key') } }),
      ...(values['collection-prefix'] === undefined ? {} : { collectionPrefix: values['collection-prefix'] as string }),
      strict: values.strict === true,
      onMoved,
      relayAuthorization: credentials === undefined,
      allowPush: values['allow-push'] === true,
      ...(pushMaxMb === undefined ? {} : { maxUploadBytes: pushMaxMb * 1024 * 1024 }),
      ...(timeoutS === undefined ? {} : { upstreamTimeoutMs: timeoutS * 1000 }),
      ...(cacheMb === undefined ? {} : { manifestCacheBytes: cacheMb * 1024 * 1024 }),
    });
    const prefix = (values['collection-prefix'] as string | undefined) ?? upstream.host;
    out.print(`tagtrust gate: listening on ${gate.url}, serving ${upstream.url} (collections ${prefix}/<name>${values.strict ? ', strict' : ''}${values['allow-push'] ? ', pushes relayed' : ', read-only'}, on-moved ${onMoved})`);
    await new Promise<void>((resolve) => {
      const stop = () => void gate.close().then(resolve);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};
