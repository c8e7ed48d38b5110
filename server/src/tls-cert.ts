/**
 * Self-signed TLS certificates for trying tagtrust-server over HTTPS, for tests and for benchmarks
 * (`tagtrust-server tls self-signed --out DIR`). node:crypto cannot issue X.509 certificates, so the
 * certificate is built with node-forge; the RSA key pair itself comes from node:crypto.
 *
 * The certificate is its own CA (basicConstraints CA:TRUE), so clients can trust exactly it with
 * `--ca FILE` or NODE_EXTRA_CA_CERTS. It is for testing: production servers use a real certificate.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';

export interface SelfSignedOptions {
  /** Host names and IP addresses the certificate is valid for (default 127.0.0.1, ::1, localhost). */
  hosts?: string[];
  /** Validity in days (default 30). */
  days?: number;
  /** Clock (default now). */
  now?: Date;
}

export interface TlsMaterial {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
}

export async function issueSelfSignedCertificate(options: SelfSignedOptions = {}): Promise<TlsMaterial> {
  const { default: forge } = await import('node-forge');
  const hosts = options.hosts ?? ['127.0.0.1', '::1', 'localhost'];
  const now = options.now ?? new Date();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  // A positive serial number (first bit clear), 16 random bytes.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + (options.days ?? 30) * 86_400_000);
  const subject = [{ name: 'commonName', value: hosts[0] ?? 'localhost' }, { name: 'organizationName', value: 'tagtrust self-signed' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true, keyCertSign: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host })) },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}
