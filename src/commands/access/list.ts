import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';
import { scopeOptions, scopeFrom, type ScopeArgs } from './scope-flags.js';
import { granteeOptions, granteeFrom, type GranteeArgs } from './grantee-flags.js';

interface Args extends GlobalArgs, ScopeArgs, GranteeArgs {}

export const accessListCommand: Command = {
  command: 'list',
  describe: 'show the grants: which groups and entities may ask for which principal',
  builder: (y) => granteeOptions(scopeOptions(y, { breakGlass: 'only the break-glass grant' }))
    .example('$0 access list', '')
    .example('$0 access list --group acme-oncall --json', ''),
  handler: async (argv: Args) => {
    const scope = await scopeFrom(argv);
    const grantee = await granteeFrom(argv);
    const { config, client } = await vaultFrom(argv);
    const { listAccess } = await import('../../access/grants.js');
    const { describeScope } = await import('../../access/principals.js');
    const { formatDuration } = await import('../../config.js');
    const grants = await listAccess({ client, layout: config, scope, grantee });
    render(argv, grants, () => grants.length === 0 ? 'no grants' : grants.map((g) =>
      `${describeScope(g.scope)}\t${g.principal}\tgroups: ${g.groups.join(',') || '-'}\tentities: ${g.entities.join(',') || '-'}\tmax ttl ${g.maxTtlSeconds ? formatDuration(g.maxTtlSeconds) : '?'}`).join('\n'));
  },
};
