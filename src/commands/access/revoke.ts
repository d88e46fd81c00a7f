import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';
import { scopeOptions, type ScopeArgs } from './scope-flags.js';
import { granteeOptions, requireScopeAndGrantee, type GranteeArgs } from './grantee-flags.js';

interface Args extends GlobalArgs, ScopeArgs, GranteeArgs {}

export const accessRevokeCommand: Command = {
  command: 'revoke',
  describe: 'take a grant back (the scope\'s role and policy go when its last grantee does)',
  builder: (y) => granteeOptions(scopeOptions(y, { breakGlass: 'the break-glass principal' }))
    .example('$0 access revoke --fleet acme/sensors --group acme-oncall', ''),
  handler: async (argv: Args) => {
    const { scope, grantee } = await requireScopeAndGrantee(argv);
    const { config, client } = await vaultFrom(argv);
    const { revokeAccess } = await import('../../access/grants.js');
    const { describeScope } = await import('../../access/principals.js');
    const r = await revokeAccess({ client, layout: config, scope, grantee });
    // Certificates already issued stay valid until they expire (at most the scope's max TTL).
    render(argv, r, () => `${r.changes.length ? 'revoked' : 'not granted'}: ${grantee.kind} ${grantee.name} → ${describeScope(scope)}`);
  },
};
