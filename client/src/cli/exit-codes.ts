/**
 * Exit codes of the `tagtrust` CLI, one per error class, so scripts can tell a rollback from a
 * missing tag. Documented in the README ("Exit codes"); keep both in step.
 */
import type { ErrorCode } from '@tagtrust/shared';

export const EXIT_CODES: Record<ErrorCode, number> = {
  USAGE: 2,
  INVALID_REFERENCE: 3,
  INVALID_INPUT: 3,
  WRONG_PASSPHRASE: 4,
  KEY_NOT_FOUND: 4,
  NOT_FOUND: 5,
  NOT_SIGNED: 6,
  UNAUTHORIZED: 7,
  FORBIDDEN: 7,
  VERSION_CONFLICT: 8,
  NETWORK: 9,
  SERVER: 9,
  TIMEOUT: 10,
  TOO_LARGE: 11,
  ROLLBACK: 20,
  EXPIRED: 21,
  BAD_SIGNATURE: 22,
  MISMATCH: 23,
  SUBSTITUTION: 24,
  UNTRUSTED_ROOT: 25,
  MALFORMED_METADATA: 26,
  BAD_VERSION: 27,
  IMMUTABLE_TAG: 28,
  POLICY_WEAKENED: 29,
  LOG_INCONSISTENT: 30,
};

/** `tagtrust drift` found tags the registry serves other than signed (the command itself worked). */
export const EXIT_DRIFT = 40;

/** Anything unexpected (a bug): exit 1. */
export const EXIT_INTERNAL = 1;
