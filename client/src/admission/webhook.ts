/**
 * `tagtrust admission` as a library call: reads the policy, prepares one verifier per trust
 * setting (writing the policy's pins), and starts the HTTPS server.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '@tagtrust/shared';
import { Admitter } from './admit.js';
import type { Policy } from './policy.js';
import { parsePolicy } from './policy-file.js';
import { startAdmissionServer } from './server.js';
import type { RunningAdmissionServer } from './server.js';
import { VerifierPool } from './verifiers.js';

export interface AdmissionWebhookOptions {
  /** The policy file (YAML). */
  policyFile: string;
  /** PEM files of the serving certificate (chain) and its key. */
  tlsCertFile: string;
  tlsKeyFile: string;
  /** `HOST:PORT` (default 0.0.0.0:8443). */
  listen?: string;
  /** Where trusted metadata is kept (a writable directory, e.g. an emptyDir volume). */
  home: string;
  /** The server of rules that name none (--server / TAGTRUST_SERVER). */
  defaultServer?: string;
  bodyLimit?: number;
  /** How often the certificate files are checked for a renewed certificate (ms, default 60,000). */
  tlsReloadMs?: number;
  /** One JSON object per decision, notice or failure. */
  log: (entry: Record<string, unknown>) => void;
}

export interface AdmissionWebhook extends RunningAdmissionServer {
  policy: Policy;
}

/** @throws InvalidInputError for a bad policy (`FILE:LINE: problem`), UsageError for unreadable files */
export async function startAdmissionWebhook(options: AdmissionWebhookOptions): Promise<AdmissionWebhook> {
  const policy = await loadPolicyFile(options.policyFile, options.defaultServer);
  const [cert, key] = await Promise.all([readPem(options.tlsCertFile, '--tls-cert'), readPem(options.tlsKeyFile, '--tls-key')]);
  const verifiers = await VerifierPool.create(policy, {
    home: options.home,
    // A refresh may use most of a request's deadline; the request then fails closed on its own deadline.
    timeoutMs: policy.requestTimeoutMs,
    warn: (message) => options.log({ level: 'notice', message }),
  });
  const server = await startAdmissionServer({
    admitter: new Admitter(policy, verifiers),
    tls: { cert, key },
    reloadTls: {
      load: async () => ({ cert: await readFile(options.tlsCertFile), key: await readFile(options.tlsKeyFile) }),
      intervalMs: options.tlsReloadMs ?? 60_000,
    },
    log: options.log,
    ...(options.listen === undefined ? {} : { listen: options.listen }),
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
  });
  return { ...server, policy };
}

/** Reads and checks a policy file. @throws InvalidInputError `FILE:LINE: problem`; UsageError when unreadable */
export async function loadPolicyFile(file: string, defaultServer?: string): Promise<Policy> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`--policy ${file}: cannot read it (${err.code ?? err.message})`);
  });
  return parsePolicy(text, file, defaultServer);
}

function readPem(file: string, flag: string): Promise<Buffer> {
  return readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`${flag} ${file}: cannot read it (${err.code ?? err.message})`);
  });
}
