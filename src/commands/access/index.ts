import type { Command } from '../common.js';
import { accessGrantCommand } from './grant.js';
import { accessRevokeCommand } from './revoke.js';
import { accessListCommand } from './list.js';

export const accessCommand: Command = {
  command: 'access',
  describe: 'who may ask Vault for which scoped principal (device, fleet, break-glass)',
  builder: (y) => y.command(accessGrantCommand).command(accessRevokeCommand).command(accessListCommand).demandCommand(1, 'name an access command: grant, revoke or list'),
  handler: () => {},
};
