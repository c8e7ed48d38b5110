/**
 * Every error tagtrust throws on purpose. Two kinds, as in python-tuf:
 * - caller mistakes (`UsageError`, `InvalidReferenceError`, `InvalidInputError`): fix the call;
 * - bad outside data (`RepositoryError` and subclasses): metadata that failed verification.
 * Each error has a stable `code` (used on the wire and for CLI exit codes), a one-line message that
 * says what failed, why and what to do, and keeps the underlying `cause`. Messages never contain
 * secrets (keys, passphrases, tokens).
 */

export type ErrorCode =
  | 'USAGE'
  | 'INVALID_REFERENCE'
  | 'INVALID_INPUT'
  | 'WRONG_PASSPHRASE'
  | 'KEY_NOT_FOUND'
  | 'NOT_FOUND'
  | 'NOT_SIGNED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'VERSION_CONFLICT'
  | 'TOO_LARGE'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'SERVER'
  | 'MALFORMED_METADATA'
  | 'BAD_SIGNATURE'
  | 'BAD_VERSION'
  | 'ROLLBACK'
  | 'EXPIRED'
  | 'MISMATCH'
  | 'SUBSTITUTION'
  | 'UNTRUSTED_ROOT'
  | 'IMMUTABLE_TAG'
  | 'POLICY_WEAKENED'
  | 'LOG_INCONSISTENT';

export interface ErrorOptions {
  cause?: unknown;
}

export class TagTrustError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TagTrustError';
    this.code = code;
  }
}

/** A caller bug or a bad command-line argument. */
export class UsageError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('USAGE', message, options);
    this.name = 'UsageError';
  }
}

/** A string that is not a valid image reference, or not one the operation accepts. */
export class InvalidReferenceError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_REFERENCE', message, options);
    this.name = 'InvalidReferenceError';
  }
}

/** A request or argument that is well-formed JSON/text but not acceptable (digest, size, body shape). */
export class InvalidInputError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_INPUT', message, options);
    this.name = 'InvalidInputError';
  }
}

export class WrongPassphraseError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('WRONG_PASSPHRASE', message, options);
    this.name = 'WrongPassphraseError';
  }
}

export class KeyNotFoundError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('KEY_NOT_FOUND', message, options);
    this.name = 'KeyNotFoundError';
  }
}

/** A collection, role or metadata version that does not exist. */
export class NotFoundError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

/** The tag has no signed mapping in the collection's trusted targets. */
export class NotSignedError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('NOT_SIGNED', message, options);
    this.name = 'NotSignedError';
  }
}

export class UnauthorizedError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('UNAUTHORIZED', message, options);
    this.name = 'UnauthorizedError';
  }
}

export class ForbiddenError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('FORBIDDEN', message, options);
    this.name = 'ForbiddenError';
  }
}

/** A publish based on a version that is no longer current: re-read, re-apply, re-sign, retry. */
export class VersionConflictError extends TagTrustError {
  readonly role: string;
  readonly currentVersion: number;
  constructor(role: string, currentVersion: number, message: string, options?: ErrorOptions) {
    super('VERSION_CONFLICT', message, options);
    this.name = 'VersionConflictError';
    this.role = role;
    this.currentVersion = currentVersion;
  }
}

/** A body or metadata file larger than its cap; it was not read whole. */
export class TooLargeError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('TOO_LARGE', message, options);
    this.name = 'TooLargeError';
  }
}

export class TimeoutError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('TIMEOUT', message, options);
    this.name = 'TimeoutError';
  }
}

/** The server could not be reached, or the connection failed mid-way. */
export class NetworkError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('NETWORK', message, options);
    this.name = 'NetworkError';
  }
}

/** The server failed (5xx) or answered something that is not a tagtrust API response. */
export class ServerError extends TagTrustError {
  constructor(message: string, options?: ErrorOptions) {
    super('SERVER', message, options);
    this.name = 'ServerError';
  }
}

/** Outside data (metadata) failed verification. Subclasses say how. */
export class RepositoryError extends TagTrustError {
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'RepositoryError';
  }
}

/** Not valid TUF metadata: bad JSON, wrong `_type`, missing or mistyped fields. */
export class MalformedMetadataError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('MALFORMED_METADATA', message, options);
    this.name = 'MalformedMetadataError';
  }
}

/** Too few valid signatures from the keys the delegating role trusts. */
export class SignatureError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('BAD_SIGNATURE', message, options);
    this.name = 'SignatureError';
  }
}

/** A version that is not the one required (e.g. a publish that is not exactly current + 1). */
export class BadVersionError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('BAD_VERSION', message, options);
    this.name = 'BadVersionError';
  }
}

/** Metadata older than what the client already trusts. */
export class RollbackError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('ROLLBACK', message, options);
    this.name = 'RollbackError';
  }
}

/** Metadata past its expiry, or older than the puller's max-age policy (freeze attack). */
export class ExpiredMetadataError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('EXPIRED', message, options);
    this.name = 'ExpiredMetadataError';
  }
}

/** Bytes that do not match the length/hashes/version their parent metadata lists. */
export class MismatchError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('MISMATCH', message, options);
    this.name = 'MismatchError';
  }
}

/** Metadata or a target that belongs to another collection. */
export class SubstitutionError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('SUBSTITUTION', message, options);
    this.name = 'SubstitutionError';
  }
}

/** A root that is not pinned/trusted, or not signed by the previous root's threshold. */
export class UntrustedRootError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('UNTRUSTED_ROOT', message, options);
    this.name = 'UntrustedRootError';
  }
}

/** A tag the signed immutability policy covers was moved or removed (docs/immutability.md). */
export class ImmutableTagError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('IMMUTABLE_TAG', message, options);
    this.name = 'ImmutableTagError';
  }
}

/** Targets that drop immutability patterns without a root-signed approval (docs/immutability.md). */
export class PolicyWeakenedError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('POLICY_WEAKENED', message, options);
    this.name = 'PolicyWeakenedError';
  }
}

/** The tag transparency log failed a proof: a rewritten, dropped or forked history (docs/immutability.md). */
export class LogInconsistentError extends RepositoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('LOG_INCONSISTENT', message, options);
    this.name = 'LogInconsistentError';
  }
}

/** Rethrows anything that is not a TagTrustError as `wrap(err)`; typed `never` for control flow. */
export function rethrowAs(err: unknown, wrap: (cause: unknown) => TagTrustError): never {
  if (err instanceof TagTrustError) throw err;
  throw wrap(err);
}
