import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface InitArgs extends GlobalArgs { factoryCidr?: string[]; dryRun?: boolean }

export const initCommand: Command = {
  command: 'init',
  describe: 'configure an existing Vault/OpenBao with the fleetvault layout (idempotent)',
  builder: (y) => y
    .option('factory-cidr', { type: 'string', array: true, describe: 'factory source ranges for the flasher AppRole (default: keep, or 127.0.0.0/8)' })
    .option('dry-run', { type: 'boolean', describe: 'show what would change, change nothing' })
    .example('$0 init', 'create mounts, CA, roles, transit key, AppRole and policies')
    .example('$0 init --factory-cidr 203.0.113.0/24 --json', 'second run prints {"changes": []}'),
  handler: async (argv: InitArgs) => {
    const { validateCidrs } = await import('../../provision/cidr.js');
    const factoryCidrs = argv.factoryCidr ? validateCidrs(argv.factoryCidr) : undefined;
    const { config, client } = await vaultFrom(argv);
    const { bootstrapVault } = await import('../../vault/bootstrap.js');
    const r = await bootstrapVault({ client, layout: config, factoryCidrs, dryRun: argv.dryRun });
    render(argv, { changes: r.changes }, () =>
      r.changes.length === 0
        ? `${config.address} already matches the fleetvault layout; nothing changed`
        : r.changes.map((c) => c.action === 'drift'
          ? `drift (left as is): ${c.detail ?? `${c.kind} ${c.path}`}`
          : `${argv.dryRun ? 'would be ' : ''}${c.action} ${c.kind} ${c.path}${c.fields ? ` (${c.fields.join(', ')})` : ''}`).join('\n'));
  },
};
