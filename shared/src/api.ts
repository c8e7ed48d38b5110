/**
 * The HTTP API contract between tagtrust-server and its clients: paths, bodies, error envelope and
 * the mapping between error codes and HTTP statuses (one table, used on both sides).
 */
import type { ErrorCode } from './errors.js';
import {
  BadVersionError,
  ForbiddenError,
  ImmutableTagError,
  InvalidInputError,
  InvalidReferenceError,
  MalformedMetadataError,
  NotFoundError,
  PolicyWeakenedError,
  ServerError,
  SignatureError,
  SubstitutionError,
  TagTrustError,
  TooLargeError,
  UnauthorizedError,
  VersionConflictError,
  ExpiredMetadataError,
  UntrustedRootError,
} from './errors.js';
import type { Metadata } from './tuf-types.js';

/** Base path of a collection's TUF files, e.g. `/v2/registry.example.com/team/app/_trust/tuf`. */
export function tufBasePath(gun: string): string {
  return `/v2/${gun}/_trust/tuf`;
}

/** Publish body: signed metadata keyed by role name (`root`, `targets`, later delegated roles). */
export type PublishRequest = Record<string, Metadata>;

export interface PublishResponse {
  gun: string;
  /** The versions now current, for every role the publish changed (including snapshot, timestamp). */
  versions: Record<string, number>;
  /** True when the publish carried the publisher's lease (LEASE_HEADER) and released it. */
  leaseReleased?: boolean;
}

export interface ApiErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** With VERSION_CONFLICT: the role and its current version on the server. */
    role?: string;
    currentVersion?: number;
    /** The request's ID (also in the X-Request-Id header and on the server's log lines about it). */
    requestId?: string;
  };
}

export const HTTP_STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  USAGE: 400,
  INVALID_REFERENCE: 400,
  INVALID_INPUT: 400,
  MALFORMED_METADATA: 400,
  BAD_SIGNATURE: 400,
  BAD_VERSION: 400,
  EXPIRED: 400,
  SUBSTITUTION: 400,
  UNTRUSTED_ROOT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VERSION_CONFLICT: 409,
  TOO_LARGE: 413,
  IMMUTABLE_TAG: 409,
  POLICY_WEAKENED: 409,
  /** The server cannot serve or store this right now (e.g. its disk is full), and says why. */
  SERVER: 503,
};

/** Request header of a publish made under a publish lease: the server releases the lease once the publish is stored. */
export const LEASE_HEADER = 'x-tagtrust-lease';

/** Rebuilds the typed error a server reported; anything unknown becomes a ServerError. */
export function errorFromApi(status: number, body: unknown, what: string): TagTrustError {
  const error = (body as Partial<ApiErrorBody> | undefined)?.error;
  if (!error || typeof error.message !== 'string') {
    return new ServerError(`${what} failed: the server answered HTTP ${status} without a tagtrust error body; check the server URL`);
  }
  const message = `${what} failed: ${error.message}`;
  switch (error.code) {
    case 'VERSION_CONFLICT':
      return new VersionConflictError(error.role ?? 'unknown', error.currentVersion ?? 0, message);
    case 'UNAUTHORIZED':
      return new UnauthorizedError(message);
    case 'FORBIDDEN':
      return new ForbiddenError(message);
    case 'NOT_FOUND':
      return new NotFoundError(message);
    case 'TOO_LARGE':
      return new TooLargeError(message);
    case 'INVALID_REFERENCE':
      return new InvalidReferenceError(message);
    case 'MALFORMED_METADATA':
      return new MalformedMetadataError(message);
    case 'BAD_SIGNATURE':
      return new SignatureError(message);
    case 'BAD_VERSION':
      return new BadVersionError(message);
    case 'EXPIRED':
      return new ExpiredMetadataError(message);
    case 'SUBSTITUTION':
      return new SubstitutionError(message);
    case 'UNTRUSTED_ROOT':
      return new UntrustedRootError(message);
    case 'IMMUTABLE_TAG':
      return new ImmutableTagError(message);
    case 'POLICY_WEAKENED':
      return new PolicyWeakenedError(message);
    case 'INVALID_INPUT':
    case 'USAGE':
      return new InvalidInputError(message);
    case 'SERVER':
      return new ServerError(`${message} (HTTP ${status})`);
    default:
      return new ServerError(status >= 500 ? `${what} failed: the server had an internal error (HTTP ${status}); see its log` : message);
  }
}
