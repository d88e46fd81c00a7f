import { configFrom, note, render, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { revoke?: boolean }

export const logoutCommand: Command = {
  command: 'logout',
  describe: 'revoke the current token and forget it (a root token is only forgotten)',
  builder: (y) => y
    .option('revoke', { type: 'boolean', defaultDescription: 'true', describe: 'revoke the token in Vault (--no-revoke: only delete the local token file)' })
    .example('$0 logout', 'revokes the token and removes its file')
    .example('$0 logout --context staging', '')
    .epilogue('Exit codes: 0 logged out, or not logged in · 2 Vault could not be reached to revoke the token (the file is kept then).'),
  handler: async (argv: Args) => {
    const config = await configFrom(argv);
    const { clientFromSettings } = await import('../../vault/connect.js');
    const { logout } = await import('../../auth/session.js');
    const r = await logout({ client: clientFromSettings(config), config, revoke: argv.revoke });
    if (r.stillSetIn) note(`fleetvault: note: the token came from ${r.stillSetIn}; unset it in your shell`);
    if (r.rootKept) note('fleetvault: note: a root token is never revoked by logout (it may be the only way in); it was only forgotten here');
    render(argv, { address: config.address, context: config.context ?? null, ...r }, () => r.nothingToDo
      ? `not logged in to ${config.address}${config.tokenElsewhere ? ` (the token in ${config.tokenFile} is for ${config.tokenElsewhere})` : ''}: nothing to do`
      : `logged out of ${config.address}: token ${r.revoked ? 'revoked' : r.rootKept ? 'not revoked (root token)' : 'not revoked'}${r.removed ? `, ${r.removed} removed` : ''}`);
  },
};
