// `fleetvault ssh --scope device|fleet|root | --break-glass`: which principal the session's
// certificate asks for. Devices rolled out so far trust only principals="root", so root stays the
// default until the scoped-line migration exists. Flags are checked before balena or Vault is asked
// (exit 1); the uuid and fleet come from the flags or, for a balena uuid, from the balena lookup.
import type { Scope } from '../../access/principals.js';

export type ScopeFlag = 'device' | 'fleet' | 'root';
export const SCOPE_FLAGS: readonly ScopeFlag[] = ['device', 'fleet', 'root'];

export interface SshScopeArgs {
  scope?: ScopeFlag; breakGlass?: boolean; reason?: string; deviceUuid?: string; fleet?: string; from?: string | string[];
}

/** What the balena route knows about the target (uuid: full uuid from the API, or the positional). */
export interface RouteFacts { uuid?: string; fleet?: string }

/** Local checks only: everything a refusal can say without asking balena or Vault. */
export async function checkScopeFlags(a: SshScopeArgs): Promise<void> {
  const { UsageError } = await import('../../errors.js');
  const { single } = await import('../access/scope-flags.js');
  if (a.breakGlass && a.scope !== undefined) {
    throw new UsageError(`--break-glass cannot be combined with --scope ${a.scope}`, { hint: 'break-glass is its own scope: drop --scope' });
  }
  const { requireBreakGlassReason } = await import('../../access/sign.js');
  if (a.breakGlass) requireBreakGlassReason({ kind: 'break-glass' }, a.reason);
  const { normalizeUuid, normalizeFleetSlug } = await import('../../access/principals.js');
  const uuid = await single(a.deviceUuid, 'device-uuid');
  const fleet = await single(a.fleet, 'fleet');
  if (uuid !== undefined) normalizeUuid(uuid);
  if (fleet !== undefined) normalizeFleetSlug(fleet);
  const kind = a.breakGlass ? 'break-glass' : a.scope ?? 'root';
  if (uuid !== undefined && kind !== 'device') throw new UsageError('--device-uuid only goes with --scope device');
  if (fleet !== undefined && kind !== 'fleet') throw new UsageError('--fleet only goes with --scope fleet');
}

/** The --from CIDRs as one source-address value, or undefined. */
export async function sourceAddressFrom(from: string | string[] | undefined): Promise<string | undefined> {
  if (from === undefined) return undefined;
  const { validateCidrs } = await import('../../provision/cidr.js');
  return validateCidrs(([] as string[]).concat(from).map(String)).join(',');
}

/** The scope to ask for; undefined is the root principal via the configured role. */
export async function scopeFor(a: SshScopeArgs, route: RouteFacts): Promise<Scope | undefined> {
  const { UsageError } = await import('../../errors.js');
  const { normalizeUuid, normalizeFleetSlug } = await import('../../access/principals.js');
  if (a.breakGlass) return { kind: 'break-glass' };
  if (a.scope === 'device') {
    const uuid = (a.deviceUuid as string | undefined) ?? route.uuid;
    if (!uuid || !/^(?:[0-9a-f]{32}|[0-9a-f]{62})$/i.test(uuid)) {
      throw new UsageError('--scope device needs the device\'s full uuid', { hint: 'give the full balena uuid as the device, or --device-uuid UUID' });
    }
    return { kind: 'device', uuid: normalizeUuid(uuid) };
  }
  if (a.scope === 'fleet') {
    const fleet = (a.fleet as string | undefined) ?? route.fleet;
    if (!fleet) throw new UsageError('--scope fleet needs the device\'s fleet', { hint: 'give --fleet ORG/FLEET' });
    return { kind: 'fleet', slug: normalizeFleetSlug(fleet) };
  }
  return undefined;
}
