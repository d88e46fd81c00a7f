import { render, vaultFrom, type GlobalArgs, type Command } from '../common.js';
import { scopeOptions, type ScopeArgs } from './scope-flags.js';
import { granteeOptions, requireScopeAndGrantee, type GranteeArgs } from './grantee-flags.js';

interface Args extends GlobalArgs, ScopeArgs, GranteeArgs { maxTtl?: string; cidr?: string[] }

export const accessGrantCommand: Command = {
  command: 'grant',
  describe: 'let a Vault identity group (or entity) ask for certificates of one device, one fleet, or break-glass',
  builder: (y) => granteeOptions(scopeOptions(y, { breakGlass: 'the break-glass principal every device trusts (signing demands --reason)' }))
    .option('max-ttl', { type: 'string', describe: 'longest certificate for this scope, e.g. 15m (the scope\'s role max_ttl)', defaultDescription: '1h' })
    .option('cidr', { type: 'string', array: true, describe: 'bind every certificate of this scope to these source CIDRs (source-address; clients cannot widen or drop it)' })
    .example('$0 access grant --fleet acme/sensors --group acme-oncall', 'members of acme-oncall may sign for fleet-acme.sensors')
    .example('$0 access grant --device 0123456789abcdef0123456789abcdef --entity alice --max-ttl 15m', '')
    .example('$0 access grant --break-glass --group security-leads', '')
    .example('$0 access grant --fleet acme/sensors --group acme-oncall --cidr 198.51.100.0/24', 'certificates only work from the office range'),
  handler: async (argv: Args) => {
    const { durationToSeconds } = await import('../../config.js');
    const { scope, grantee } = await requireScopeAndGrantee(argv);
    const maxTtlSeconds = argv.maxTtl === undefined ? undefined : durationToSeconds(argv.maxTtl, 'max-ttl');
    if (maxTtlSeconds !== undefined && !(maxTtlSeconds > 0)) {
      const { UsageError } = await import('../../errors.js');
      throw new UsageError('--max-ttl must be positive', { hint: 'e.g. --max-ttl 15m' });
    }
    const { validateCidrs } = await import('../../provision/cidr.js');
    const sourceCidrs = argv.cidr === undefined ? undefined : validateCidrs(argv.cidr);
    const { config, client } = await vaultFrom(argv);
    const { grantAccess } = await import('../../access/grants.js');
    const { describeScope } = await import('../../access/principals.js');
    const r = await grantAccess({ client, layout: config, scope, grantee, maxTtlSeconds, sourceCidrs });
    render(argv, r, () => `${r.changes.length ? 'granted' : 'already granted'}: ${grantee.kind} ${grantee.name} → ${describeScope(scope)} (principal ${r.principal})`);
  },
};
