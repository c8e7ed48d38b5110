export { Puller, verifyManifestBytes } from './puller.js';
export type { PullerOptions, Resolution, RoleState, SignedTag } from './puller.js';
export { DEFAULT_REFRESH_INTERVAL_MS, TagVerifier } from './verified/tag-verifier.js';
export type { TagVerifierOptions } from './verified/tag-verifier.js';
export { loadPolicyFile, startAdmissionWebhook } from './admission/webhook.js';
export type { AdmissionWebhook, AdmissionWebhookOptions } from './admission/webhook.js';
export { parsePolicy } from './admission/policy-file.js';
export type { Mode, Policy, PolicyRule, TrustSettings } from './admission/policy.js';
export { SIGNED_TAGS_ANNOTATION } from './admission/patch.js';
export { DEFAULT_BODY_LIMIT } from './admission/server.js';
export { DEFAULT_BINS_THRESHOLD, Publisher, describeManifest } from './publisher.js';
export type { InitOptions, InitResult, ManyResult, PublishResult, PublisherOptions, TagManifest, TagToSign } from './publisher.js';
export type { PublishedProposal, RootChangeOptions, RootChangeResult, RotatableRole, SignedProposal } from './root-changes.js';
export { ROOT_PROPOSAL_FORMAT, loadRootProposal, proposalStatus } from './root-proposal.js';
export type { ProposalStatus, RootProposal, ThresholdStatus } from './root-proposal.js';
export { readHistory } from './history.js';
export { CHANGELIST_FORMAT, MAX_STAGED_CHANGES, changelistPath, dropChanges, readAllChangelists, readChangelist, stageChanges } from './staging/changelist.js';
export type { NewChange, StagedChange } from './staging/changelist.js';
export type { StagedPublishResult } from './staging/publish-staged.js';
export { auditLog, parseLogHead, verifyTagHistory } from './audit/log-audit.js';
export type { AuditReport, VerifiedChange } from './audit/log-audit.js';
export type { ChangeRecord, ChangefeedPage } from './server-api.js';
export { environmentPassphrases, passphraseEnvName } from './keystore.js';
export type { PassphraseProvider, PassphraseRequest } from './keystore.js';
export type { ClientOptions } from './options.js';
export { DEFAULT_TIMEOUT_MS } from './options.js';
export { DEFAULT_MAX_ROOT_ROTATIONS } from './tuf/trusted-collection.js';
export { METADATA_LIMITS } from './tuf/download-limits.js';
export type { TrustPolicy } from './tuf/trusted-collection.js';
export { findPin, parsePinPattern, pinMatches } from './trust/pin-policy.js';
export type { Pin } from './trust/pin-policy.js';
export { loadPins, pinsPath, savePin } from './trust/pin-store.js';
export { forgetCollection, pinCollection, showTrust } from './trust/trust-admin.js';
export type { PinRequest, TrustReport, TrustedCollectionInfo } from './trust/trust-admin.js';
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
} from '@tagtrust/shared';
export type { ErrorCode } from '@tagtrust/shared';
export { JSON_LIMITS } from '@tagtrust/shared';
export { expandPatterns, readPublicKeyFile } from './delegations.js';
export type { DelegationChangeOptions, DelegationListing, DelegationSpec } from './delegations.js';
export type { DelegationChange, DelegatedRoleState } from './delegation-change.js';
export type { BinsOptions, BinsResult, DelegationChangeResult, RoleChangeResult, RoleOptions, ShowChange } from './publisher.js';
export { changePassphrase, exportKey, generateSignerKey, importKey, removeKey } from './key-admin.js';
export type { GeneratedKey } from './key-admin.js';
export { findKey, listKeys } from './key-files.js';
export type { KeyListing } from './key-files.js';
export { BIN_KEY_NAME, BIN_NAME_PREFIX, MAX_BIN_ENTRIES, binRoleFor, defaultBitLength, isBinRole } from './bins.js';
export { changeLines, describeChange } from './pending.js';
export type { PendingView, TagChange } from './pending.js';
export type { ApproveOptions, ApproveResult, PolicyResult } from './publisher.js';
export { startGate } from './gate/gate-server.js';
export type { GateConfig, OnMoved, RunningGate } from './gate/gate-server.js';
export { RegistryClient, RegistryUnauthorizedError } from './registry/registry-client.js';
export type { RegistryClientOptions, RegistryManifest } from './registry/registry-client.js';
export { parseCredentials } from './registry/registry-auth.js';
export type { RegistryCredentials } from './registry/registry-auth.js';
