import { render, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { config: string }

export const provisionStripCommand: Command = {
  command: 'strip <config>',
  describe: 'remove a leftover provisioning apiKey from a registered device\'s config.json',
  builder: (y) => y
    .positional('config', { type: 'string', describe: 'config.json with a deviceApiKey' })
    .example('$0 provision strip /mnt/boot/config.json', '')
    .epilogue('Refuses a config.json without deviceApiKey (the device still needs the provisioning key).\nExit codes: 0 stripped or nothing to strip · 1 unreadable, not JSON, or not yet registered'),
  handler: async (argv: Args) => {
    const { readInputFile, writeFileAtomic } = await import('../../fs/atomic.js');
    const { parseConfigObject } = await import('../../provision/envelope.js');
    const { stripProvisioningKey } = await import('../../provision/strip.js');
    const { statSync } = await import('node:fs');
    const r = stripProvisioningKey(parseConfigObject(readInputFile(argv.config, 'config'), argv.config), argv.config);
    // Keep the file's mode, but never wider than 0600: it holds the device key.
    if (r.removed) writeFileAtomic(argv.config, JSON.stringify(r.config, null, 2) + '\n', { mode: statSync(argv.config).mode & 0o600, verify: true });
    render(argv, { path: argv.config, removed: r.removed }, () => r.removed ? `removed the provisioning apiKey from ${argv.config}` : `${argv.config} has no provisioning apiKey; unchanged`);
  },
};
