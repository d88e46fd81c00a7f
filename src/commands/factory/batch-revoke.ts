import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface Args extends GlobalArgs { name: string }

export const factoryBatchRevokeCommand: Command = {
  command: 'revoke <name>',
  describe: 'kill switch: destroy a batch\'s secret_id and revoke the tokens it issued',
  builder: (y) => y
    .positional('name', { type: 'string', describe: 'batch name given to batch create' })
    .example('$0 factory batch revoke line3-2025w24', '')
    .epilogue('Further logins fail at once. Outstanding tokens are revoked when the caller may list token accessors (sudo);\notherwise they die after their single use or token_ttl (5m).\nExit codes: 0 revoked · 1 no such batch · 2 Vault refused'),
  handler: async (argv: Args) => {
    const { validateBatchName } = await import('../../provision/batch.js');
    validateBatchName(argv.name);
    const { config, client } = await vaultFrom(argv);
    const { revokeBatch } = await import('../../provision/batch.js');
    const r = await revokeBatch({ client, mount: config.approleMount, role: config.approleRole, name: argv.name, policyPrefix: config.policyPrefix });
    render(argv, r, () => `revoked batch ${r.name}: ${r.destroyed} secret_id destroyed, ${r.tokensRevoked === null ? 'outstanding tokens not listable (they expire within 5m)' : `${r.tokensRevoked} outstanding token(s) revoked`}`);
  },
};
