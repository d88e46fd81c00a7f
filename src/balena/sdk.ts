// The one door to balenaCloud: a thin wrapper over balena-sdk, loaded lazily (it is the heaviest
// dependency; `fleetvault --help` must never pay for it). Every SDK instance is isolated
// (dataDirectory: false): fleetvault may READ balena-cli's stored login (settings.ts) but the SDK
// never writes to ~/.balena, so an operator's own balena login is never overwritten.
//
// Where the real API differs from a naive reading (open-balena-api):
//   - a wrong or expired key on a collection query is not 401: the API falls back to the guest
//     user and answers 200 with an empty list. An empty answer is checked against whoami (401 for
//     a bad key) before it is called "not found".
//   - api key names are limited to 50 characters and descriptions to 150 (400 otherwise).
//   - devices report ip_address only once they are online; many never report a reachable one.
import { createRequire } from 'node:module';
import { DeviceError, UsageError, escapeControl } from '../errors.js';
import { balenaApiUrl } from './settings.js';

const require = createRequire(import.meta.url);

export const DEFAULT_BALENA_API = 'https://api.balena-cloud.com';
/** open-balena-api's limits for api key names and descriptions. */
export const API_KEY_NAME_MAX = 50;
export const API_KEY_DESCRIPTION_MAX = 150;

interface SdkDevice { id: number; uuid: string; device_name: string; ip_address: string | null; is_online: boolean; created_at?: string; belongs_to__application?: Array<{ slug?: string }> }
interface Sdk {
  auth: { loginWithToken(t: string): Promise<void>; whoami(): Promise<{ actorType: string; username?: string } | undefined> };
  models: {
    device: {
      generateUniqueKey(): string;
      register(app: string | number, uuid: string, deviceType?: string): Promise<{ id: number; uuid: string; api_key: string }>;
      get(uuidOrId: string | number, o?: object): Promise<SdkDevice>;
      getAllByApplication(slugOrId: string | number, o?: object): Promise<SdkDevice[]>;
      remove(uuidOrId: string | number): Promise<void>;
    };
    application: { get(slug: string | number, o?: object): Promise<{ id: number; app_name: string; slug: string }> };
    os: { getConfig(app: string | number, o: Record<string, unknown>): Promise<Record<string, unknown>> };
  };
}

export interface BalenaAuth {
  /** API root (https://api.balena-cloud.com) or a balena domain (balena-cloud.com). */
  apiUrl?: string;
  /** A balena API key or session token; never from argv. */
  token: string;
}

/** The given URL, else BALENARC_API_URL / BALENARC_BALENA_URL as balena-cli reads them, else balenaCloud. */
function apiUrlOf(a: BalenaAuth): string {
  return balenaApiUrl({ flag: a.apiUrl });
}

async function sdkFor(a: BalenaAuth): Promise<{ sdk: Sdk; apiUrl: string }> {
  const apiUrl = apiUrlOf(a);
  const { getSdk } = require('balena-sdk') as { getSdk(o: object): Sdk };
  const sdk = getSdk({ apiUrl, dataDirectory: false, isBrowser: false });
  await sdk.auth.loginWithToken(a.token);
  return { sdk, apiUrl };
}

/** The server's own words, one line, bounded — never the request (it carries the Authorization header). */
function serverReason(body: unknown): string {
  let s = typeof body === 'string' ? body : body && typeof body === 'object' ? JSON.stringify(body) : '';
  s = s.trim().replace(/^"(.*)"$/s, '$1').replace(/\s+/g, ' ');
  return escapeControl(s.length > 200 ? s.slice(0, 200) + '…' : s);
}

/** SDK errors carry the whole request (with the Authorization header) — keep only a short reason. */
export function balenaError(what: string, apiUrl: string, e: unknown): DeviceError {
  if (e instanceof DeviceError) {
    // Already worded for this step (refusedKey): prefixing it again would say it twice.
    if (e.message.startsWith(`failed to ${what}:`)) return e;
    return new DeviceError(`failed to ${what}: ${e.message}`, { device: e.device, hint: e.hint });
  }
  const err = e as { statusCode?: number; code?: string; message?: string; name?: string; body?: unknown; cause?: { code?: string } };
  const status = err?.statusCode;
  // Node's fetch reports a refused connection as TypeError("fetch failed") with the reason in cause.
  const netCode = err?.cause?.code ?? (typeof err?.code === 'string' && /^E[A-Z]+$/.test(err.code) ? err.code : undefined);
  let why: string;
  let hint: string | undefined;
  if (status === 401) {
    why = 'the balena API key was refused (401)';
    hint = 'check BALENA_TOKEN / `balena login`, or the apiKey stored in Vault';
  } else if (status === 403) why = 'permission denied (403)';
  else if (status) {
    const reason = serverReason(err.body);
    why = reason ? `the balena API answered ${status}: ${reason}` : `the balena API answered ${status}`;
  } else if (netCode) {
    why = `cannot reach the balena API at ${apiUrl} (${netCode})`;
    hint = 'check --balena-url / BALENARC_BALENA_URL / balenarc.yml and your network';
  } else if (err?.name && /NotFound|InvalidDeviceType|AmbiguousDevice|InvalidParameter/.test(err.name)) why = escapeControl((err.message ?? err.name).split('\n')[0]!);
  else if (err instanceof Error && /^(TypeError|FetchError|AbortError)$/.test(err.name)) {
    const cause = (err.cause as { message?: string } | undefined)?.message;
    why = `no usable answer from the balena API at ${apiUrl} (${escapeControl([err.message, cause].filter(Boolean).join(': ').split('\n')[0]!.slice(0, 160))})`;
    hint = 'check --balena-url / BALENARC_BALENA_URL / balenarc.yml';
  } else why = escapeControl((err?.message ?? String(e)).split('\n')[0]!.slice(0, 200));
  return new DeviceError(`failed to ${what}: ${why}`, { hint });
}

/**
 * Who the key belongs to. Undefined = the API refused the key (whoami is the one endpoint that
 * answers 401 instead of falling back to the guest user).
 */
async function actorOf(sdk: Sdk): Promise<{ actorType: string; username?: string } | undefined> {
  return sdk.auth.whoami();
}

const refusedKey = (what: string) => new DeviceError(`failed to ${what}: the balena API key was refused (401)`, {
  hint: 'check BALENA_TOKEN / `balena login` (the API answers a refused key with an empty list, not an error)',
});

/** The tunnel's Basic-auth user as balena-cli sends it: the username for a user, `root` otherwise. */
export async function tunnelUserFor(o: BalenaAuth): Promise<string> {
  const apiUrl = apiUrlOf(o);
  try {
    const { sdk } = await sdkFor(o);
    const actor = await actorOf(sdk);
    if (!actor) throw refusedKey('log in to the balena API');
    // The proxy checks only the token; a username that could not travel safely in a ProxyCommand
    // line (it is not a secret, but it is shell-quoted there) is replaced by root.
    const name = actor.actorType === 'user' ? actor.username : undefined;
    return name && /^[A-Za-z0-9_.@+-]{1,128}$/.test(name) ? name : 'root';
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    throw balenaError('log in to the balena API', apiUrl, e);
  }
}

export interface ConfigTemplate {
  applicationId: number;
  fleet: string;
  /** The config template balenaCloud returns for the fleet (contains a short-lived provisioning apiKey). */
  baseConfig: Record<string, unknown>;
}

export interface RegisteredDevice {
  id: number;
  uuid: string;
  /** The device's own API key: all a provisioned device needs. */
  deviceApiKey: string;
  applicationId: number;
  fleet: string;
  deviceType: string;
  baseConfig: Record<string, unknown>;
  apiUrl: string;
}

// Short on purpose: the API refuses names over 50 characters, and it is the operator who reads it.
const TEMPLATE_KEY_NAME = 'fleetvault config template';

/**
 * Register a device out of band. Everything that can fail without side effects (the key, the
 * fleet, the config template) happens first; then balena-sdk registers (it mints its own 10-minute
 * provisioning key and posts /device/register). If the registration call fails, the device may
 * still exist (the answer was lost): it is looked up and removed, so no orphan stays behind.
 */
export async function registerDevice(o: BalenaAuth & { fleet: string; deviceType: string; osVersion: string; uuid?: string }): Promise<RegisteredDevice> {
  const apiUrl = apiUrlOf(o);
  const what = `register a ${o.deviceType} device in ${o.fleet}`;
  let sdk: Sdk;
  try {
    ({ sdk } = await sdkFor(o));
  } catch (e) {
    throw balenaError(`log in to ${apiUrl}`, apiUrl, e);
  }
  let app: { id: number; slug: string };
  let baseConfig: Record<string, unknown>;
  try {
    if (!(await actorOf(sdk))) throw refusedKey(what);
    app = await sdk.models.application.get(o.fleet, { $select: ['id', 'app_name', 'slug'] });
    baseConfig = await sdk.models.os.getConfig(app.id, {
      version: o.osVersion,
      deviceType: o.deviceType,
      provisioningKeyName: TEMPLATE_KEY_NAME,
      provisioningKeyExpiryDate: new Date(Date.now() + 60_000).toISOString(),
    });
  } catch (e) {
    throw balenaError(what, apiUrl, e);
  }
  const uuid = o.uuid ?? sdk.models.device.generateUniqueKey();
  // A fresh random uuid (62 hex) can only name a device this call creates. A caller's uuid may
  // already be taken: such a device is someone else's and never removed below. Unknown counts as taken.
  const existedBefore = o.uuid === undefined ? false : await sdk.models.device.get(uuid, { $select: ['id'] }).then(
    () => true,
    (e: { name?: string }) => e?.name !== 'BalenaDeviceNotFound',
  );
  try {
    const reg = await sdk.models.device.register(app.id, uuid, o.deviceType);
    return { id: reg.id, uuid: reg.uuid, deviceApiKey: reg.api_key, applicationId: app.id, fleet: app.slug, deviceType: o.deviceType, baseConfig, apiUrl };
  } catch (e) {
    const err = balenaError(what, apiUrl, e);
    // Only a lost answer (5xx, no answer at all) may hide a device this call created; a 4xx is a
    // refusal that created nothing (409: the uuid is another device's, which must stay).
    const status = (e as { statusCode?: number } | undefined)?.statusCode;
    if (typeof status === 'number' && status < 500) throw err;
    if (existedBefore) throw new DeviceError(`${err.message}; device ${uuid} existed before and was left alone`, { hint: err.hint });
    const left = await removeDeviceIfPresent({ ...o, uuid });
    if (left === 'absent') throw err;
    if (left === 'removed') throw new DeviceError(`${err.message}; the device it had created was removed again`, { hint: err.hint });
    throw new DeviceError(`${err.message}; device ${uuid} may have been registered`, { hint: removalHint(uuid) });
  }
}

export function removalHint(uuid: string): string {
  return `remove it with: balena device rm ${uuid} --yes`;
}

/** Remove a device (cleanup after a failed registration). 'failed' when neither absence nor removal could be confirmed. */
export async function removeDeviceIfPresent(o: BalenaAuth & { uuid: string }): Promise<'removed' | 'absent' | 'failed'> {
  try {
    const { sdk } = await sdkFor(o);
    try {
      await sdk.models.device.get(o.uuid, { $select: ['id'] });
    } catch (e) {
      if ((e as { name?: string }).name === 'BalenaDeviceNotFound' && (await actorOf(sdk))) return 'absent';
      throw e;
    }
    await sdk.models.device.remove(o.uuid);
    return 'removed';
  } catch {
    return 'failed';
  }
}

export interface FoundDevice {
  uuid: string;
  name: string;
  ipAddresses: string[];
  isOnline: boolean;
  createdAt?: string;
  /** The fleet's slug (org/fleet), when the lookup expanded it (findDevice does: `ssh --scope fleet`). */
  fleet?: string;
}

export function validateUuidQuery(uuidOrShort: string): string {
  const q = uuidOrShort.trim().toLowerCase();
  if (!/^[0-9a-f]{7,62}$/.test(q)) throw new UsageError(`invalid device uuid ${JSON.stringify(uuidOrShort).slice(0, 80)}`, { hint: 'give the full uuid or at least its first 7 hex characters' });
  return q;
}

/** Resolve a full or short (≥ 7 hex) uuid, for `fleetvault ssh <uuid>`. */
export async function findDevice(o: BalenaAuth & { uuidOrShort: string }): Promise<FoundDevice> {
  const q = validateUuidQuery(o.uuidOrShort);
  const apiUrl = apiUrlOf(o);
  const what = `find device ${q}`;
  try {
    const { sdk } = await sdkFor(o);
    let d: SdkDevice;
    try {
      // The SDK treats a 7–31 character string as a short uuid ($startswith) and refuses ambiguity.
      // The fleet slug rides along in the same request: `ssh --scope fleet` asks for its principal.
      d = await sdk.models.device.get(q, { $select: ['id', 'uuid', 'device_name', 'ip_address', 'is_online'], $expand: { belongs_to__application: { $select: ['slug'] } } });
    } catch (e) {
      if ((e as { name?: string }).name === 'BalenaDeviceNotFound' && !(await actorOf(sdk))) throw refusedKey(what);
      throw e;
    }
    const fleet = Array.isArray(d.belongs_to__application) ? d.belongs_to__application[0]?.slug : undefined;
    return { uuid: d.uuid, name: d.device_name, ipAddresses: (d.ip_address ?? '').split(/\s+/).filter(Boolean), isOnline: !!d.is_online, ...(fleet ? { fleet } : {}) };
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    throw balenaError(what, apiUrl, e);
  }
}

/** Every device of a fleet with the addresses it reported (often none), for fleet-wide commands. */
export async function listFleetDevices(o: BalenaAuth & { fleet: string }): Promise<FoundDevice[]> {
  const apiUrl = apiUrlOf(o);
  const what = `list the devices of fleet ${o.fleet}`;
  try {
    const { sdk } = await sdkFor(o);
    let devices: SdkDevice[];
    try {
      devices = await sdk.models.device.getAllByApplication(o.fleet, { $select: ['id', 'uuid', 'device_name', 'ip_address', 'is_online', 'created_at'] });
    } catch (e) {
      if ((e as { name?: string }).name === 'BalenaApplicationNotFound' && !(await actorOf(sdk))) throw refusedKey(what);
      throw e;
    }
    return devices.map((d) => ({ uuid: d.uuid, name: d.device_name, ipAddresses: (d.ip_address ?? '').split(/\s+/).filter(Boolean), isOnline: !!d.is_online, createdAt: d.created_at }));
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    throw balenaError(what, apiUrl, e);
  }
}
