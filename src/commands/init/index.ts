import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';

interface InitArgs extends GlobalArgs { factoryCidr?: string[]; dryRun?: boolean }

export const initCommand: Command = {
  command: 'init',
  describe: 'configure an existing Vault/OpenBao with the fleetvault layout (idempotent)',
  builder: (y) => y
    .option('factory-cidr', { type: 'string', array: true, describe: 'factory source ranges for the flasher AppRole (default: keep, or 127.0.0.0/8)' })
    .option('dry-run', { type: 'boolean', describe: 'show what would change, change nothing' })
    .example('$0 init', 'create mounts, CA, roles, transit key, AppRole and policies')
    .example('$0 init --factory-cidr 203.0.113.0/24 --json', 'second run prints {"changes": []}')
    .example('$0 init --dry-run', 'in CI: exit 3 when the server drifted from the layout')
    .epilogue('Exit codes: 0 applied, or nothing to change · 1 bad flags · 2 Vault refused or unreachable · 3 --dry-run found changes to make.'),
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
    // A dry run that finds drift fails, so `fleetvault init --dry-run` can gate CI.
    if (argv.dryRun && r.changes.length > 0) {
      const { DriftFound } = await import('../../errors.js');
      throw new DriftFound(`${config.address} differs from the fleetvault layout in ${r.changes.length} place${r.changes.length === 1 ? '' : 's'}`, { hint: 'run fleetvault init to apply them' });
    }
  },
};
