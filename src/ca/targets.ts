// Where a fleet command's devices and its own files come from.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { readDevicesFile, validateConfigPath, DEFAULT_CONFIG_PATH, type DeviceTarget } from './devices-file.js';
import { xdgBaseDir } from '../xdg.js';

export function fleetvaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(xdgBaseDir('XDG_STATE_HOME', env), 'fleetvault');
}

export interface TargetOptions {
  fleet?: string;
  devicesFile?: string;
  configPath?: string;
  balenaUrl?: string;
  port?: number;
  /** auto|tunnel|direct; auto = balena's tunnel for --fleet, the listed address for --devices. */
  via?: string;
  /** Tunnel HOST:PORT (else FLEETVAULT_BALENA_TUNNEL, else tunnel.<domain>:443). */
  tunnel?: string;
  env?: NodeJS.ProcessEnv;
}

export async function rolloutTargets(o: TargetOptions): Promise<DeviceTarget[]> {
  const { validateVia, tunnelAddressFor, tunnelRouteFor } = await import('../device/route.js');
  const env = o.env ?? process.env;
  const via = validateVia(o.via);
  const configPath = validateConfigPath(o.configPath ?? DEFAULT_CONFIG_PATH);
  if (o.tunnel !== undefined) (await import('../device/tunnel.js')).parseTunnelAddress(o.tunnel);
  if (o.devicesFile) {
    if (via === 'tunnel') throw new UsageError('--via tunnel needs --fleet: a devices file lists addresses', { hint: 'use --via auto or direct with --devices' });
    return readDevicesFile(o.devicesFile, { defaultConfigPath: configPath, defaultPort: o.port });
  }
  if (!o.fleet) throw new UsageError('name the devices: --fleet SLUG or --devices FILE');
  const { balenaApiUrl, requireBalenaToken } = await import('../balena/settings.js');
  const apiUrl = balenaApiUrl({ flag: o.balenaUrl, env });
  const tunnel = via === 'direct' ? undefined : tunnelAddressFor({ tunnel: o.tunnel, apiUrl, balenaUrl: o.balenaUrl, env });
  const { token } = requireBalenaToken('--fleet', env);
  const { listFleetDevices, tunnelUserFor } = await import('../balena/sdk.js');
  const [devices, tunnelUser] = await Promise.all([
    listFleetDevices({ apiUrl, token, fleet: o.fleet }),
    tunnel ? tunnelUserFor({ apiUrl, token }) : Promise.resolve(''),
  ]);
  const port = o.port ?? 22222;
  // What --scoped writes on each device: its own uuid and the fleet it was listed from.
  const { normalizeFleetSlug, normalizeUuid } = await import('../access/principals.js');
  // A fleet named by id (not a slug) leaves them unknown: --scoped then refuses, naming how many.
  const scope = (uuid: string): Pick<DeviceTarget, 'fleet' | 'uuid'> => {
    try { return { fleet: normalizeFleetSlug(o.fleet!), uuid: normalizeUuid(uuid) }; } catch { return {}; }
  };
  return devices.map((d): DeviceTarget => {
    if (tunnel) {
      const r = tunnelRouteFor({ uuid: d.uuid, port, tunnel, tunnelUser });
      return { name: d.uuid, host: r.host, port, configPath, proxyCommand: r.proxyCommand, hostKeyAlias: r.hostKeyAlias, ...scope(d.uuid) };
    }
    const host = d.ipAddresses.find((a) => !a.includes(':')) ?? d.ipAddresses[0];
    // Never dropped: a device without an address stays in the run under its balena name, which
    // does not resolve, so it is reported unreachable with ssh's reason next to it.
    return { name: d.uuid, host: host ?? `${d.uuid}.balena`, port, configPath, ...scope(d.uuid) };
  });
}

/** Journal and known_hosts default to the state dir; the journal is keyed by the CA. */
export function rolloutPaths(o: { caFingerprint: string; journal?: string; knownHosts?: string }): { journal: string; knownHosts: string } {
  const dir = fleetvaultStateDir();
  const key = createHash('sha256').update(o.caFingerprint).digest('hex').slice(0, 12);
  return { journal: o.journal ?? join(dir, `rollout-${key}.jsonl`), knownHosts: o.knownHosts ?? join(dir, 'known_hosts') };
}
