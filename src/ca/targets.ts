// Where a fleet command's devices and its own files come from.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { UsageError } from '../errors.js';
import { readDevicesFile, validateConfigPath, DEFAULT_CONFIG_PATH, type DeviceTarget } from './devices-file.js';

export function fleetvaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'fleetvault');
}

export async function rolloutTargets(o: { fleet?: string; devicesFile?: string; configPath?: string; balenaUrl?: string; port?: number }): Promise<DeviceTarget[]> {
  const configPath = validateConfigPath(o.configPath ?? DEFAULT_CONFIG_PATH);
  if (o.devicesFile) return readDevicesFile(o.devicesFile, { defaultConfigPath: configPath, defaultPort: o.port });
  if (!o.fleet) throw new UsageError('name the devices: --fleet SLUG or --devices FILE');
  const token = process.env.BALENA_TOKEN ?? process.env.BALENA_API_KEY;
  if (!token) throw new UsageError('--fleet needs a balena API key in BALENA_TOKEN', { hint: 'or list devices with --devices FILE' });
  const { listFleetDevices } = await import('../balena/sdk.js');
  const devices = await listFleetDevices({ apiUrl: o.balenaUrl, token, fleet: o.fleet });
  return devices.map((d) => {
    const host = d.ipAddresses.find((a) => !a.includes(':')) ?? d.ipAddresses[0];
    return { name: d.uuid, host: host ?? '', port: o.port ?? 22222, configPath };
  }).filter((d) => d.host !== ''); // devices that report no address cannot be reached this way
}

/** Journal and known_hosts default to the state dir; the journal is keyed by the CA. */
export function rolloutPaths(o: { caFingerprint: string; journal?: string; knownHosts?: string }): { journal: string; knownHosts: string } {
  const dir = fleetvaultStateDir();
  const key = createHash('sha256').update(o.caFingerprint).digest('hex').slice(0, 12);
  return { journal: o.journal ?? join(dir, `rollout-${key}.jsonl`), knownHosts: o.knownHosts ?? join(dir, 'known_hosts') };
}
