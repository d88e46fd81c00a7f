import type { GlobalArgs, Command } from '../common.js';
import { caPublicKeyCommand } from './public-key.js';
import { caAuthorizedKeyCommand } from './authorized-key.js';
import { caAddToConfigCommand } from './add-to-config.js';
import { caRolloutCommand } from './rollout.js';
import { caStatusCommand } from './status.js';
import { caRotateCommand } from './rotate.js';

export const caCommand: Command = {
  command: 'ca',
  describe: 'the SSH certificate authority: show it, distribute it to devices, rotate it',
  builder: (y) => y.command(caPublicKeyCommand).command(caAuthorizedKeyCommand).command(caAddToConfigCommand).command(caRolloutCommand).command(caStatusCommand).command(caRotateCommand).demandCommand(1, 'name a ca command: public-key, authorized-key, add-to-config, rollout, status or rotate'),
  handler: () => {},
};
