/**
 * Every way tagtrust accepts of writing one public key as TUF key JSON (keys/src/tuf-key.ts), for
 * tests that show one key counts once however it is written.
 */
import { createPublicKey } from 'node:crypto';
import type { KeyPair } from '@tagtrust/keys';
import type { TufKey } from '@tagtrust/shared';

export interface KeyEncoding {
  name: string;
  key: TufKey;
}

/** SPKI DER prefix of a compressed P-256 point (33 bytes follow). */
const P256_COMPRESSED_PREFIX = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex');
/** AlgorithmIdentifier of id-RSASSA-PSS without parameters. */
const RSASSA_PSS_ALGORITHM = Buffer.from('300b06092a864886f70d01010a', 'hex');

/** The encodings of `pair`'s public key other than the one tagtrust wrote. */
export function otherEncodings(pair: KeyPair): KeyEncoding[] {
  const written = pair.publicKey;
  const publicKey = createPublicKey(pair.privateKey);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const variant = (name: string, keyval: string, keytype = written.keytype): KeyEncoding => ({
    name,
    key: { keytype, scheme: written.scheme, keyval: { public: keyval } },
  });
  const common = [
    variant('PEM with CRLF line ends', pem.replace(/\n/g, '\r\n')),
    variant('PEM after blank lines, without the final newline', `\n\n${pem.trimEnd()}`),
    { name: 'with keyid_hash_algorithms', key: { ...written, keyid_hash_algorithms: ['sha256', 'sha512'] } as TufKey },
  ];
  switch (written.keytype) {
    case 'ed25519':
      return [variant('upper-case hex', written.keyval.public.toUpperCase()), variant('PEM', pem), ...common];
    case 'ecdsa': {
      const jwk = publicKey.export({ format: 'jwk' });
      const x = Buffer.from(jwk.x!, 'base64url');
      const y = Buffer.from(jwk.y!, 'base64url');
      const point = `04${x.toString('hex')}${y.toString('hex')}`;
      const compressed = Buffer.concat([P256_COMPRESSED_PREFIX, Buffer.from([2 + (y[31]! & 1)]), x]);
      return [
        variant('keytype ecdsa-sha2-nistp256', written.keyval.public, 'ecdsa-sha2-nistp256'),
        variant('hex of the uncompressed point', point),
        variant('upper-case hex under ecdsa-sha2-nistp256', `04${point.slice(2).toUpperCase()}`, 'ecdsa-sha2-nistp256'),
        variant('PEM of the compressed point', pemOf(compressed)),
        ...common,
      ];
    }
    case 'rsa': {
      const der = publicKey.export({ type: 'spki', format: 'der' });
      // SEQUENCE { AlgorithmIdentifier, BIT STRING }: keep the BIT STRING, swap the algorithm for RSASSA-PSS.
      const bits = der.subarray(4 + der[5]! + 2);
      return [variant('RSASSA-PSS SPKI PEM', pemOf(derSequence(Buffer.concat([RSASSA_PSS_ALGORITHM, bits])))), ...common];
    }
    default:
      throw new Error(`no encodings for ${written.keytype}`);
  }
}

function derSequence(content: Buffer): Buffer {
  const length = content.length;
  const header = length < 0x80 ? Buffer.from([0x30, length]) : length < 0x100 ? Buffer.from([0x30, 0x81, length]) : Buffer.from([0x30, 0x82, length >> 8, length & 0xff]);
  return Buffer.concat([header, content]);
}

function pemOf(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g)!;
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}
