export { canonicalBytes, canonicalJson } from './canonical.js';
export {
  BadVersionError,
  ExpiredMetadataError,
  ForbiddenError,
  ImmutableTagError,
  InvalidInputError,
  InvalidReferenceError,
  KeyNotFoundError,
  LogInconsistentError,
  MalformedMetadataError,
  MismatchError,
  NetworkError,
  NotFoundError,
  NotSignedError,
  PolicyWeakenedError,
  RepositoryError,
  RollbackError,
  ServerError,
  SignatureError,
  SubstitutionError,
  TagTrustError,
  TimeoutError,
  TooLargeError,
  UnauthorizedError,
  UntrustedRootError,
  UsageError,
  VersionConflictError,
  WrongPassphraseError,
  rethrowAs,
} from './errors.js';
export type { ErrorCode, ErrorOptions } from './errors.js';
export { SPEC_VERSION, TIMESTAMP_SIGNED_AT, TOP_LEVEL_ROLES } from './tuf-types.js';
export type {
  AnySigned,
  DelegatedRoleInfo,
  SuccinctRolesInfo,
  Delegations,
  KeyScheme,
  MetaFileInfo,
  Metadata,
  RoleKeys,
  RootSigned,
  Signature,
  SnapshotSigned,
  TargetFileInfo,
  TargetsSigned,
  TimestampSigned,
  TopLevelRoleName,
  TufKey,
} from './tuf-types.js';
export { HTTP_STATUS_BY_CODE, LEASE_HEADER, errorFromApi, tufBasePath } from './api.js';
export type { ApiErrorBody, PublishRequest, PublishResponse } from './api.js';
export {
  DEFAULT_LIFETIMES,
  buildRoot,
  buildSnapshot,
  buildTargets,
  buildTimestamp,
  describeFile,
  expiresAfter,
  formatDuration,
  parseDuration,
} from './metadata-build.js';
export type { NewRootOptions } from './metadata-build.js';
export { isExpired, validateMetadata } from './metadata-validate.js';
export { JSON_LIMITS, JsonShapeScanner, jsonShapeProblem } from './json-shape.js';
export type { JsonLimits } from './json-shape.js';
export { isStrictUtcTime } from './utc-time.js';
export type { ValidateOptions } from './metadata-validate.js';
export type { MetadataType } from './metadata-validate.js';
export {
  DEFAULT_DOMAIN,
  NAME_TOTAL_LENGTH_MAX,
  TAG_LENGTH_MAX,
  isTargetInCollection,
  parseDigest,
  parseGun,
  parseReference,
  parseTaggedReference,
  parseTargetName,
  pinnedReference,
  targetName,
} from './reference.js';
export type { ImageReference } from './reference.js';
export {
  checkHashPrefixes,
  checkPathPatterns,
  delegatedRoleNameProblem,
  describeDelegatedPaths,
  isDelegatedTarget,
  targetNameHash,
  delegationChain,
  delegatorOf,
  isDelegatedPath,
  isDelegatedRoleName,
  matchesPathPattern,
  pathPatternProblem,
} from './delegation-paths.js';
export {
  MAX_BIT_LENGTH,
  binIndexOf,
  binIndexOfRole,
  binRoleForTarget,
  binRoleName,
  binRoleNames,
  binSuffixLength,
  delegatedRoles,
  findDelegation,
  isBinDelegation,
  isBinRoleName,
  succinctRolesProblem,
} from './succinct-roles.js';
export type { BinDelegation, RoleDelegation } from './succinct-roles.js';
export { pendingBasePath } from './pending-api.js';
export type { ApproveRequest, PendingChange, PendingResult, PendingStatus, ProposeRequest, WithdrawResult } from './pending-api.js';
export {
  IMMUTABLE_FIELD,
  MAX_IMMUTABLE_PATTERNS,
  POLICY_CHANGE_FIELD,
  TagPolicy,
  carryPolicy,
  checkPolicyChange,
  immutablePatternProblem,
  immutablePolicy,
  rootPolicyChange,
} from './immutability.js';
export {
  EMPTY_ROOT,
  appendNodes,
  consistencyRanges,
  foldNodes,
  inclusionRanges,
  leafHash,
  nodeHash,
  rangeNodes,
  verifyConsistency,
  verifyInclusion,
} from './tag-log/merkle.js';
export type { LeafRange, NodeId } from './tag-log/merkle.js';
export { LOG_HEAD_FIELD, LOG_PAGE_LIMIT, hashLeaf, leafBytes, logHeadOf } from './tag-log/entry.js';
export type { LogEntry, LogHead, LogLeaf } from './tag-log/entry.js';
