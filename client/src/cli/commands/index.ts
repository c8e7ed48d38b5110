/** Every `tagtrust` command, in the order `tagtrust --help` lists them. */
import type { Command } from '../command.js';
import { initCommand } from './init.js';
import { signCommand } from './sign.js';
import { unsignCommand } from './unsign.js';
import { statusCommand } from './status.js';
import { resetCommand } from './reset.js';
import { publishCommand } from './publish.js';
import { listCommand } from './list.js';
import { resolveCommand } from './resolve.js';
import { verifyCommand } from './verify.js';
import { trustCommand } from './trust.js';
import { delegationCommand } from './delegation.js';
import { binsCommand } from './bins.js';
import { pendingCommand } from './pending.js';
import { approveCommand } from './approve.js';
import { keyCommand } from './key.js';
import { rootCommand } from './root.js';
import { historyCommand } from './history.js';
import { importNotaryCommand } from './import-notary.js';
import { admissionCommand } from './admission.js';

import { gateCommand } from './gate.js';
import { driftCommand } from './drift.js';
import { pushCommand } from './push.js';

import { policyCommand } from './policy.js';
import { auditCommand } from './audit.js';

export const COMMANDS: Command[] = [
  initCommand,
  signCommand,
  pushCommand,
  unsignCommand,
  statusCommand,
  resetCommand,
  publishCommand,
  listCommand,
  resolveCommand,
  verifyCommand,
  gateCommand,
  driftCommand,
  trustCommand,
  delegationCommand,
  binsCommand,
  pendingCommand,
  approveCommand,
  keyCommand,
  rootCommand,
  historyCommand,
  importNotaryCommand,
  admissionCommand,

  policyCommand,
  auditCommand,
];
