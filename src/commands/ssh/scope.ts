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

// `fleetvault ssh-config --scope device|fleet` and the `ssh-proxy` its snippet runs. Same flags,
// same checks and the same scopes as `ssh --scope`; only where the uuid comes from differs: the
// <uuid>.balena host name ssh connects to.
const FULL_UUID = /^(?:[0-9a-f]{32}|[0-9a-f]{62})$/i;

/** ssh-config: the scope the snippet's ProxyCommand will carry (undefined: root, as before). */
export async function snippetScope(a: { scope?: ScopeFlag; fleet?: string }, hosts: string[]): Promise<{ kind: 'device' } | Extract<Scope, { kind: 'fleet' }> | undefined> {
  await checkScopeFlags(a);
  if (a.scope === 'device') {
    const { UsageError } = await import('../../errors.js');
    // Device scope reads the uuid from the host name: a pattern for addresses could only ever fail.
    const bad = hosts.find((h) => !h.startsWith('!') && !/\.balena$/i.test(h));
    if (bad !== undefined) {
      throw new UsageError(`--scope device cannot cover host pattern ${JSON.stringify(bad).slice(0, 80)}: the device principal comes from a <uuid>.balena host name`, {
        hint: 'keep --hosts *.balena, or use --scope fleet --fleet ORG/FLEET for devices reached by address',
      });
    }
    return { kind: 'device' };
  }
  const scope = a.scope === 'fleet' ? await scopeFor(a, {}) : undefined;
  // The principal is built now, so a slug it cannot carry is refused here, not at every login.
  if (scope) (await import('../../access/principals.js')).scopePrincipal(scope);
  return scope as Extract<Scope, { kind: 'fleet' }> | undefined;
}

/**
 * ssh-proxy: the scope for this connection. `host` is ssh's %h, `uuid` the uuid in its
 * <uuid>.balena name (or, on the second call, the full uuid balena reported for a short one).
 * 'later': device scope for a short uuid, which only the balena lookup can complete.
 */
export async function proxyScope(a: { scope?: ScopeFlag; fleet?: string }, host: string, uuid: string | undefined): Promise<Scope | undefined | 'later'> {
  // Only what the snippet's ProxyCommand says: a FLEETVAULT_SCOPE or FLEETVAULT_FLEET exported
  // for other commands must not change (or break) which principal plain ssh asks for.
  const { filledFromEnvironment } = await import('../common.js');
  const own = { scope: filledFromEnvironment('scope') ? undefined : a.scope, fleet: filledFromEnvironment('fleet') ? undefined : a.fleet };
  await checkScopeFlags(own);
  if (own.scope === 'device') {
    if (uuid === undefined) {
      const { UsageError } = await import('../../errors.js');
      throw new UsageError(`--scope device needs a <uuid>.balena host name, got ${JSON.stringify(host).slice(0, 80)}`, {
        hint: 'ssh root@<uuid>.balena, or reach addresses through an ssh-config without --scope device',
      });
    }
    if (!FULL_UUID.test(uuid)) return 'later';
  }
  return scopeFor(own, { uuid });
}
