import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

export const caPublicKeyCommand: Command = {
  command: 'public-key',
  describe: 'print the SSH CA public key Vault signs with',
  builder: (y) => y.example('$0 ca public-key', 'ssh-ed25519 AAAA…').example('$0 ca public-key --json', '{mount, publicKey, fingerprint}'),
  handler: async (argv: GlobalArgs) => {
    const { config, client } = await vaultFrom(argv);
    const { getCaPublicKey } = await import('../../ca/public-key.js');
    const ca = await getCaPublicKey({ client, mount: config.sshMount });
    render(argv, ca, () => ca.publicKey);
  },
};
