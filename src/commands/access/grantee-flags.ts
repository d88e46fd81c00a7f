import type { Argv } from 'yargs';
import type { Grantee } from '../../access/grants.js';
import type { Scope } from '../../access/principals.js';
import { scopeFrom, single, type ScopeArgs } from './scope-flags.js';

export interface GranteeArgs { group?: string; entity?: string }

export function granteeOptions<T>(y: Argv<T>) {
  return y
    .option('group', { type: 'string', describe: 'a Vault identity group (OIDC group claims map to these)', group: 'Who:' })
    .option('entity', { type: 'string', describe: 'a Vault identity entity (one person or machine)', group: 'Who:' });
}

export async function granteeFrom(argv: GranteeArgs): Promise<Grantee | undefined> {
  const { UsageError } = await import('../../errors.js');
  const { checkGrantee } = await import('../../access/grants.js');
  const group = await single(argv.group, 'group');
  const entity = await single(argv.entity, 'entity');
  if (group !== undefined && entity !== undefined) throw new UsageError('name one grantee: --group or --entity');
  const grantee: Grantee | undefined = group !== undefined ? { kind: 'group', name: group } : entity !== undefined ? { kind: 'entity', name: entity } : undefined;
  // Checked here too, so a malformed name is refused before Vault is contacted.
  if (grantee) checkGrantee(grantee);
  return grantee;
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
