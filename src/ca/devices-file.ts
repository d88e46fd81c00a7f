// The devices file: one device a line, # comments:
//   <name-or-uuid> <host> [port] [config-path] [fleet=<org>/<fleet>] [uuid=<balena uuid>]
// The key=value fields are optional and come after the positional ones; they say which scoped
// principals the device trusts (`--scoped`: device-<uuid>,fleet-<org>.<fleet>,break-glass). uuid
// defaults to the name when the name is a balena uuid. Files without them read as they always did.
import { UsageError } from '../errors.js';
import { readInputFile } from '../fs/atomic.js';
import { normalizeFleetSlug, normalizeUuid } from '../access/principals.js';

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
  /** Its balena fleet slug, normalized (`org/fleet`): from balena for --fleet, `fleet=` in a devices file. */
  fleet?: string;
  /** Its balena uuid, normalized: the name for --fleet, `uuid=` (or a uuid name) in a devices file. */
  uuid?: string;
}

/** A normalized value, or undefined when it is not one (the caller words the error). */
function tryNormalize(f: (v: string) => string, v: string): string | undefined {
  try { return f(v); } catch { return undefined; }
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
  // Normalized uuid → the line that named it: the same device twice (a uuid name in upper and in
  // lower case, or uuid= on two lines) would be written twice, with whichever fleet came last.
  const seenUuid = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const where = `${source}:${i + 1}`;
    const tokens = line.split(/\s+/);
    // Positional fields first, then key=value fields (a path or port never holds '=').
    const firstKv = tokens.findIndex((tok) => tok.includes('='));
    const positional = firstKv < 0 ? tokens : tokens.slice(0, firstKv);
    const kvs = firstKv < 0 ? [] : tokens.slice(firstKv);
    const [name, host, port, configPath, extra] = positional;
    if (!name || !host || extra !== undefined) throw new UsageError(`${where}: expected "<name> <host> [port] [config-path] [fleet=<org>/<fleet>] [uuid=<uuid>]"`);
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
    const fields = new Map<string, string>();
    for (const kv of kvs) {
      const eq = kv.indexOf('=');
      const key = kv.slice(0, eq);
      // Keys are echoed only when they are one of ours; values never are.
      if (key !== 'fleet' && key !== 'uuid') throw new UsageError(`${where}: unknown field after the positional ones (expected fleet=<org>/<fleet> or uuid=<uuid>)`);
      if (fields.has(key)) throw new UsageError(`${where}: field ${key}= given twice`);
      fields.set(key, kv.slice(eq + 1));
    }
    const target: DeviceTarget = { name, host, port: p, configPath: validateConfigPath(configPath ?? o.defaultConfigPath ?? DEFAULT_CONFIG_PATH, where) };
    if (fields.has('fleet')) {
      target.fleet = tryNormalize(normalizeFleetSlug, fields.get('fleet')!);
      if (!target.fleet) throw new UsageError(`${where}: invalid fleet (field fleet=: a balena slug <org>/<fleet> of a-z 0-9 . _ -)`);
    }
    const fromName = tryNormalize(normalizeUuid, name);
    if (fields.has('uuid')) {
      target.uuid = tryNormalize(normalizeUuid, fields.get('uuid')!);
      if (!target.uuid) throw new UsageError(`${where}: invalid uuid (field uuid=: 32 or 62 hexadecimal characters)`);
      // A uuid-shaped name is the device's uuid: a different uuid= is a mix-up, and would put
      // another device's principal on this one.
      if (fromName && fromName !== target.uuid) throw new UsageError(`${where}: uuid= contradicts the device name ${name} (a balena uuid); drop uuid= or fix one of them`);
    } else if (fromName) {
      target.uuid = fromName;
    }
    if (target.uuid) {
      const first = seenUuid.get(target.uuid);
      if (first !== undefined) throw new UsageError(`${where}: device ${name} is the device of line ${first} (same uuid); list each device once`);
      seenUuid.set(target.uuid, i + 1);
    }
    out.push(target);
  });
  if (out.length === 0) throw new UsageError(`${source} lists no devices`);
  return out;
}

export function readDevicesFile(path: string, o: { defaultPort?: number; defaultConfigPath?: string } = {}): DeviceTarget[] {
  return parseDevicesFile(readInputFile(path, 'devices file').toString('utf8'), { ...o, source: path });
}
