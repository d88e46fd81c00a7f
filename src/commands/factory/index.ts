import type { Command } from '../common.js';
import { factoryBatchCreateCommand } from './batch-create.js';
import { factoryBatchUnwrapCommand } from './batch-unwrap.js';
import { factoryBatchRevokeCommand } from './batch-revoke.js';
import { factoryReconcileCommand } from './reconcile.js';

const factoryBatchCommand: Command = {
  command: 'batch',
  describe: 'per-batch flasher credentials: N decrypts from the factory ranges',
  builder: (y) => y.command(factoryBatchCreateCommand).command(factoryBatchUnwrapCommand).command(factoryBatchRevokeCommand).demandCommand(1, 'name a batch command: create, unwrap or revoke'),
  handler: () => {},
};

export const factoryCommand: Command = {
  command: 'factory',
  describe: 'factory batches for flashing provisioned images',
  builder: (y) => y.command(factoryBatchCommand).command(factoryReconcileCommand).demandCommand(1, 'name a factory command: batch or reconcile'),
  handler: () => {},
};
