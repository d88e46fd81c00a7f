import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { config: string; image?: string; removeCa?: string[]; principals?: string[]; dryRun?: boolean; scoped?: boolean; unscope?: boolean; device?: string; fleet?: string }

export const caAddToConfigCommand: Command = {
  command: 'add-to-config <config>',
  describe: 'add the CA line to a config.json os.sshKeys (idempotent), on disk or inside a balenaOS image',
  builder: (y) => y
    .positional('config', { type: 'string', describe: 'config.json path (with --image: the path inside the boot partition, usually /config.json)' })
    .option('image', { type: 'string', describe: 'edit config.json inside this balenaOS disk image (boot partition)' })
    .option('remove-ca', { type: 'string', array: true, describe: 'also remove cert-authority lines of this CA fingerprint (SHA256:…)' })
    .option('principals', { type: 'string', array: true, describe: 'users the CA may certify', defaultDescription: 'root' })
    .option('scoped', { type: 'boolean', describe: 'trust the CA for this device\'s principals device-<uuid>,fleet-<org>.<fleet>,break-glass (needs --device and --fleet)' })
    .option('device', { type: 'string', describe: 'with --scoped: the device\'s balena uuid' })
    .option('fleet', { type: 'string', describe: 'with --scoped: the device\'s fleet slug org/fleet' })
    .conflicts('scoped', 'principals')
    .option('unscope', { type: 'boolean', describe: 'replace a scoped line of this CA with the unscoped one (refused otherwise: root certificates would open the device again)' })
    .conflicts('unscope', 'scoped')
    .option('dry-run', { type: 'boolean', describe: 'show the change, write nothing' })
    .example('$0 ca add-to-config ./config.json', 'adds cert-authority,principals="root" … once; a second run changes nothing')
    .example('$0 ca add-to-config /config.json --image balena.img', 'edit the image before flashing')
    .example('$0 ca add-to-config config.json --remove-ca SHA256:old…', 'rotation: trust the new CA, drop the old')
    .example('$0 ca add-to-config /config.json --image balena.img --scoped --device 0123…cdef --fleet acme/sensors', 'principals="device-0123…,fleet-acme.sensors,break-glass"; replaces a principals="root" line of this CA'),
  handler: async (argv: Args) => {
    const { validatePrincipals } = await import('../../ssh/principals.js');
    const { UsageError } = await import('../../errors.js');
    let principals: string[];
    let expectUuid: string | undefined;
    if (argv.scoped) {
      if (argv.device === undefined || argv.fleet === undefined) throw new UsageError('--scoped needs --device UUID and --fleet SLUG: the line names that device\'s principals');
      const { devicePrincipals, normalizeUuid } = await import('../../access/principals.js');
      const { single } = await import('../access/scope-flags.js');
      // The file's own uuid (when it has one) must be --device: device B's line never goes onto A.
      expectUuid = normalizeUuid((await single(argv.device, 'device'))!);
      principals = devicePrincipals({ uuid: expectUuid, fleet: (await single(argv.fleet, 'fleet'))! });
    } else {
      if (argv.device !== undefined || argv.fleet !== undefined) throw new UsageError('--device and --fleet go with --scoped', { hint: 'add --scoped for a line trusting only this device\'s principals' });
      principals = validatePrincipals(argv.principals ?? ['root']);
      (await import('../../ca/scoped.js')).refuseScopedPrincipals(principals, 'ca add-to-config');
    }
    const { config, client } = await vaultFrom(argv);
    const { getCaPublicKey } = await import('../../ca/public-key.js');
    const { authorizedKeyLine } = await import('../../ca/authorized-key.js');
    const { addToConfig } = await import('../../ca/add-to-config.js');
    const ca = await getCaPublicKey({ client, mount: config.sshMount });
    const line = authorizedKeyLine({ ...ca, principals });
    const r = await addToConfig({ path: argv.config, image: argv.image, add: line, removeFingerprints: argv.removeCa, dryRun: argv.dryRun, unscope: argv.unscope, expectUuid });
    render(argv, { ...r, dryRun: !!argv.dryRun, fingerprint: ca.fingerprint }, () => {
      const where = r.image ? `${r.image}:${r.path}` : r.path;
      if (!r.changed) return `${where} already trusts ${ca.fingerprint}; nothing changed`;
      return [
        ...r.removed.map((l) => `${argv.dryRun ? 'would remove' : 'removed'}: ${l}`),
        ...r.added.map((l) => `${argv.dryRun ? 'would add' : 'added'}: ${l}`),
        argv.dryRun ? `${where}: dry run, nothing written` : `${where} updated (backup ${r.backup})`,
      ].join('\n');
    });
  },
};
