import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

export const whoamiCommand: Command = {
  command: 'whoami',
  describe: 'show who the current token is: display name, policies, time left',
  builder: (y) => y.example('$0 whoami', 'alice (userpass) at https://vault.example.com:8200, policies …')
    .epilogue('Exit codes: 0 ok · 2 no token, or Vault does not accept it.'),
  handler: async (argv: GlobalArgs) => {
    const { config, client } = await vaultFrom(argv);
    const { whoami } = await import('../../auth/session.js');
    const { formatDuration, addressOrigin } = await import('../../config.js');
    const t = await whoami({ client });
    render(argv, { ...t, address: config.address, addressSource: config.addressSource, context: config.context ?? null, tokenSource: config.tokenSource ?? null }, () => [
      `${t.displayName || '(no display name)'} at ${config.address} ${addressOrigin(config)}`,
      `policies: ${t.policies.join(', ') || '(none)'}`,
      `token ttl: ${t.ttlSeconds === 0 ? 'never expires' : formatDuration(t.ttlSeconds)}${t.renewable ? ', renewable' : ''} · from ${config.tokenSource}`,
    ].join('\n'));
  },
};
