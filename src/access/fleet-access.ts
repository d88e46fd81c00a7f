// Declarative grants: `fleetvault init --fleet-access FILE`, the twin of terraform's typed
// `fleet_access` variable (same shape, same roles, policies and groups; the terraform test reads
// both back and compares). A JSON array of {fleet | device | break_glass, groups, max_ttl?}.
// init only adds: a group removed from the file keeps its grant until `access revoke`.
import type { LayoutSettings } from '../config.js';
import { UsageError } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { grantAccess, resolveGrantee, type AccessChange } from './grants.js';
import { validateCidrs } from '../provision/cidr.js';
import { normalizeFleetSlug, normalizeUuid, type Scope } from './principals.js';

export interface FleetAccessEntry { scope: Scope; groups: string[]; maxTtlSeconds?: number; sourceCidrs?: string[] }

/** Parse and validate every entry before anything is written. */
export function parseFleetAccess(json: string, source: string): FleetAccessEntry[] {
  let raw: unknown;
  try { raw = JSON.parse(json); } catch { throw new UsageError(`${source} is not valid JSON`, { hint: 'expected [{"fleet": "org/fleet", "groups": ["acme-oncall"]}]' }); }
  if (!Array.isArray(raw)) throw new UsageError(`${source}: expected a JSON array of grants`);
  return raw.map((e: unknown, i) => {
    const at = `${source} entry ${i + 1}`;
    if (!e || typeof e !== 'object') throw new UsageError(`${at}: expected an object`);
    const o = e as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !['fleet', 'device', 'break_glass', 'groups', 'max_ttl', 'source_cidrs'].includes(k));
    if (unknown.length) throw new UsageError(`${at}: unknown field ${unknown[0]}`, { hint: 'fields: fleet | device | break_glass, groups, max_ttl (seconds), source_cidrs' });
    const named = [o.fleet !== undefined, o.device !== undefined, o.break_glass === true].filter(Boolean).length;
    if (named !== 1) throw new UsageError(`${at}: name exactly one of fleet, device, break_glass`);
    const scope: Scope = typeof o.fleet === 'string' ? { kind: 'fleet', slug: normalizeFleetSlug(o.fleet) }
      : typeof o.device === 'string' ? { kind: 'device', uuid: normalizeUuid(o.device) }
      : o.break_glass === true ? { kind: 'break-glass' } : (() => { throw new UsageError(`${at}: fleet and device are strings`); })();
    if (!Array.isArray(o.groups) || o.groups.length === 0 || !o.groups.every((g) => typeof g === 'string')) throw new UsageError(`${at}: groups must be a non-empty list of group names`);
    if (o.max_ttl !== undefined && !(typeof o.max_ttl === 'number' && Number.isInteger(o.max_ttl) && o.max_ttl > 0)) throw new UsageError(`${at}: max_ttl is a positive number of seconds`);
    if (o.source_cidrs !== undefined && !(Array.isArray(o.source_cidrs) && o.source_cidrs.every((c) => typeof c === 'string'))) throw new UsageError(`${at}: source_cidrs must be a list of CIDRs`);
    // As written (terraform stores them verbatim too); an empty list removes a binding.
    const sourceCidrs = o.source_cidrs === undefined ? undefined : (o.source_cidrs as string[]).length ? (validateCidrs(o.source_cidrs as string[]), o.source_cidrs as string[]) : [];
    return { scope, groups: o.groups as string[], maxTtlSeconds: o.max_ttl as number | undefined, sourceCidrs };
  });
}

/** Every group named must exist: run before the first write (of init too), so a typo changes nothing. */
export async function checkFleetAccess(client: VaultClient, entries: FleetAccessEntry[]): Promise<void> {
  for (const g of new Set(entries.flatMap((e) => e.groups))) await resolveGrantee(client, { kind: 'group', name: g });
}

type GrantChange = AccessChange & { action: 'created' | 'updated' };

export async function applyFleetAccess(o: { client: VaultClient; layout: LayoutSettings; entries: FleetAccessEntry[] }): Promise<GrantChange[]> {
  await checkFleetAccess(o.client, o.entries);
  const changes: GrantChange[] = [];
  for (const e of o.entries) {
    for (const name of e.groups) {
      const r = await grantAccess({ client: o.client, layout: o.layout, scope: e.scope, grantee: { kind: 'group', name }, maxTtlSeconds: e.maxTtlSeconds, sourceCidrs: e.sourceCidrs });
      // A grant only creates or updates.
      changes.push(...r.changes.filter((c): c is GrantChange => c.action !== 'deleted'));
    }
  }
  return changes;
}
