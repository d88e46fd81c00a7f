// Which address to connect to. `--host` always wins and needs nothing but the device itself —
// the case the forum thread cares about, when the device cannot reach the balena API. A balena
// UUID (full or short) is resolved through balena-sdk; anything else is taken as an address.
import { DeviceError } from '../errors.js';

export interface ResolvedDevice {
  host: string;
  via: 'flag' | 'address' | 'balena';
  uuid?: string;
  name?: string;
}

const UUID_LIKE = /^[0-9a-f]{7,62}$/i;

export function looksLikeBalenaUuid(device: string): boolean {
  return UUID_LIKE.test(device);
}

export async function resolveDevice(o: { device: string; host?: string; balenaApiUrl?: string; balenaToken?: string }): Promise<ResolvedDevice> {
  if (o.host) return { host: o.host, via: 'flag', uuid: looksLikeBalenaUuid(o.device) ? o.device : undefined };
  if (!looksLikeBalenaUuid(o.device)) return { host: o.device, via: 'address' };
  let found: { uuid: string; name: string; ipAddresses: string[]; isOnline: boolean };
  try {
    if (!o.balenaToken) throw new Error('no balena API key (set BALENA_TOKEN)');
    const { findDevice } = await import('../balena/sdk.js');
    found = await findDevice({ apiUrl: o.balenaApiUrl, token: o.balenaToken, uuidOrShort: o.device });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new DeviceError(`failed to resolve device ${o.device} through the balena API: ${why}`, {
      device: o.device, hint: 'pass --host <address> to connect directly (works without the balena API)',
    });
  }
  const host = found.ipAddresses.find((a) => !a.includes(':')) ?? found.ipAddresses[0];
  if (!host) {
    throw new DeviceError(`device ${found.uuid} (${found.name}) reports no local address to the balena API`, {
      device: found.uuid, hint: 'pass --host <address> to connect directly',
    });
  }
  return { host, via: 'balena', uuid: found.uuid, name: found.name };
}
