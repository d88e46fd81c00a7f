import type { GlobalArgs, Command } from '../common.js';
import { certSignCommand } from './sign.js';
import { certInspectCommand } from './inspect.js';

export const certCommand: Command = {
  command: 'cert',
  describe: 'sign and inspect SSH user certificates',
  builder: (y) => y.command(certSignCommand).command(certInspectCommand).demandCommand(1, 'name a cert command: sign or inspect'),
  handler: () => {},
};
