import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { principals?: string[]; expiry?: string }

export const caAuthorizedKeyCommand: Command = {
  command: 'authorized-key',
  describe: 'print the cert-authority line devices put in config.json os.sshKeys',
  builder: (y) => y
    .option('principals', { type: 'string', array: true, defaultDescription: 'root', describe: 'users certificates may log in as (ASCII letters, digits, . _ - @)' })
    .option('expiry', { type: 'string', describe: 'stop trusting this CA at this future time (ISO 8601), for planned rotations' })
    .example('$0 ca authorized-key', 'cert-authority,principals="root" ssh-ed25519 AAAA… fleetvault:ssh-client-signer:SHA256:…')
    .example('$0 ca authorized-key --expiry 2027-01-31T00:00:00Z', 'adds expiry-time="20270131000000Z"; a time in the past is refused'),
  handler: async (argv: Args) => {
    const { UsageError } = await import('../../errors.js');
    let expiryTime: Date | undefined;
    if (argv.expiry !== undefined) {
      expiryTime = new Date(argv.expiry);
      if (Number.isNaN(expiryTime.getTime())) throw new UsageError(`invalid --expiry "${argv.expiry}"`, { hint: 'use ISO 8601, e.g. 2027-01-31T00:00:00Z' });
      const { validateExpiry } = await import('../../ca/authorized-key.js');
      validateExpiry(expiryTime);
    }
    const { validatePrincipals } = await import('../../ssh/principals.js');
    const principals = validatePrincipals(argv.principals ?? ['root']);
    const { config, client } = await vaultFrom(argv);
    const { getCaPublicKey } = await import('../../ca/public-key.js');
    const { authorizedKeyLine } = await import('../../ca/authorized-key.js');
    const ca = await getCaPublicKey({ client, mount: config.sshMount });
    const line = authorizedKeyLine({ ...ca, principals, expiryTime });
    render(argv, { line, fingerprint: ca.fingerprint, principals, mount: ca.mount }, () => line);
  },
};
