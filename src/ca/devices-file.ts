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

function isSafeConfigPath(p: string): boolean {
  return SAFE_PATH.test(p) && !p.split('/').includes('..');
}

export function validateConfigPath(p: string, where = '--config-path'): string {
  // The path ends up in a remote shell command (single-quoted); allow only plain path characters.
  if (!isSafeConfigPath(p)) throw new UsageError(`${where}: unsafe config path ${JSON.stringify(p)} (absolute, [A-Za-z0-9_./-] only)`);
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
    // Name the line and the field, never the value: a file passed by mistake (a shadow file, a key)
    // must not end up on a terminal or in a CI log.
    if (!/^[A-Za-z0-9_.:-]+$/.test(name)) throw new UsageError(`${where}: invalid device name (field 1: [A-Za-z0-9_.:-] only)`);
    if (host.startsWith('-') || !/^[A-Za-z0-9_.:\[\]-]+$/.test(host)) throw new UsageError(`${where}: invalid host (field 2: a hostname or IP address)`);
    const p = port === undefined ? (o.defaultPort ?? 22222) : Number(port);
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new UsageError(`${where}: invalid port (field 3: 1-65535)`);
    if (configPath !== undefined && !isSafeConfigPath(configPath)) throw new UsageError(`${where}: unsafe config path (field 4: absolute, [A-Za-z0-9_./-] only)`);
    // The name passed the check above: plain characters, and the user needs it to find the line.
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
