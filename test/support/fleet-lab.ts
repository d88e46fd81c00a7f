// The fleet lab: N faithful balenaOS devices (balenaos-device.ts: socket-activated sshd, a
// supervisor that caches and writes back config.json, fatrw, systemctl, os-sshkeys, nss-ato),
// each reached only through its own Toxiproxy link with latency and connection resets, like a
// cellular fleet. Used by test/integration/ca/rollout-lab.test.ts and bench/fleet-lab.js.
//
// What is made cheaper than a single test device, so 100-1,000 of them fit on 2 cores, and why
// that leaves the behaviour under test alone:
// - the supervisor writes config.json back every `supervisorIntervalSeconds` (default 20 s, not
//   2 s): each write-back forks ~10 processes; what a write-back does is unchanged;
// - os-sshkeys polls every 250 ms instead of 100 ms (a device applies new keys a bit later);
// - root's home is the device's own (nss-ato's FV_DEVICE_HOME), not this machine's /root, whose
//   .bashrc (pyenv and the like) bash sources for every ssh command: a lab artefact worth ~85 ms
//   of CPU per command, which no device pays;
// - above 200 devices they share one host key (ssh-keygen per device costs more than the device);
//   pins are per device name anyway.
// Supervisor stop/start through systemctl, fatrw and the nss-ato shim are what every device has.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDeviceConfig } from '../../src/dev/device.js';
import { freePort } from '../../src/dev/free-port.js';
import { startBalenaOsDevice, type BalenaOsDevice, type BalenaOsDeviceOptions } from './balenaos-device.js';
import { startToxiproxy, type LinkShape, type Toxiproxy } from './toxiproxy.js';

export interface FleetLabOptions {
  n: number;
  link: LinkShape;
  /** Parent of the lab's temp dir (default the OS temp dir). */
  tmp?: string;
  supervisorIntervalSeconds?: number;
  sshKeysPollMs?: number;
  /** Share one host key across devices (default: when n > 200). */
  sharedHostKey?: boolean;
  /** Devices started at once (each start forks ssh-keygen, bash, the supervisor). */
  startConcurrency?: number;
  device?: (i: number) => Partial<BalenaOsDeviceOptions>;
}

export interface LabDevice {
  /** The device itself (its own loopback address, reached by the lab only). */
  device: BalenaOsDevice;
  name: string;
  /** Where clients connect: the device's Toxiproxy link. */
  host: string;
  port: number;
  configPath: string;
}

export interface FleetLab {
  dir: string;
  devices: LabDevice[];
  /** Operator key every device trusts in os.sshKeys (what ssh-key-insert users log in with). */
  opKey: string;
  opPub: string;
  /** fleetvault devices file: "<name> <link host> <link port> <config path>". */
  devicesFile: string;
  /** known_hosts with each device pinned by link address (peers) and by name (fleetvault's HostKeyAlias). */
  knownHosts: string;
  toxiproxy: Toxiproxy;
  /** Reshape every link, or only the named devices' links. */
  shape(link: LinkShape, only?: string[]): Promise<void>;
  /** Put every device back to its first config.json (supervisor stopped around it, so its cache is fresh too). */
  resetConfigs(): void;
  stop(): Promise<void>;
}

/** Loopback address i of a /16 (127.<net>.x.y, never .0 or .255): one per device and per link. */
function address(net: number, i: number): string {
  return `127.${net}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

export async function startFleetLab(o: FleetLabOptions): Promise<FleetLab> {
  const dir = mkdtempSync(join(o.tmp ?? tmpdir(), 'fv-lab-'));
  const devices: LabDevice[] = [];
  let toxiproxy: Toxiproxy | undefined;
  const stop = async () => {
    await Promise.all(devices.map((d) => d.device.stop().catch(() => {})));
    await toxiproxy?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const opKey = join(dir, 'operator');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator', '-f', opKey]);
    const opPub = readFileSync(`${opKey}.pub`, 'utf8').trim();
    const shared = o.sharedHostKey ?? o.n > 200;
    const hostKey = join(dir, 'shared_host_key');
    if (shared) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lab', '-f', hostKey]);
    toxiproxy = await startToxiproxy();
    const initial: string[] = [];
    let next = 0;
    const starter = async () => {
      while (next < o.n) {
        const i = next++;
        const name = `lab${i}`;
        const config = defaultDeviceConfig(name);
        // What a provisioned device holds besides the keys: secrets a write must keep intact.
        Object.assign(config, { apiKey: `prov-${'a'.repeat(24)}${i}`, deviceApiKey: `dak-${'b'.repeat(24)}${i}` });
        (config.os as { sshKeys: string[] }).sshKeys = [opPub];
        const device = await startBalenaOsDevice({
          dir: join(dir, `d${i}`), name, host: address(77, i), config,
          supervisorIntervalSeconds: o.supervisorIntervalSeconds ?? 20,
          sshKeysPollMs: o.sshKeysPollMs ?? 250,
          ownHome: true,
          ...(shared ? { hostKeyFrom: hostKey } : {}),
          ...o.device?.(i),
        });
        const host = address(78, i);
        devices[i] = { device, name, host, port: await freePort(host), configPath: device.configPath };
        initial[i] = device.readConfig();
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.startConcurrency ?? 4, o.n) }, starter));
    await toxiproxy.addProxies(devices.map((d) => ({ name: d.name, listen: `${d.host}:${d.port}`, upstream: `${d.device.host}:${d.device.port}` })));
    await toxiproxy.shapeAll(o.link);
    const devicesFile = join(dir, 'devices.txt');
    writeFileSync(devicesFile, devices.map((d) => `${d.name} ${d.host} ${d.port} ${d.configPath}`).join('\n') + '\n');
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, devices.flatMap((d) => [`[${d.host}]:${d.port} ${d.device.hostPublicKey}`, `${d.name} ${d.device.hostPublicKey}`]).join('\n') + '\n');
    const tp = toxiproxy;
    const interval = o.supervisorIntervalSeconds ?? 20;
    return {
      dir, devices, opKey, opPub, devicesFile, knownHosts, toxiproxy: tp,
      shape: (link, only) => tp.shapeAll(link, only),
      resetConfigs: () => {
        for (const [i, d] of devices.entries()) {
          d.device.stopSupervisor();
          d.device.writeConfig(initial[i]!);
          rmSync(`${d.configPath}.fleetvault.bak`, { force: true });
          // Restarted together, supervisors would write back in lockstep: a random first wait.
          writeFileSync(join(d.device.dir, 'supervisor-phase'), (Math.random() * interval).toFixed(2));
          d.device.startSupervisor();
        }
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A private copy of the lab's known_hosts (fleetvault adopts address pins into its own file). */
export function knownHostsCopy(lab: FleetLab, name: string): string {
  const dir = join(lab.dir, 'kh');
  mkdirSync(dir, { recursive: true });
  const f = join(dir, name);
  copyFileSync(lab.knownHosts, f);
  return f;
}
