// Out-of-band registration (the thread's option 2): the flasher registers the device itself with
// a balena API key kept in Vault, and the image gets a config.json carrying only that device's own
// key — no provisioning apiKey, so a copied image cannot register anything.
import { FleetvaultError, UsageError, VaultError, failedTo } from '../errors.js';
import type { VaultClient } from '../vault/client.js';
import { getCaPublicKey } from '../ca/public-key.js';
import { authorizedKeyLine } from '../ca/authorized-key.js';
import { validateFleetSlug } from './envelope.js';

export interface BalenaCredentials { apiKey: string; apiUrl?: string }

/** KV v2 <kvMount>/balena: field apiKey (required) and apiUrl (optional). */
export async function readBalenaCredentials(o: { client: VaultClient; kvMount: string }): Promise<BalenaCredentials> {
  const path = `${o.kvMount}/data/balena`;
  let data: Record<string, unknown> | undefined;
  try {
    data = (await o.client.read<{ data?: Record<string, unknown> }>(path)).data?.data;
  } catch (e) {
    if (e instanceof VaultError && e.status === 404) {
      throw new VaultError(`failed to read the balena API key: ${path} does not exist`, {
        path, status: 404, hint: `store it: bao kv put -mount=${o.kvMount} balena apiKey=- (from stdin)`,
      });
    }
    throw failedTo('read the balena API key', e);
  }
  const apiKey = data?.apiKey;
  if (typeof apiKey !== 'string' || apiKey.trim() === '') {
    throw new VaultError(`failed to read the balena API key: ${path} has no apiKey field`, { path });
  }
  const apiUrl = typeof data?.apiUrl === 'string' && data.apiUrl !== '' ? data.apiUrl : undefined;
  return { apiKey: apiKey.trim(), apiUrl };
}

export interface RegisterOptions {
  client: VaultClient;
  kvMount: string;
  sshMount: string;
  fleet: string;
  deviceType: string;
  osVersion: string;
  /** Override the apiUrl stored in Vault (tests, private balena instances). */
  apiUrl?: string;
  now?: Date;
  /**
   * Persist the device's config.json (file or image). Runs after the device exists in balena: if
   * it fails, the device is removed again, so a failed run leaves no orphan with a live device key.
   */
  write?: (config: Buffer) => Promise<{ written: string }>;
}

export interface RegisterResult {
  uuid: string;
  deviceId: number;
  fleet: string;
  deviceType: string;
  config: Record<string, unknown>;
  /** Where write() put it. */
  written?: string;
}

const DEVICE_TYPE = /^[a-z0-9][a-z0-9_.\-]{0,63}$/;

export async function registerOutOfBand(o: RegisterOptions): Promise<RegisterResult> {
  const fleet = validateFleetSlug(o.fleet);
  if (!DEVICE_TYPE.test(o.deviceType)) throw new UsageError(`invalid device type "${o.deviceType}"`, { hint: 'a balena device type slug, e.g. raspberrypi4-64' });
  // Everything that can fail without side effects comes first: both Vault reads here, the balena
  // key, fleet and config template inside registerDevice — so a refusal registers nothing.
  const ca = await getCaPublicKey({ client: o.client, mount: o.sshMount });
  const caLine = authorizedKeyLine({ publicKey: ca.publicKey, fingerprint: ca.fingerprint, mount: ca.mount });
  const creds = await readBalenaCredentials({ client: o.client, kvMount: o.kvMount });
  const { registerDevice, removeDeviceIfPresent, removalHint } = await import('../balena/sdk.js');
  const auth = { apiUrl: o.apiUrl ?? creds.apiUrl, token: creds.apiKey };
  const reg = await registerDevice({ ...auth, fleet, deviceType: o.deviceType, osVersion: o.osVersion });
  try {
    const { apiKey: _template, ...base } = reg.baseConfig;
    const os = (base.os && typeof base.os === 'object' ? base.os : {}) as Record<string, unknown>;
    const sshKeys = Array.isArray(os.sshKeys) ? (os.sshKeys as unknown[]).filter((k) => typeof k === 'string' && k !== caLine) as string[] : [];
    const config: Record<string, unknown> = {
      ...base,
      applicationId: reg.applicationId,
      deviceType: reg.deviceType,
      apiEndpoint: base.apiEndpoint ?? reg.apiUrl,
      uuid: reg.uuid,
      deviceId: reg.id,
      deviceApiKey: reg.deviceApiKey,
      registered_at: Math.floor((o.now ?? new Date()).getTime() / 1000),
      os: { ...os, sshKeys: [...sshKeys, caLine] },
    };
    const written = o.write ? (await o.write(Buffer.from(JSON.stringify(config, null, 2) + '\n'))).written : undefined;
    return { uuid: reg.uuid, deviceId: reg.id, fleet: reg.fleet, deviceType: reg.deviceType, config, written };
  } catch (e) {
    const left = await removeDeviceIfPresent({ ...auth, uuid: reg.uuid });
    const cause = e instanceof Error ? e.message : String(e);
    const what = `write the config.json of device ${reg.uuid}`;
    const msg = left === 'failed'
      ? `failed to ${what}: ${cause}; the device is still registered in ${reg.fleet}`
      : `failed to ${what}: ${cause}; the device was removed from ${reg.fleet} again`;
    const hint = left === 'failed' ? removalHint(reg.uuid) : (e as { hint?: string }).hint;
    // Keep the exit code of what failed (1 for a local write, 2 for Vault or balena).
    throw new FleetvaultError(msg, { exitCode: e instanceof FleetvaultError ? e.exitCode : 1, hint });
  }
}
