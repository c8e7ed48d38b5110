export { Puller } from './puller.js';
export type { PullerOptions, Resolution, RoleState, SignedTag } from './puller.js';
export { Publisher, describeManifest } from './publisher.js';
export type { InitOptions, InitResult, PublishResult, PublisherOptions, TagManifest } from './publisher.js';
export type { PublishedProposal, RootChangeOptions, RootChangeResult, RotatableRole, SignedProposal } from './root-changes.js';
export { ROOT_PROPOSAL_FORMAT, loadRootProposal, proposalStatus } from './root-proposal.js';
export type { ProposalStatus, RootProposal, ThresholdStatus } from './root-proposal.js';
export { readHistory } from './history.js';
export type { ChangeRecord, ChangefeedPage } from './server-api.js';
export { environmentPassphrases, passphraseEnvName } from './keystore.js';
export type { PassphraseProvider, PassphraseRequest } from './keystore.js';
export type { ClientOptions } from './options.js';
export { DEFAULT_TIMEOUT_MS } from './options.js';
export {
  BadVersionError,
  ExpiredMetadataError,
  ForbiddenError,
  InvalidInputError,
  InvalidReferenceError,
  KeyNotFoundError,
  MalformedMetadataError,
  MismatchError,
  NetworkError,
  NotFoundError,
  NotSignedError,
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
