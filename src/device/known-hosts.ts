// The known_hosts file fleet commands keep. Two traps it closes:
// - ssh cannot create the file's directory: on a fresh HOME every accept-new first contact failed
//   to pin, so the strict verification login after it failed too. The directory exists (0700)
//   before the first ssh runs.
// - Pins keyed by address follow the address, not the device: devices change addresses (DHCP,
//   balena's tunnel). Pins are keyed by device (HostKeyAlias = uuid or name); a pin an older
//   version or the operator made for the address is adopted once for the device.
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { dirname } from 'node:path';
import type { DeviceTarget } from '../ca/devices-file.js';
import { UsageError } from '../errors.js';

export function hostKeyAliasOf(t: Pick<DeviceTarget, 'name' | 'hostKeyAlias'>): string {
  return t.hostKeyAlias ?? t.name;
}

/** Make the known_hosts directory (0700 when we create it) so ssh can write first-contact pins. */
export function prepareKnownHosts(file: string): void {
  const dir = dirname(file);
  try {
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700); // mkdir's mode is narrowed by the umask only; be exact
    } else if (!statSync(dir).isDirectory()) {
      throw new UsageError(`known_hosts directory ${dir} is not a directory`);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`failed to create ${dir} for known_hosts: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'pass --user-known-hosts-file in a writable directory' });
  }
}

function hostMatches(field: string, names: string[]): boolean {
  return field.split(',').some((h) => {
    const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(h);
    if (!hashed) return names.includes(h);
    const salt = Buffer.from(hashed[1]!, 'base64');
    return names.some((n) => createHmac('sha1', salt).update(n).digest('base64') === hashed[2]);
  });
}

/**
 * For each device not yet pinned under its alias but pinned under its address ([host]:port, or
 * host for port 22, hashed or not), add the same key(s) under the alias. Never removes a line.
 */
export function adoptAddressPins(file: string, targets: DeviceTarget[]): number {
  if (!existsSync(file)) return 0;
  const entries = readFileSync(file, 'utf8').split('\n')
    .map((l) => l.trim()).filter((l) => l && !l.startsWith('#') && !l.startsWith('@'))
    .map((l) => l.split(/\s+/)).filter((f) => f.length >= 3);
  const add: string[] = [];
  for (const t of targets) {
    if (t.proxyCommand) continue; // reached through a tunnel: the address says nothing
    const alias = hostKeyAliasOf(t);
    if (entries.some((f) => hostMatches(f[0]!, [alias]))) continue;
    const addr = t.port === 22 ? [t.host, `[${t.host}]:22`] : [`[${t.host}]:${t.port}`];
    for (const f of entries) if (hostMatches(f[0]!, addr)) add.push(`${alias} ${f[1]} ${f[2]}`);
  }
  if (add.length) appendFileSync(file, (readFileSync(file).at(-1) === 0x0a ? '' : '\n') + add.join('\n') + '\n', { mode: 0o600 });
  return add.length;
}
