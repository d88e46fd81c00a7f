import { render, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { config: string; image?: string }

export const provisionStripCommand: Command = {
  command: 'strip <config>',
  describe: 'remove a leftover provisioning apiKey from a registered device\'s config.json (and from fleetvault\'s backups of it)',
  builder: (y) => y
    .positional('config', { type: 'string', describe: 'config.json with a deviceApiKey (with --image: the path inside the boot partition, usually /config.json)' })
    .option('image', { type: 'string', describe: 'strip config.json inside this balenaOS disk image (boot partition)' })
    .example('$0 provision strip /mnt/boot/config.json', 'also strips /mnt/boot/config.json.fleetvault.bak')
    .example('$0 provision strip /config.json --image balena.img', '')
    .epilogue('Refuses a config.json without deviceApiKey (the device still needs the provisioning key), and refuses when a\nbackup next to it cannot be read (it may still hold the key); a refusal changes nothing.\nExit codes: 0 stripped or nothing to strip · 1 unreadable, not JSON, not yet registered, or an unreadable backup'),
  handler: async (argv: Args) => {
    const { stripConfigFile, stripImageConfig } = await import('../../provision/strip.js');
    const r = argv.image ? await stripImageConfig(argv.image, argv.config) : stripConfigFile(argv.config);
    const where = r.image ? `${r.image}:${r.path}` : r.path;
    const stripped = r.backups.filter((b) => b.removed).map((b) => b.path);
    render(argv, r, () => [
      r.removed ? `removed the provisioning apiKey from ${where}` : `${where} has no provisioning apiKey; unchanged`,
      ...stripped.map((b) => `removed the provisioning apiKey from its backup ${b}`),
    ].join('\n'));
  },
};
