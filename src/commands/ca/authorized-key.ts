import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { principals?: string[]; expiry?: string; device?: string; fleet?: string }

export const caAuthorizedKeyCommand: Command = {
  command: 'authorized-key',
  describe: 'print the cert-authority line devices put in config.json os.sshKeys',
  builder: (y) => y
    .option('principals', { type: 'string', array: true, defaultDescription: 'root', describe: 'users certificates may log in as (ASCII letters, digits, . _ - @)' })
    .option('device', { type: 'string', describe: 'scoped line: this device\'s balena uuid (needs --fleet)' })
    .option('fleet', { type: 'string', describe: 'scoped line: the device\'s fleet slug org/fleet (needs --device)' })
    .option('expiry', { type: 'string', describe: 'stop trusting this CA at this future time (ISO 8601), for planned rotations' })
    .example('$0 ca authorized-key', 'cert-authority,principals="root" ssh-ed25519 AAAA… fleetvault:ssh-client-signer:SHA256:…')
    .example('$0 ca authorized-key --expiry 2027-01-31T00:00:00Z', 'adds expiry-time="20270131000000Z"; a time in the past is refused')
    .example('$0 ca authorized-key --device 0123456789abcdef0123456789abcdef --fleet acme/sensors',
      'cert-authority,principals="device-0123…,fleet-acme.sensors,break-glass" ssh-ed25519 AAAA… fleetvault:…'),
  handler: async (argv: Args) => {
    const { UsageError } = await import('../../errors.js');
    let expiryTime: Date | undefined;
    if (argv.expiry !== undefined) {
      const { parseExpiry, validateExpiry } = await import('../../ca/authorized-key.js');
      expiryTime = validateExpiry(parseExpiry(argv.expiry));
    }
    const { validatePrincipals } = await import('../../ssh/principals.js');
    let principals: string[];
    if (argv.device !== undefined || argv.fleet !== undefined) {
      if (argv.device === undefined || argv.fleet === undefined) throw new UsageError('a scoped line needs both --device UUID and --fleet SLUG');
      if (argv.principals !== undefined) throw new UsageError('--principals cannot be combined with --device/--fleet: the scope names the principals');
      const { devicePrincipals } = await import('../../access/principals.js');
      const { single } = await import('../access/scope-flags.js');
      principals = devicePrincipals({ uuid: (await single(argv.device, 'device'))!, fleet: (await single(argv.fleet, 'fleet'))! });
    } else principals = validatePrincipals(argv.principals ?? ['root']);
    const { config, client } = await vaultFrom(argv);
    const { getCaPublicKey } = await import('../../ca/public-key.js');
    const { authorizedKeyLine } = await import('../../ca/authorized-key.js');
    const ca = await getCaPublicKey({ client, mount: config.sshMount });
    const line = authorizedKeyLine({ ...ca, principals, expiryTime });
    render(argv, { line, fingerprint: ca.fingerprint, principals, mount: ca.mount }, () => line);
  },
};
