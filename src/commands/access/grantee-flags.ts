import type { Argv } from 'yargs';
import type { Grantee } from '../../access/grants.js';
import type { Scope } from '../../access/principals.js';
import { scopeFrom, type ScopeArgs } from './scope-flags.js';

export interface GranteeArgs { group?: string; entity?: string }

export function granteeOptions<T>(y: Argv<T>) {
  return y
    .option('group', { type: 'string', describe: 'a Vault identity group (OIDC group claims map to these)', group: 'Who:' })
    .option('entity', { type: 'string', describe: 'a Vault identity entity (one person or machine)', group: 'Who:' });
}

export async function granteeFrom(argv: GranteeArgs): Promise<Grantee | undefined> {
  const { UsageError } = await import('../../errors.js');
  if (argv.group !== undefined && argv.entity !== undefined) throw new UsageError('name one grantee: --group or --entity');
  if (argv.group !== undefined) return { kind: 'group', name: argv.group };
  if (argv.entity !== undefined) return { kind: 'entity', name: argv.entity };
  return undefined;
}

/** grant and revoke need both: checked before Vault is contacted. */
export async function requireScopeAndGrantee(argv: ScopeArgs & GranteeArgs): Promise<{ scope: Scope; grantee: Grantee }> {
  const { UsageError } = await import('../../errors.js');
  const scope = await scopeFrom(argv);
  if (!scope) throw new UsageError('name a scope: --device UUID, --fleet SLUG or --break-glass');
  const grantee = await granteeFrom(argv);
  if (!grantee) throw new UsageError('name who: --group G or --entity E');
  return { scope, grantee };
}
