// The devices file: one device a line, `<name-or-uuid> <host> [port] [config-path]`, # comments.
import { UsageError } from '../errors.js';
import { readInputFile } from '../fs/atomic.js';

export interface DeviceTarget {
  name: string;
  host: string;
  port: number;
  configPath: string;
  /** How ssh reaches the device when not directly (balena's tunnel): passed as -o ProxyCommand=… */
  proxyCommand?: string;
  /** The name its host key is pinned under in known_hosts (default: the device name), so a
   *  device that changes address keeps its pin. */
  hostKeyAlias?: string;
}

export const DEFAULT_CONFIG_PATH = '/mnt/boot/config.json';
const SAFE_PATH = /^\/[A-Za-z0-9_.\/-]+$/;

export function validateConfigPath(p: string, where = '--config-path'): string {
  // The path ends up in a remote shell command (single-quoted); allow only plain path characters.
  if (!SAFE_PATH.test(p) || p.split('/').includes('..')) throw new UsageError(`${where}: unsafe config path ${JSON.stringify(p)} (absolute, [A-Za-z0-9_./-] only)`);
  return p;
}

export function parseDevicesFile(text: string, o: { source?: string; defaultPort?: number; defaultConfigPath?: string } = {}): DeviceTarget[] {
  const source = o.source ?? 'devices file';
  const out: DeviceTarget[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const where = `${source}:${i + 1}`;
    const [name, host, port, configPath, extra] = line.split(/\s+/);
    if (!name || !host || extra !== undefined) throw new UsageError(`${where}: expected "<name> <host> [port] [config-path]"`);
    if (!/^[A-Za-z0-9_.:-]+$/.test(name)) throw new UsageError(`${where}: invalid device name ${JSON.stringify(name)}`);
    if (host.startsWith('-') || !/^[A-Za-z0-9_.:\[\]-]+$/.test(host)) throw new UsageError(`${where}: invalid host ${JSON.stringify(host)}`);
    const p = port === undefined ? (o.defaultPort ?? 22222) : Number(port);
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`${where}: invalid port ${JSON.stringify(port)}`);
    if (seen.has(name)) throw new UsageError(`${where}: device ${name} listed twice`);
    seen.add(name);
    out.push({ name, host, port: p, configPath: validateConfigPath(configPath ?? o.defaultConfigPath ?? DEFAULT_CONFIG_PATH, where) });
  });
  if (out.length === 0) throw new UsageError(`${source} lists no devices`);
  return out;
}

export function readDevicesFile(path: string, o: { defaultPort?: number; defaultConfigPath?: string } = {}): DeviceTarget[] {
  return parseDevicesFile(readInputFile(path, 'devices file').toString('utf8'), { ...o, source: path });
}
