import { render, type GlobalArgs, type Command } from '../common.js';

export const devStopCommand: Command = {
  command: 'stop',
  describe: 'stop a detached dev server (and its device)',
  builder: (y) => y.example('$0 dev stop', ''),
  handler: async (argv: GlobalArgs) => {
    const { stopEmbedded } = await import('../../dev/embedded.js');
    const r = await stopEmbedded();
    render(argv, r, () => `stopped the dev server at ${r.address} (pids ${r.stopped.join(', ') || 'none running'})`);
  },
};
