// `fleetvault audit who-can <uuid|org/fleet>`: the grants whose principal a device trusts. A device
// trusts device-<uuid>, fleet-<its fleet> and break-glass; a fleet's devices trust fleet-<slug> and
// break-glass plus each device's own principal (device grants are listed when the device is named).
import type { LayoutSettings } from '../config.js';
import type { VaultClient } from '../vault/client.js';
import { listAccess, type AccessGrant } from './grants.js';
import { devicePrincipal, fleetPrincipal, BREAK_GLASS_PRINCIPAL } from './principals.js';

export interface WhoCanOptions { client: VaultClient; layout: LayoutSettings; device?: string; fleet?: string }

export async function whoCan(o: WhoCanOptions): Promise<AccessGrant[]> {
  const reach = new Set<string>([BREAK_GLASS_PRINCIPAL]);
  if (o.device !== undefined) reach.add(devicePrincipal(o.device));
  if (o.fleet !== undefined) reach.add(fleetPrincipal(o.fleet));
  return (await listAccess({ client: o.client, layout: o.layout })).filter((g) => reach.has(g.principal));
}
