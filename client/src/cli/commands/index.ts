/** Every `tagtrust` command, in the order `tagtrust --help` lists them. */
import type { Command } from '../command.js';
import { initCommand } from './init.js';
import { signCommand } from './sign.js';
import { unsignCommand } from './unsign.js';
import { listCommand } from './list.js';
import { resolveCommand } from './resolve.js';

export const COMMANDS: Command[] = [initCommand, signCommand, unsignCommand, listCommand, resolveCommand];
import { delegationCommand } from './delegation.js';
import { keyGenerateCommand } from './key-generate.js';
COMMANDS.push(delegationCommand, keyGenerateCommand);
import { pendingCommand } from './pending.js';
import { approveCommand } from './approve.js';
COMMANDS.push(pendingCommand, approveCommand);
