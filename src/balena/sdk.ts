// The one door to balenaCloud: a thin wrapper over balena-sdk, loaded lazily (it is the heaviest
// dependency; `fleetvault --help` must never pay for it). Every SDK instance is isolated
// (dataDirectory: false): nothing is read from or written to ~/.balena, so an operator's own
// balena login can never be used or overwritten by fleetvault.
import { createRequire } from 'node:module';
import { DeviceError, UsageError } from '../errors.js';

const require = createRequire(import.meta.url);

export const DEFAULT_BALENA_API = 'https://api.balena-cloud.com';

interface SdkDevice { id: number; uuid: string; device_name: string; ip_address: string | null; is_online: boolean; created_at?: string }
interface Sdk {
  auth: { loginWithToken(t: string): Promise<void> };
  models: {
    device: {
      generateUniqueKey(): string;
      register(app: string | number, uuid: string, deviceType?: string): Promise<{ id: number; uuid: string; api_key: string }>;
      get(uuidOrId: string | number, o?: object): Promise<SdkDevice>;
      getAllByApplication(slugOrId: string | number, o?: object): Promise<SdkDevice[]>;
    };
    application: { get(slug: string | number, o?: object): Promise<{ id: number; app_name: string; slug: string }> };
    os: { getConfig(app: string | number, o: Record<string, unknown>): Promise<Record<string, unknown>> };
  };
}

export interface BalenaAuth {
  /** API root, e.g. https://api.balena-cloud.com */
  apiUrl?: string;
  /** A balena API key or session token; never from argv. */
  token: string;
}

function apiUrlOf(a: BalenaAuth): string {
  const url = (a.apiUrl ?? DEFAULT_BALENA_API).replace(/\/+$/, '');
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
  } catch {
    throw new UsageError(`invalid balena API URL "${url}"`, { hint: 'expected e.g. https://api.balena-cloud.com' });
  }
  return url;
}

async function sdkFor(a: BalenaAuth): Promise<{ sdk: Sdk; apiUrl: string }> {
  const apiUrl = apiUrlOf(a);
  const { getSdk } = require('balena-sdk') as { getSdk(o: object): Sdk };
  const sdk = getSdk({ apiUrl, dataDirectory: false, isBrowser: false });
  await sdk.auth.loginWithToken(a.token);
  return { sdk, apiUrl };
}

/** SDK errors carry the whole request (with the Authorization header) — keep only a short reason. */
function balenaError(what: string, apiUrl: string, e: unknown): DeviceError {
  const err = e as { statusCode?: number; code?: string; message?: string; name?: string };
  const status = err?.statusCode;
  let why = err?.code ?? err?.name ?? 'error';
  if (status === 401) why = 'the balena API key was refused (401)';
  else if (status === 403) why = 'permission denied (403)';
  else if (status) why = `HTTP ${status}`;
  else if (err?.name && /NotFound|InvalidDeviceType|AmbiguousDevice/.test(err.name)) why = (err.message ?? err.name).split('\n')[0]!;
  else if (err?.code === 'ECONNREFUSED' || err?.code === 'ENOTFOUND') why = `cannot reach ${apiUrl} (${err.code})`;
  return new DeviceError(`failed to ${what}: ${why}`, { hint: status === 401 ? 'check the apiKey stored in Vault' : undefined, cause: undefined });
}

export interface RegisteredDevice {
  id: number;
  uuid: string;
  /** The device's own API key: all a provisioned device needs. */
  deviceApiKey: string;
  applicationId: number;
  fleet: string;
  deviceType: string;
  /** The config template balenaCloud returns for the fleet (contains a short-lived provisioning apiKey). */
  baseConfig: Record<string, unknown>;
  apiUrl: string;
}

/**
 * Register a device out of band: the SDK mints a 10-minute provisioning key for the call, posts
 * /device/register, and we fetch the fleet's config template (also with a short-lived key, named
 * so operators can find and delete it). The caller removes every provisioning key from the
 * config it writes.
 */
export async function registerDevice(o: BalenaAuth & { fleet: string; deviceType: string; osVersion: string; uuid?: string }): Promise<RegisteredDevice> {
  const apiUrl = apiUrlOf(o);
  let sdk: Sdk;
  try {
    ({ sdk } = await sdkFor(o));
  } catch (e) {
    throw balenaError(`log in to ${apiUrl}`, apiUrl, e);
  }
  const uuid = o.uuid ?? sdk.models.device.generateUniqueKey();
  try {
    const app = await sdk.models.application.get(o.fleet, { $select: ['id', 'app_name', 'slug'] });
    const reg = await sdk.models.device.register(app.id, uuid, o.deviceType);
    const baseConfig = await sdk.models.os.getConfig(app.id, {
      version: o.osVersion,
      deviceType: o.deviceType,
      provisioningKeyName: `fleetvault register ${uuid.slice(0, 7)} (config template, unused)`,
      provisioningKeyExpiryDate: new Date(Date.now() + 60_000).toISOString(),
    });
    return { id: reg.id, uuid: reg.uuid, deviceApiKey: reg.api_key, applicationId: app.id, fleet: app.slug, deviceType: o.deviceType, baseConfig, apiUrl };
  } catch (e) {
    throw balenaError(`register a ${o.deviceType} device in ${o.fleet}`, apiUrl, e);
  }
}

export interface FoundDevice {
  uuid: string;
  name: string;
  ipAddresses: string[];
  isOnline: boolean;
  createdAt?: string;
}

/** Resolve a full or short (≥ 7 hex) uuid to the device's addresses, for `fleetvault ssh <uuid>`. */
export async function findDevice(o: BalenaAuth & { uuidOrShort: string }): Promise<FoundDevice> {
  const q = o.uuidOrShort.trim().toLowerCase();
  if (!/^[0-9a-f]{7,62}$/.test(q)) throw new UsageError(`invalid device uuid "${o.uuidOrShort}"`, { hint: 'give the full uuid or at least its first 7 characters' });
  const apiUrl = apiUrlOf(o);
  try {
    const { sdk } = await sdkFor(o);
    // The SDK treats a 7–31 character string as a short uuid ($startswith) and refuses ambiguity.
    const d = await sdk.models.device.get(q, { $select: ['id', 'uuid', 'device_name', 'ip_address', 'is_online'] });
    return { uuid: d.uuid, name: d.device_name, ipAddresses: (d.ip_address ?? '').split(/\s+/).filter(Boolean), isOnline: !!d.is_online };
  } catch (e) {
    throw balenaError(`find device ${q}`, apiUrl, e);
  }
}

/** Every device of a fleet with its local addresses, for `fleetvault ca rollout --fleet`. */
export async function listFleetDevices(o: BalenaAuth & { fleet: string }): Promise<FoundDevice[]> {
  const apiUrl = apiUrlOf(o);
  try {
    const { sdk } = await sdkFor(o);
    const devices = await sdk.models.device.getAllByApplication(o.fleet, { $select: ['id', 'uuid', 'device_name', 'ip_address', 'is_online', 'created_at'] });
    return devices.map((d) => ({ uuid: d.uuid, name: d.device_name, ipAddresses: (d.ip_address ?? '').split(/\s+/).filter(Boolean), isOnline: !!d.is_online, createdAt: d.created_at }));
  } catch (e) {
    throw balenaError(`list the devices of fleet ${o.fleet}`, apiUrl, e);
  }
}
