/**
 * @tagtrust/keys: key generation, key IDs, signing and verification over node:crypto, encrypted key
 * files for publishers, and master-key sealing for server-held keys.
 */
export { writeFileAtomic, PRIVATE_FILE_MODE } from './atomic-write.js';
export { DEFAULT_KEY_ALGORITHM, RSA_MODULUS_BITS, generateKeyPair, keyPairFromPrivateKey, parseKeyAlgorithm } from './generate.js';
export type { KeyAlgorithm, KeyPair } from './generate.js';
export { decryptKeyFile, encryptKeyPair } from './key-file.js';
export { keyIdentity, keyMapProblem, signedKeyMapsProblem } from './key-identity.js';
export { KEY_FILE_FORMAT, parseKeyFile } from './key-file-format.js';
export type { EncryptedKeyFile, KeyFileLabels } from './key-file-format.js';
export { addSignature, signMetadata, verifyRoleSignatures } from './metadata-sign.js';
export { generateMasterKey, parseMasterKey, sealKeyPair, unsealKeyPair } from './seal.js';
export type { SealedKey } from './seal.js';
export { signBytes, verifySignature, verifySignatureSafe } from './signature.js';
export { keyIdOf, publicKeyObject, tufKeyOf } from './tuf-key.js';
