/** `tagtrust admission`: the Kubernetes mutating admission webhook (docs/kubernetes.md). */
import { UsageError } from '@tagtrust/shared/errors';
import type { Command } from '../command.js';
import { integerOption } from '../command.js';

export const admissionCommand: Command = {
  name: 'admission',
  usage: 'tagtrust admission --policy FILE --tls-cert FILE --tls-key FILE [--listen HOST:PORT] [--body-limit BYTES] [--check]',
  summary: 'run the Kubernetes admission webhook that pins every image to the digest signed for its tag',
  details: `Serves POST /mutate (AdmissionReview admission.k8s.io/v1), GET /healthz and GET /readyz over HTTPS.
Images the policy covers are verified through tagtrust and rewritten to <name>@sha256:<digest>; an
unsigned tag or a failed verification denies the request under an enforce rule (fail closed).
Logs one JSON line per decision on stdout. Trusted metadata is kept under --home (a writable dir).
  --policy FILE       the policy (YAML): image patterns, servers, trust, modes (docs/kubernetes.md)
  --tls-cert FILE     PEM serving certificate (chain) for the webhook's Service name
  --tls-key FILE      PEM private key of that certificate
  --listen HOST:PORT  where to listen (default 0.0.0.0:8443)
  --body-limit BYTES  largest AdmissionReview accepted (default 7340032)
  --check             only check the policy file, print a summary and exit`,
  options: {
    policy: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    listen: { type: 'string' },
    'body-limit': { type: 'string' },
    check: { type: 'boolean' },
  },
  positionals: 0,
  async run(_args, values, out) {
    const policyFile = values.policy as string | undefined;
    if (policyFile === undefined) throw new UsageError('--policy FILE is required; usage: ' + admissionCommand.usage);
    const defaultServer = (values.server as string | undefined) ?? process.env.TAGTRUST_SERVER;
    const webhook = await import('../../admission/webhook.js');
    if (values.check) {
      const policy = await webhook.loadPolicyFile(policyFile, defaultServer);
      out.print(`${policyFile}: ${policy.rules.length} rule(s), defaultAction ${policy.defaultAction}, requestTimeout ${policy.requestTimeoutMs / 1000}s`);
      for (const rule of policy.rules) out.print(`  ${rule.name}: ${rule.images.join(', ')} -> ${rule.action}${rule.action === 'verify' ? ` (${rule.mode}) at ${rule.trust.server}` : ''}`);
      return;
    }
    const certFile = values['tls-cert'] as string | undefined;
    const keyFile = values['tls-key'] as string | undefined;
    if (certFile === undefined || keyFile === undefined) throw new UsageError('--tls-cert FILE and --tls-key FILE are required: the API server calls webhooks over HTTPS only');
    const { resolveHome } = await import('../../options.js');
    const bodyLimit = integerOption(values['body-limit'], '--body-limit');
    const log = (entry: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
    const running = await webhook.startAdmissionWebhook({
      policyFile,
      tlsCertFile: certFile,
      tlsKeyFile: keyFile,
      home: resolveHome(values.home as string | undefined),
      log,
      ...(defaultServer === undefined ? {} : { defaultServer }),
      ...(values.listen === undefined ? {} : { listen: values.listen as string }),
      ...(bodyLimit === undefined ? {} : { bodyLimit }),
    });
    log({ level: 'info', message: `tagtrust admission listening on ${running.url} with ${running.policy.rules.length} policy rule(s)` });
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log({ level: 'info', message: `${signal}: finishing open requests, then stopping` });
        void running.close().then(resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
  },
};
