import type { Command } from '../common.js';
import { factoryBatchCreateCommand } from './batch-create.js';
import { factoryBatchUnwrapCommand } from './batch-unwrap.js';
import { factoryBatchRevokeCommand } from './batch-revoke.js';

const factoryBatchCommand: Command = {
  command: 'batch <command>',
  describe: 'per-batch flasher credentials: N decrypts from the factory ranges',
  builder: (y) => y.command(factoryBatchCreateCommand).command(factoryBatchUnwrapCommand).command(factoryBatchRevokeCommand).demandCommand(1),
  handler: () => {},
};

export const factoryCommand: Command = {
  command: 'factory <command>',
  describe: 'factory batches for flashing provisioned images',
  builder: (y) => y.command(factoryBatchCommand).demandCommand(1),
  handler: () => {},
};
