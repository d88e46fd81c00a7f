import { configFrom, render, type GlobalArgs, type Command } from '../common.js';

export const caPublicKeyCommand: Command = {
  command: 'public-key',
  describe: 'print the SSH CA public key Vault signs with',
  builder: (y) => y.example('$0 ca public-key', 'ssh-ed25519 AAAA…').example('$0 ca public-key --json', '{mount, publicKey, fingerprint}'),
  handler: async (argv: GlobalArgs) => {
    // No login: Vault serves <mount>/public_key without a token, so neither do we require one.
    const config = await configFrom(argv);
    const { clientFromSettings } = await import('../../vault/connect.js');
    const { getCaPublicKey } = await import('../../ca/public-key.js');
    const ca = await getCaPublicKey({ client: clientFromSettings(config), mount: config.sshMount, anonymous: true });
    render(argv, ca, () => ca.publicKey);
  },
};
