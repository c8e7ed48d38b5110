/**
 * Root changes: key rotation (root, targets, snapshot, timestamp), new root thresholds, and root
 * proposals signed by several key holders.
 *
 * Rules:
 * - Every change is root N+1 built from the client's verified current root (a full TUF update
 *   first), with a renewed expiry, signed by every root key (current or new) this home holds.
 * - Root N+1 is published only when it carries the threshold of root N's root keys and its own
 *   (spec 5.3.4); otherwise it travels as a proposal file (root-proposal.ts).
 * - `rotateKey` refuses, before changing anything (no key created, nothing asked of the server),
 *   when this home cannot meet the thresholds alone.
 * - A new targets key comes with targets re-signed by it in the same publish, so the server never
 *   serves targets its root rejects.
 */
import type { KeyAlgorithm, KeyPair } from '@tagtrust/keys';
import { addSignature, generateKeyPair, writeFileAtomic } from '@tagtrust/keys';
import { IMMUTABLE_FIELD, KeyNotFoundError, POLICY_CHANGE_FIELD, SignatureError, UsageError, buildTargets, carryPolicy, expiresAfter, parseGun } from '@tagtrust/shared';
import type { Metadata, PublishResponse, RootSigned, TargetsSigned } from '@tagtrust/shared';
import { Deadline } from './deadline.js';
import type { KeyStore } from './keystore.js';
import type { ResolvedOptions } from './options.js';
import type { ProposalStatus, RootProposal } from './root-proposal.js';
import { ROOT_PROPOSAL_FORMAT, checkProposalBase, describeRootChanges, describeStatus, loadRootProposal, proposalStatus } from './root-proposal.js';
import { ServerApi } from './server-api.js';
import type { TrustedMetadata } from './tuf/trusted-collection.js';
import { withTrustedCollection } from './tuf/trusted-collection.js';
import { checkKeyMaps, signBuilt } from './sign-built.js';

/** A role whose keys `rotateKey` replaces. */
export type RotatableRole = 'root' | 'targets' | 'snapshot' | 'timestamp';

export interface RootChangeOptions {
  /** Replace this role's key(s): snapshot/timestamp ask the server for a new key; root/targets create one here. */
  rotate?: RotatableRole;
  /** For root: which root key to replace (a key ID or its prefix); default the first one this home holds. */
  replaceKeyId?: string;
  /** A new root threshold. */
  rootThreshold?: number;
  /**
   * A root-approved immutability policy (shared/src/immutability.ts): root N+1 approves it for the
   * next targets version, and targets re-signed with it (by this home's targets key) come along.
   */
  immutable?: string[];
  algorithm?: KeyAlgorithm;
}

export interface RootChangeResult {
  proposal: RootProposal;
  status: ProposalStatus;
  /** One line per role whose keys changed. */
  changes: string[];
  /** Files of private keys created here. */
  keyFiles: string[];
  /** Versions now current on the server, when the change was published. */
  published?: PublishResponse['versions'];
}


/** A proposal after `signRootProposal`: which of this home's keys signed it. */
export type SignedProposal = Omit<RootChangeResult, 'keyFiles'> & { added: string[] };

/** A proposal after `publishRootProposal`. */
export type PublishedProposal = Omit<RootChangeResult, 'keyFiles'>;

export interface RootChangesOptions {
  options: ResolvedOptions;
  keys: KeyStore;
  rootLifetimeMs: number;
  targetsLifetimeMs: number;
}

export class RootChanges {
  private readonly options: ResolvedOptions;
  private readonly keys: KeyStore;
  private readonly rootLifetimeMs: number;
  private readonly targetsLifetimeMs: number;

  constructor(deps: RootChangesOptions) {
    this.options = deps.options;
    this.keys = deps.keys;
    this.rootLifetimeMs = deps.rootLifetimeMs;
    this.targetsLifetimeMs = deps.targetsLifetimeMs;
  }

  /**
   * Rotates a role's key and publishes root N+1 (and, for targets, targets re-signed with the new
   * key). Snapshot/timestamp: the server creates a pending key and switches to it when this root is
   * published. Root/targets: a new key is created in this home.
   * @throws UsageError (before changing anything) when this home holds too few root keys to meet the
   *   thresholds: use `prepareRoot` and have other holders sign the proposal
   */
  async rotateKey(gunInput: string, role: RotatableRole, options: Omit<RootChangeOptions, 'rotate'> = {}): Promise<RootChangeResult> {
    const gun = parseGun(gunInput);
    return this.withDeadline(`rotating the ${role} key of ${gun}`, async (api, deadline) => {
      const trusted = await this.refresh(gun, deadline);
      await this.checkCanPublishAlone(gun, trusted.root, { ...options, rotate: role });
      const result = await this.buildRootChange(gun, trusted, api, { ...options, rotate: role });
      if (!result.status.ready) throw new SignatureError(`the new root is ${describeStatus(result.status)}: nothing was published`);
      const response = await api.publish(gun, { root: result.proposal.root, ...(result.proposal.targets ? { targets: result.proposal.targets } : {}) });
      return { ...result, published: response.versions };
    });
  }

  /**
   * Publishes root N+1 approving a weaker immutability policy, with targets carrying it (see
   * RootChangeOptions.immutable). @throws UsageError when this home cannot meet the root thresholds
   */
  async changePolicy(gunInput: string, immutable: string[]): Promise<RootChangeResult> {
    const gun = parseGun(gunInput);
    return this.withDeadline(`approving the immutability policy of ${gun}`, async (api, deadline) => {
      const trusted = await this.refresh(gun, deadline);
      await this.checkCanPublishAlone(gun, trusted.root, { immutable });
      const result = await this.buildRootChange(gun, trusted, api, { immutable });
      if (!result.status.ready) throw new SignatureError(`the new root is ${describeStatus(result.status)}: nothing was published`);
      const response = await api.publish(gun, { root: result.proposal.root, targets: result.proposal.targets! });
      return { ...result, published: response.versions };
    });
  }

  /**
   * Builds root N+1 with the requested change, signed by the root keys this home holds, and writes it
   * to `outFile` as a proposal for other key holders to sign (`signRootProposal`) and anyone to
   * publish (`publishRootProposal`).
   */
  async prepareRoot(gunInput: string, outFile: string, options: RootChangeOptions = {}): Promise<RootChangeResult> {
    const gun = parseGun(gunInput);
    return this.withDeadline(`preparing a new root for ${gun}`, async (api, deadline) => {
      const trusted = await this.refresh(gun, deadline);
      const result = await this.buildRootChange(gun, trusted, api, options);
      await writeProposal(outFile, result.proposal);
      return result;
    });
  }

  /** Adds signatures by every root key (current or proposed) this home holds to a proposal file. */
  async signRootProposal(file: string): Promise<SignedProposal> {
    const proposal = await loadRootProposal(file);
    return this.withDeadline(`signing the root proposal for ${proposal.gun}`, async (_api, deadline) => {
      const trusted = await this.refresh(proposal.gun, deadline);
      checkProposalBase(proposal, trusted.root);
      const keyIds = [...trusted.root.signed.roles.root.keyids, ...proposal.root.signed.roles.root.keyids];
      const signers = await this.keys.unlockAll(keyIds, 'root', proposal.gun);
      if (signers.length === 0) {
        throw new KeyNotFoundError(`this home holds none of the root keys of ${proposal.gun} (current or proposed): sign on the machine that holds one (--home / TAGTRUST_HOME)`);
      }
      // A proposal comes from another root key holder: sign it only if each of its keys counts once.
      checkKeyMaps(proposal.root.signed);
      let root = proposal.root;
      for (const signer of signers) root = addSignature(root, signer);
      const signed = { ...proposal, root };
      await writeProposal(file, signed);
      return {
        proposal: signed,
        status: proposalStatus(signed, trusted.root),
        changes: describeRootChanges(trusted.root.signed, signed.root.signed),
        added: signers.map((s) => s.keyId),
      };
    });
  }

  /**
   * Publishes a proposal once it carries enough signatures.
   * @throws SignatureError (publishing nothing) when a threshold is not met
   */
  async publishRootProposal(file: string): Promise<PublishedProposal> {
    const proposal = await loadRootProposal(file);
    return this.withDeadline(`publishing the root proposal for ${proposal.gun}`, async (api, deadline) => {
      const trusted = await this.refresh(proposal.gun, deadline);
      checkProposalBase(proposal, trusted.root);
      const status = proposalStatus(proposal, trusted.root);
      if (!status.ready) {
        throw new SignatureError(`root v${proposal.root.signed.version} of ${proposal.gun} is ${describeStatus(status)}: have more root key holders run \`tagtrust root sign ${file}\``);
      }
      const response = await api.publish(proposal.gun, { root: proposal.root, ...(proposal.targets ? { targets: proposal.targets } : {}) });
      return { proposal, status, changes: describeRootChanges(trusted.root.signed, proposal.root.signed), published: response.versions };
    });
  }

  private async withDeadline<T>(what: string, run: (api: ServerApi, deadline: Deadline) => Promise<T>): Promise<T> {
    const deadline = new Deadline(this.options.timeoutMs, what);
    try {
      return await run(new ServerApi(this.options.server, this.options.token, deadline, { ca: this.options.ca }), deadline);
    } finally {
      deadline.dispose();
    }
  }

  private refresh(gun: string, deadline: Deadline): Promise<TrustedMetadata> {
    return withTrustedCollection({ home: this.options.home, server: this.options.server, gun, deadline, warn: this.options.warn, token: this.options.token, transport: { ca: this.options.ca } }, async (session) => session.metadata);
  }

  /** Throws before any change when this home cannot meet both root thresholds by itself. */
  private async checkCanPublishAlone(gun: string, current: Metadata<RootSigned>, options: RootChangeOptions): Promise<void> {
    const role = current.signed.roles.root;
    const held: string[] = [];
    for (const keyId of role.keyids) if (await this.keys.has(keyId)) held.push(keyId);
    const threshold = options.rootThreshold ?? role.threshold;
    if (held.length < role.threshold || held.length < threshold) {
      throw new UsageError(
        `${gun} needs ${Math.max(role.threshold, threshold)} root keys to sign a new root and this home holds ${held.length}: ` +
          `run \`${prepareCommand(gun, options)}\`, have other root key holders run \`tagtrust root sign FILE\`, then \`tagtrust root publish FILE\``,
      );
    }
  }

  private async buildRootChange(gun: string, trusted: TrustedMetadata, api: ServerApi, options: RootChangeOptions): Promise<RootChangeResult> {
    const current = trusted.root;
    const signed: RootSigned = structuredClone(current.signed);
    signed.version += 1;
    signed.expires = expiresAfter(new Date(), this.rootLifetimeMs);
    const keyFiles: string[] = [];
    let targets: Metadata<TargetsSigned> | undefined;
    const replaceRole = (role: RotatableRole, pair: { keyId: string; publicKey: RootSigned['keys'][string] }) => {
      signed.keys[pair.keyId] = pair.publicKey;
      signed.roles[role] = { keyids: [pair.keyId], threshold: 1 };
    };
    switch (options.rotate) {
      case 'snapshot':
      case 'timestamp': {
        const { keyId, key } = await api.rotateOnlineKey(gun, options.rotate);
        replaceRole(options.rotate, { keyId, publicKey: key });
        break;
      }
      case 'targets': {
        const pair = await generateKeyPair(options.algorithm);
        keyFiles.push(await this.keys.add(pair, { role: 'targets', gun }));
        replaceRole('targets', pair);
        const previous = trusted.targets.signed;
        const next = carryPolicy(previous, buildTargets(previous.version + 1, expiresAfter(new Date(), this.targetsLifetimeMs), previous.targets));
        if (previous.delegations) next.delegations = previous.delegations;
        targets = signBuilt(next, [pair]);
        break;
      }
      case 'root': {
        const old = await this.rootKeyToReplace(gun, current.signed.roles.root.keyids, options.replaceKeyId);
        const pair = await generateKeyPair(options.algorithm);
        keyFiles.push(await this.keys.add(pair, { role: 'root', gun }));
        signed.keys[pair.keyId] = pair.publicKey;
        signed.roles.root = { ...signed.roles.root, keyids: signed.roles.root.keyids.map((id) => (id === old ? pair.keyId : id)) };
        break;
      }
      case undefined:
        break;
      default:
        throw new UsageError(`cannot rotate "${String(options.rotate)}": choose root, targets, snapshot or timestamp`);
    }
    if (options.immutable) {
      if (targets) throw new UsageError('change the immutability policy and rotate the targets key in two steps');
      const previous = trusted.targets.signed;
      signed[POLICY_CHANGE_FIELD] = { targets: previous.version + 1, immutable: [...options.immutable] };
      const next = buildTargets(previous.version + 1, expiresAfter(new Date(), this.targetsLifetimeMs), previous.targets);
      if (previous.delegations) next.delegations = previous.delegations;
      next[IMMUTABLE_FIELD] = [...options.immutable];
      targets = signBuilt(next, [await this.keys.unlock(current.signed.roles.targets.keyids, 'targets', gun)]);
    }
    if (options.rootThreshold !== undefined) {
      const count = signed.roles.root.keyids.length;
      if (!Number.isInteger(options.rootThreshold) || options.rootThreshold < 1 || options.rootThreshold > count) {
        throw new UsageError(`the root threshold must be 1 to ${count} (the number of root keys), got ${options.rootThreshold}`);
      }
      signed.roles.root.threshold = options.rootThreshold;
    }
    const used = new Set(Object.values(signed.roles).flatMap((r) => r.keyids));
    for (const keyId of Object.keys(signed.keys)) if (!used.has(keyId)) delete signed.keys[keyId];

    const signers: KeyPair[] = await this.keys.unlockAll([...current.signed.roles.root.keyids, ...signed.roles.root.keyids], 'root', gun);
    const description = options.rotate ? `rotate the ${options.rotate} key` : options.immutable ? `approve the immutability policy ${options.immutable.join(' ') || '(none)'}` : 'new root';
    const proposal: RootProposal = {
      format: ROOT_PROPOSAL_FORMAT,
      gun,
      basedOn: current.signed.version,
      description,
      root: signBuilt(signed, signers),
      ...(targets ? { targets } : {}),
    };
    return { proposal, status: proposalStatus(proposal, current), changes: describeRootChanges(current.signed, signed), keyFiles };
  }

  private async rootKeyToReplace(gun: string, keyIds: string[], wanted: string | undefined): Promise<string> {
    if (wanted !== undefined) {
      const matches = keyIds.filter((id) => id.startsWith(wanted));
      if (matches.length !== 1) {
        throw new UsageError(`--replace ${wanted} matches ${matches.length} of the root keys of ${gun} (${keyIds.map((id) => id.slice(0, 8)).join(', ')}): give a longer prefix`);
      }
      return matches[0]!;
    }
    for (const keyId of keyIds) if (await this.keys.has(keyId)) return keyId;
    throw new KeyNotFoundError(`this home holds none of the root keys of ${gun}: rotate on the machine that holds one, or use --replace KEYID with a proposal`);
  }

}

async function writeProposal(path: string, proposal: RootProposal): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(proposal, null, 2)}\n`, 0o644);
}

/** The command that writes the same root change as a proposal for other root key holders. */
function prepareCommand(gun: string, options: RootChangeOptions): string {
  if (options.rotate) return `tagtrust key rotate ${gun} ${options.rotate} --out FILE`;
  if (options.immutable) {
    const policy = options.immutable.length === 0 ? '--no-immutable' : options.immutable.map((p) => `--immutable '${p}'`).join(' ');
    return `tagtrust root prepare ${gun} --out FILE ${policy}`;
  }
  return `tagtrust root prepare ${gun} --out FILE`;
}
