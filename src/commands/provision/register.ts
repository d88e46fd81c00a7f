import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { fleet: string; deviceType: string; osVersion?: string; balenaUrl?: string; out?: string; image?: string }

export const provisionRegisterCommand: Command = {
  command: 'register',
  describe: 'register a device out of band and write its own config.json (device key, CA line, no provisioning key)',
  builder: (y) => y
    .option('fleet', { type: 'string', demandOption: true, describe: 'fleet slug (org/fleet)' })
    .option('device-type', { type: 'string', demandOption: true, describe: 'balena device type, e.g. raspberrypi4-64' })
    .option('os-version', { type: 'string', defaultDescription: '6.0.13', describe: 'balenaOS version of the image (shapes the config template)' })
    .option('balena-url', { type: 'string', defaultDescription: 'apiUrl in Vault, else https://api.balena-cloud.com', describe: 'balena API URL' })
    .option('out', { type: 'string', defaultDescription: 'config.json', describe: 'write the config.json here (atomic, mode 0600)' })
    .option('image', { type: 'string', describe: 'write config.json into partition 1 (boot, FAT) of this disk image instead' })
    .conflicts('out', 'image')
    .example('$0 provision register --fleet acme/sensors --device-type raspberrypi4-64 --image balena.img', '')
    .epilogue('The balena API key is read from Vault (KV v2 <kv-mount>/balena, field apiKey; optional apiUrl), never from argv.\nIf writing config.json fails after the device was registered, the device is removed again (or the command to remove it is printed).\nExit codes: 0 registered · 1 bad flags or target · 2 Vault or balenaCloud refused'),
  handler: async (argv: Args) => {
    const { checkTarget, preflightTarget, writeConfigTarget } = await import('../../provision/target.js');
    const target = { out: argv.out, image: argv.image };
    checkTarget(target);
    await preflightTarget(target);
    const { config, client } = await vaultFrom(argv);
    const { registerOutOfBand } = await import('../../provision/register.js');
    const r = await registerOutOfBand({
      client, kvMount: config.kvMount, sshMount: config.sshMount, fleet: argv.fleet, deviceType: argv.deviceType,
      osVersion: argv.osVersion ?? '6.0.13', apiUrl: argv.balenaUrl,
      write: (data) => writeConfigTarget(target, data),
    });
    const written = r.written!;
    render(argv, { uuid: r.uuid, deviceId: r.deviceId, fleet: r.fleet, deviceType: r.deviceType, path: written }, () =>
      `registered ${r.uuid} in ${r.fleet} (${r.deviceType}) → ${written}`);
  },
};
