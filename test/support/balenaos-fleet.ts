// A fleet of faithful balenaOS devices that first trust only an operator key, and a devices file.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultDeviceConfig } from '../../src/dev/device.js';
import type { BalenaOsDevice, BalenaOsDeviceOptions } from './balenaos-device.js';

export interface BalenaOsFleet { devices: BalenaOsDevice[]; opKey: string; opPub: string; file: string }

export async function balenaOsFleet(
  n: number,
  balenaos: { start(o?: Partial<Omit<BalenaOsDeviceOptions, 'dir' | 'host'>>): Promise<BalenaOsDevice> },
  tmp: string,
  extra: (i: number) => Partial<Omit<BalenaOsDeviceOptions, 'dir' | 'host'>> = () => ({}),
): Promise<BalenaOsFleet> {
  const opKey = join(tmp, 'operator');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', opKey]);
  const opPub = readFileSync(`${opKey}.pub`, 'utf8').trim();
  const devices = await Promise.all(Array.from({ length: n }, (_, i) => {
    const config = defaultDeviceConfig(`bos${i}`);
    // What a provisioned device holds: secrets the write must never put in argv.
    Object.assign(config, { apiKey: `prov-${'a'.repeat(24)}${i}`, deviceApiKey: `dak-${'b'.repeat(24)}${i}` });
    (config.os as { sshKeys: string[] }).sshKeys = [opPub];
    return balenaos.start({ name: `bos${i}`, config, ...extra(i) });
  }));
  const file = join(tmp, 'devices.txt');
  writeFileSync(file, devices.map((d) => `${d.name} ${d.host} ${d.port} ${d.configPath}`).join('\n') + '\n');
  return { devices, opKey, opPub, file };
}
