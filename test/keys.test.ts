import test from 'ava';
import { constants, createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata as TufMetadata, MetadataKind } from '@tufjs/models';
import {
  addSignature,
  decryptKeyFile,
  encryptKeyPair,
  generateKeyPair,
  generateMasterKey,
  keyIdOf,
  parseKeyAlgorithm,
  parseKeyFile,
  parseMasterKey,
  publicKeyObject,
  sealKeyPair,
  signBytes,
  signMetadata,
  unsealKeyPair,
  verifyRoleSignatures,
  verifySignature,
  writeFileAtomic,
  type KeyAlgorithm,
  type KeyPair,
} from '@tagtrust/keys';
import {
  InvalidInputError,
  MalformedMetadataError,
  SignatureError,
  UsageError,
  WrongPassphraseError,
  canonicalBytes,
  type Metadata,
  type RootSigned,
  type TargetsSigned,
  type TimestampSigned,
  type TufKey,
} from '@tagtrust/shared';

const ALGORITHMS: KeyAlgorithm[] = ['ed25519', 'ecdsa-p256', 'rsa-pss'];

// Key generation (RSA especially) is slow: generate each key once, lazily, shared by all tests.
const keyCache = new Map<string, Promise<KeyPair>>();
function keyFor(algorithm: KeyAlgorithm, index = 0): Promise<KeyPair> {
  const id = `${algorithm}/${index}`;
  let pair = keyCache.get(id);
  if (pair === undefined) {
    pair = generateKeyPair(algorithm);
    keyCache.set(id, pair);
  }
  return pair;
}

function timestampSigned(version = 1): TimestampSigned {
  return {
    _type: 'timestamp',
    spec_version: '1.0.31',
    version,
    expires: '2030-01-01T00:00:00Z',
    meta: { 'snapshot.json': { version: 3 } },
  };
}

function targetsSigned(): TargetsSigned {
  return {
    _type: 'targets',
    spec_version: '1.0.31',
    version: 2,
    expires: '2030-01-01T00:00:00Z',
    targets: { 'registry.example.com/team/app:v1': { length: 1234, hashes: { sha256: 'ab'.repeat(32) } } },
  };
}

function rootSigned(pair: KeyPair): RootSigned {
  const role = { keyids: [pair.keyId], threshold: 1 };
  return {
    _type: 'root',
    spec_version: '1.0.31',
    version: 1,
    expires: '2030-01-01T00:00:00Z',
    consistent_snapshot: true,
    keys: { [pair.keyId]: pair.publicKey },
    roles: { root: role, targets: role, snapshot: role, timestamp: role },
  };
}

const EXPECTED_KEY_FORMAT: Record<KeyAlgorithm, { keytype: string; scheme: string; publicPattern: RegExp }> = {
  ed25519: { keytype: 'ed25519', scheme: 'ed25519', publicPattern: /^[0-9a-f]{64}$/ },
  'ecdsa-p256': { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', publicPattern: /^-----BEGIN PUBLIC KEY-----\n/ },
  'rsa-pss': { keytype: 'rsa', scheme: 'rsassa-pss-sha256', publicPattern: /^-----BEGIN PUBLIC KEY-----\n/ },
};

test('parseKeyAlgorithm accepts the documented names and lists the choices otherwise', (t) => {
  t.is(parseKeyAlgorithm('ed25519'), 'ed25519');
  t.is(parseKeyAlgorithm('ecdsa'), 'ecdsa-p256');
  t.is(parseKeyAlgorithm('ecdsa-p256'), 'ecdsa-p256');
  t.is(parseKeyAlgorithm('rsa'), 'rsa-pss');
  t.is(parseKeyAlgorithm('rsa-pss'), 'rsa-pss');
  const err = t.throws(() => parseKeyAlgorithm('dsa'), { instanceOf: UsageError });
  t.regex(err.message, /ed25519.*ecdsa.*rsa/);
  t.throws(() => parseKeyAlgorithm('toString'), { instanceOf: UsageError });
});

for (const algorithm of ALGORITHMS) {
  test(`${algorithm}: key JSON format and key ID`, async (t) => {
    const pair = await keyFor(algorithm);
    const expected = EXPECTED_KEY_FORMAT[algorithm];
    t.is(pair.publicKey.keytype, expected.keytype);
    t.is(pair.publicKey.scheme, expected.scheme);
    t.regex(pair.publicKey.keyval.public, expected.publicPattern);
    t.deepEqual(Object.keys(pair.publicKey).sort(), ['keytype', 'keyval', 'scheme']);
    t.regex(pair.keyId, /^[0-9a-f]{64}$/);
    const recomputed = createHash('sha256')
      .update(canonicalBytes({ keytype: pair.publicKey.keytype, scheme: pair.publicKey.scheme, keyval: pair.publicKey.keyval }))
      .digest('hex');
    t.is(pair.keyId, recomputed);
    t.is(keyIdOf(JSON.parse(JSON.stringify(pair.publicKey)) as TufKey), pair.keyId);
    t.not((await keyFor(algorithm, 1)).keyId, pair.keyId);
    t.true(publicKeyObject(pair.publicKey).equals(createPublicKey(pair.privateKey)));
    // No private material in the pair's JSON.
    t.false(JSON.stringify(pair).includes('PRIVATE'));
  });

  test(`${algorithm}: sign/verify round trip, tampering and malformed signatures`, async (t) => {
    const pair = await keyFor(algorithm);
    const other = await keyFor(algorithm, 1);
    const data = canonicalBytes(timestampSigned());
    const signature = signBytes(pair, data);
    t.is(signature.keyid, pair.keyId);
    t.regex(signature.sig, /^[0-9a-f]+$/);
    t.true(verifySignature(pair.publicKey, signature.sig, data));
    t.true(verifySignature(pair.publicKey, signature.sig.toUpperCase(), data));

    const tampered = Buffer.from(data);
    tampered[tampered.length - 2] = tampered[tampered.length - 2]! ^ 1;
    t.false(verifySignature(pair.publicKey, signature.sig, tampered));
    t.false(verifySignature(other.publicKey, signature.sig, data));
    t.false(verifySignature(pair.publicKey, signBytes(other, data).sig, data));

    const flipped = signature.sig[10] === '0' ? '1' : '0';
    const malformed = [
      '',
      'zz',
      'abc',
      `${signature.sig}0`,
      `${signature.sig.slice(0, -2)}zz`,
      signature.sig.slice(0, -2),
      `${signature.sig}00`,
      `${signature.sig.slice(0, 10)}${flipped}${signature.sig.slice(11)}`,
      '00'.repeat(signature.sig.length / 2),
      ` ${signature.sig}`,
    ];
    for (const bad of malformed) {
      t.notThrows(() => verifySignature(pair.publicKey, bad, data));
      t.false(verifySignature(pair.publicKey, bad, data), `accepted malformed signature ${bad.slice(0, 16)}`);
    }
    t.false(verifySignature(pair.publicKey, undefined as unknown as string, data));
  });

  test(`${algorithm}: signatures verify with @tufjs/models (tuf-js clients accept them)`, async (t) => {
    const pair = await keyFor(algorithm);
    const root = signMetadata(rootSigned(pair), [pair]);
    const timestamp = signMetadata(timestampSigned(), [pair]);
    const tufRoot = TufMetadata.fromJSON(MetadataKind.Root, JSON.parse(JSON.stringify(root)));
    const tufTimestamp = TufMetadata.fromJSON(MetadataKind.Timestamp, JSON.parse(JSON.stringify(timestamp)));
    t.notThrows(() => tufRoot.verifyDelegate('root', tufRoot));
    t.notThrows(() => tufRoot.verifyDelegate('timestamp', tufTimestamp));

    // And tuf-js rejects a modified one, so the check above is meaningful.
    const modified = { ...timestamp, signed: timestampSigned(2) };
    t.throws(() => tufRoot.verifyDelegate('timestamp', TufMetadata.fromJSON(MetadataKind.Timestamp, JSON.parse(JSON.stringify(modified)))));
  });
}

test('rsa-pss signs with salt length 32 (the SHA-256 digest length)', async (t) => {
  const pair = await keyFor('rsa-pss');
  const data = Buffer.from('salt length');
  const sig = Buffer.from(signBytes(pair, data).sig, 'hex');
  t.is(sig.length, 384);
  const key = createPublicKey(pair.privateKey);
  t.true(verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig));
  t.false(verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }, sig));
});

test('publicKeyObject accepts PEM ed25519 keys and the ecdsa-sha2-nistp256 keytype', async (t) => {
  const ed = await keyFor('ed25519');
  const pem = createPublicKey(ed.privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const pemKey: TufKey = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: pem } };
  t.true(publicKeyObject(pemKey).equals(publicKeyObject(ed.publicKey)));
  const data = Buffer.from('pem');
  t.true(verifySignature(pemKey, signBytes(ed, data).sig, data));

  const ec = await keyFor('ecdsa-p256');
  const aliased: TufKey = { ...ec.publicKey, keytype: 'ecdsa-sha2-nistp256' };
  t.true(verifySignature(aliased, signBytes(ec, data).sig, data));
  const jwk = createPublicKey(ec.privateKey).export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const hexKey: TufKey = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: point.toString('hex') } };
  t.true(publicKeyObject(hexKey).equals(publicKeyObject(ec.publicKey)));
});

test('publicKeyObject rejects unsupported or unparsable keys with InvalidInputError', async (t) => {
  const ed = await keyFor('ed25519');
  const ec = await keyFor('ecdsa-p256');
  const rsa = await keyFor('rsa-pss');
  const bad: TufKey[] = [
    { keytype: 'dsa', scheme: 'dsa', keyval: { public: 'x' } },
    { keytype: 'ed25519', scheme: 'ecdsa-sha2-nistp256', keyval: { public: ed.publicKey.keyval.public } },
    { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: 'ab'.repeat(31) } },
    { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: ec.publicKey.keyval.public } },
    { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: rsa.publicKey.keyval.public } },
    { keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n' } },
    { keytype: 'rsa', scheme: 'rsa-pkcs1v15-sha256', keyval: { public: rsa.publicKey.keyval.public } },
  ];
  for (const key of bad) {
    t.throws(() => publicKeyObject(key), { instanceOf: InvalidInputError }, `${key.keytype}/${key.scheme}`);
    // Twice: the failure is cached and must still throw.
    t.throws(() => publicKeyObject(key), { instanceOf: InvalidInputError });
    t.throws(() => verifySignature(key, '00', Buffer.from('x')), { instanceOf: InvalidInputError });
  }
});

test('signMetadata signs canonical bytes once per distinct key; addSignature replaces', async (t) => {
  const a = await keyFor('ed25519');
  const b = await keyFor('ecdsa-p256');
  const signed = targetsSigned();
  const md = signMetadata(signed, [a, b, a]);
  t.is(md.signed, signed);
  t.deepEqual(md.signatures.map((s) => s.keyid), [a.keyId, b.keyId]);
  for (const [pair, sig] of [[a, md.signatures[0]!], [b, md.signatures[1]!]] as const) {
    t.true(verifySignature(pair.publicKey, sig.sig, canonicalBytes(signed)));
  }

  const only = signMetadata(signed, [b]);
  const withA = addSignature(only, a);
  t.deepEqual(withA.signatures.map((s) => s.keyid).sort(), [a.keyId, b.keyId].sort());
  t.is(only.signatures.length, 1, 'addSignature does not modify its input');
  const stale: Metadata<TargetsSigned> = { signed, signatures: [{ keyid: a.keyId, sig: '00' }, ...only.signatures] };
  const replaced = addSignature(stale, a);
  t.is(replaced.signatures.filter((s) => s.keyid === a.keyId).length, 1);
  t.not(replaced.signatures.find((s) => s.keyid === a.keyId)!.sig, '00');
});

test('verifyRoleSignatures: thresholds, duplicates, unlisted and missing keys', async (t) => {
  const a = await keyFor('ed25519');
  const b = await keyFor('ecdsa-p256');
  const c = await keyFor('ed25519', 1);
  const keys = { [a.keyId]: a.publicKey, [b.keyId]: b.publicKey, [c.keyId]: c.publicKey };
  const signed = targetsSigned();

  t.notThrows(() => verifyRoleSignatures(signMetadata(signed, [a]), 'targets', { keyids: [a.keyId], threshold: 1 }, keys));
  t.notThrows(() =>
    verifyRoleSignatures(signMetadata(signed, [a, b]), 'targets', { keyids: [a.keyId, b.keyId], threshold: 2 }, keys),
  );

  // Threshold 2 with one valid signature.
  const one = signMetadata(signed, [a]);
  const err = t.throws(() => verifyRoleSignatures(one, 'targets', { keyids: [a.keyId, b.keyId], threshold: 2 }, keys), {
    instanceOf: SignatureError,
  });
  t.is(err.code, 'BAD_SIGNATURE');
  t.regex(err.message, /^targets is signed by 1 of the 2 required keys \(listed: [0-9a-f]{10}…, [0-9a-f]{10}…\)/);

  // Two signatures from one key count once.
  const duplicated: Metadata = { signed, signatures: [...one.signatures, signBytes(a, canonicalBytes(signed))] };
  t.throws(() => verifyRoleSignatures(duplicated, 'targets', { keyids: [a.keyId, b.keyId], threshold: 2 }, keys), {
    instanceOf: SignatureError,
  });
  // A keyid listed twice in the role counts once.
  t.throws(() => verifyRoleSignatures(one, 'targets', { keyids: [a.keyId, a.keyId], threshold: 2 }, keys), {
    instanceOf: SignatureError,
  });

  // A valid signature by a key the role does not list is ignored.
  const withUnlisted = signMetadata(signed, [a, c]);
  t.throws(() => verifyRoleSignatures(withUnlisted, 'targets', { keyids: [a.keyId, b.keyId], threshold: 2 }, keys), {
    instanceOf: SignatureError,
  });
  const unlistedOnly = t.throws(
    () => verifyRoleSignatures(signMetadata(signed, [c]), 'targets', { keyids: [a.keyId], threshold: 1 }, keys),
    { instanceOf: SignatureError },
  );
  t.regex(
    unlistedOnly.message,
    /^targets is signed by 0 of the 1 required keys \(listed: [0-9a-f]{10}…; .*\); sign it with the role's key or check which root you trust$/,
  );

  // A listed key missing from `keys` does not count (and does not throw another error).
  const { [b.keyId]: _omitted, ...withoutB } = keys;
  t.throws(
    () => verifyRoleSignatures(signMetadata(signed, [a, b]), 'targets', { keyids: [a.keyId, b.keyId], threshold: 2 }, withoutB),
    { instanceOf: SignatureError },
  );

  // A signature with garbage, or a key that does not parse, does not count and does not throw otherwise.
  const garbage: Metadata = { signed, signatures: [{ keyid: a.keyId, sig: 'not hex' }, ...signMetadata(signed, [b]).signatures] };
  t.notThrows(() => verifyRoleSignatures(garbage, 'targets', { keyids: [a.keyId, b.keyId], threshold: 1 }, keys));
  const brokenKeys = { ...keys, [a.keyId]: { keytype: 'dsa', scheme: 'dsa', keyval: { public: '' } } };
  t.throws(() => verifyRoleSignatures(one, 'targets', { keyids: [a.keyId], threshold: 1 }, brokenKeys), {
    instanceOf: SignatureError,
  });

  // Signatures over other content do not count.
  const moved: Metadata = { signed: { ...signed, version: 3 }, signatures: one.signatures };
  t.throws(() => verifyRoleSignatures(moved, 'targets', { keyids: [a.keyId], threshold: 1 }, keys), { instanceOf: SignatureError });

  // Key IDs are opaque: a key listed under any ID counts if the signature carries that ID.
  const opaque: Metadata = { signed, signatures: [{ keyid: 'my-key', sig: one.signatures[0]!.sig }] };
  t.notThrows(() => verifyRoleSignatures(opaque, 'targets', { keyids: ['my-key'], threshold: 1 }, { 'my-key': a.publicKey }));
  t.throws(() => verifyRoleSignatures(one, 'targets', { keyids: [a.keyId], threshold: 1 }, { ['__proto__']: a.publicKey }), {
    instanceOf: SignatureError,
  });

  for (const threshold of [0, -1, 1.5, Number.NaN, '1' as unknown as number]) {
    t.throws(() => verifyRoleSignatures(one, 'targets', { keyids: [a.keyId], threshold }, keys), {
      instanceOf: MalformedMetadataError,
    });
  }
});

test('encrypted key files: round trip for each algorithm, labels kept', async (t) => {
  for (const algorithm of ALGORITHMS) {
    const pair = await keyFor(algorithm);
    const file = await encryptKeyPair(pair, 'correct horse', { role: 'targets', gun: 'registry.example.com/team/app' });
    t.is(file.format, 'tagtrust-key-v1');
    t.is(file.keyid, pair.keyId);
    t.deepEqual(file.public, pair.publicKey);
    t.is(file.role, 'targets');
    t.is(file.gun, 'registry.example.com/team/app');
    t.false('name' in file);
    t.deepEqual({ name: file.kdf.name, N: file.kdf.N, r: file.kdf.r, p: file.kdf.p }, { name: 'scrypt', N: 2 ** 15, r: 8, p: 1 });
    t.is(file.cipher.name, 'aes-256-gcm');
    t.false(Number.isNaN(Date.parse(file.created)));
    const json = JSON.stringify(file);
    t.false(json.includes('PRIVATE'));
    t.false(json.includes('correct horse'));

    const decrypted = await decryptKeyFile(parseKeyFile(json, '/keys/x.json'), 'correct horse');
    t.is(decrypted.keyId, pair.keyId);
    t.deepEqual(decrypted.publicKey, pair.publicKey);
    const data = Buffer.from('round trip');
    t.true(verifySignature(pair.publicKey, signBytes(decrypted, data).sig, data));
  }
});

test('encrypted key files: wrong passphrase and tampering', async (t) => {
  const pair = await keyFor('ed25519');
  const file = await encryptKeyPair(pair, 'secret-passphrase-1', { role: 'targets', name: 'release' });

  const err = await t.throwsAsync(decryptKeyFile(file, 'secret-passphrase-2'), { instanceOf: WrongPassphraseError });
  t.is(err.code, 'WRONG_PASSPHRASE');
  t.true(err.message.startsWith(`wrong passphrase for targets key ${pair.keyId.slice(0, 8)}`));
  t.false(err.message.includes('secret-passphrase'));

  const other = await keyFor('ed25519', 1);
  const tampered = [
    { ...file, keyid: other.keyId },
    { ...file, role: 'root' },
    { ...file, gun: 'registry.example.com/other' },
    { ...file, name: 'other' },
    { ...file, public: other.publicKey },
  ];
  for (const edited of tampered) {
    await t.throwsAsync(decryptKeyFile(edited, 'secret-passphrase-1'), { instanceOf: WrongPassphraseError });
  }
  const { role: _role, ...withoutRole } = file;
  await t.throwsAsync(decryptKeyFile(withoutRole, 'secret-passphrase-1'), { instanceOf: WrongPassphraseError });

  await t.throwsAsync(decryptKeyFile({ ...file, ciphertext: 'not base64!' }, 'secret-passphrase-1'), {
    instanceOf: InvalidInputError,
  });
  await t.throwsAsync(encryptKeyPair(pair, ''), { instanceOf: UsageError });
});

test('parseKeyFile validates the shape and names the path', async (t) => {
  const pair = await keyFor('ed25519');
  const file = await encryptKeyPair(pair, 'pw', { name: 'laptop' });
  t.deepEqual(parseKeyFile(JSON.stringify(file), '/k.json'), file);

  const notJson = t.throws(() => parseKeyFile('{"ciphertext": "secret', '/home/u/.tagtrust/keys/a.json'), {
    instanceOf: InvalidInputError,
  });
  t.true(notJson.message.includes('/home/u/.tagtrust/keys/a.json'));
  t.false(notJson.message.includes('secret'));

  const broken: unknown[] = [
    [],
    { ...file, format: 'other' },
    { ...file, keyid: 5 },
    { ...file, public: { keytype: 'ed25519' } },
    { ...file, kdf: { ...file.kdf, N: 2 ** 30 } },
    { ...file, kdf: { ...file.kdf, N: 3000 } },
    { ...file, kdf: { ...file.kdf, name: 'pbkdf2' } },
    { ...file, cipher: { ...file.cipher, iv: 'AAAA' } },
    { ...file, cipher: { ...file.cipher, tag: undefined } },
    { ...file, ciphertext: '' },
    { ...file, created: 'yesterday' },
    { ...file, role: 7 },
  ];
  for (const value of broken) {
    const err = t.throws(() => parseKeyFile(JSON.stringify(value), '/p/key.json'), { instanceOf: InvalidInputError });
    t.true(err.message.startsWith('/p/key.json '), err.message);
  }
});

test('writeFileAtomic writes with mode 0600 by default and replaces atomically', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tagtrust-keys-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'key.json');
  await writeFileAtomic(path, '{"a":1}');
  t.is(await readFile(path, 'utf8'), '{"a":1}');
  t.is((await stat(path)).mode & 0o777, 0o600);

  await writeFileAtomic(path, new Uint8Array([1, 2, 3]), 0o644);
  t.deepEqual([...(await readFile(path))], [1, 2, 3]);
  t.is((await stat(path)).mode & 0o777, 0o644);
  t.deepEqual(await readdir(dir), ['key.json']);

  await t.throwsAsync(writeFileAtomic(join(dir, 'missing', 'x.json'), 'x'));
  t.deepEqual(await readdir(dir), ['key.json']);
});

test('sealed keys: round trip; wrong master key or context fails', async (t) => {
  const master = generateMasterKey();
  t.is(master.length, 32);
  for (const algorithm of ALGORITHMS) {
    const pair = await keyFor(algorithm);
    const context = 'registry.example.com/team/app timestamp';
    const sealed = sealKeyPair(pair, master, context);
    t.is(sealed.keyid, pair.keyId);
    t.false(JSON.stringify(sealed).includes('PRIVATE'));
    const unsealed = unsealKeyPair(JSON.parse(JSON.stringify(sealed)), master, context);
    t.is(unsealed.keyId, pair.keyId);
    t.deepEqual(unsealed.publicKey, pair.publicKey);
    const data = Buffer.from('sealed');
    t.true(verifySignature(pair.publicKey, signBytes(unsealed, data).sig, data));

    const wrongMaster = generateMasterKey();
    const err = t.throws(() => unsealKeyPair(sealed, wrongMaster, context), { instanceOf: InvalidInputError });
    t.regex(err.message, /TAGTRUST_MASTER_KEY/);
    t.false(err.message.includes(master.toString('hex')));
    t.false(err.message.includes(wrongMaster.toString('hex')));
    t.throws(() => unsealKeyPair(sealed, master, 'registry.example.com/team/app snapshot'), { instanceOf: InvalidInputError });
    t.throws(() => unsealKeyPair({ ...sealed, keyid: 'ff'.repeat(32) }, master, context), { instanceOf: InvalidInputError });
  }
  const pair = await keyFor('ed25519');
  t.throws(() => sealKeyPair(pair, Buffer.alloc(16), 'x'), { instanceOf: UsageError });
});

test('parseMasterKey accepts 64 hex or base64 of 32 bytes and never echoes the value', (t) => {
  const key = generateMasterKey();
  t.deepEqual(parseMasterKey(key.toString('hex')), key);
  t.deepEqual(parseMasterKey(key.toString('hex').toUpperCase()), key);
  t.deepEqual(parseMasterKey(`  ${key.toString('base64')}\n`), key);
  t.deepEqual(parseMasterKey(key.toString('base64url')), key);
  const bad = ['', 'abc', key.toString('hex').slice(0, 62), `${key.toString('hex')}00`, key.subarray(0, 31).toString('base64'), 'g'.repeat(64)];
  for (const value of bad) {
    const err = t.throws(() => parseMasterKey(value), { instanceOf: UsageError });
    t.regex(err.message, /64 hex/);
    if (value.length > 0) t.false(err.message.includes(value));
  }
});
