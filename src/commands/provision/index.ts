import type { Command } from '../common.js';
import { provisionSealCommand } from './seal.js';
import { provisionUnsealCommand } from './unseal.js';
import { provisionRewrapCommand } from './rewrap.js';
import { provisionRegisterCommand } from './register.js';
import { provisionStripCommand } from './strip.js';
import { provisionUnsealBatchCommand } from './unseal-batch.js';

export const provisionCommand: Command = {
  command: 'provision',
  describe: 'sealed config.json envelopes and out-of-band device registration',
  builder: (y) => y
    .command(provisionSealCommand).command(provisionUnsealCommand).command(provisionRewrapCommand)
    .command(provisionRegisterCommand).command(provisionStripCommand).command(provisionUnsealBatchCommand).demandCommand(1, 'name a provision command: seal, unseal, unseal-batch, rewrap, register or strip'),
  handler: () => {},
};
