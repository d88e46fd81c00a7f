// A simulated balenaOS device: a real OpenSSH sshd on a loopback address with its own host key
// and its own config.json. Like balenaOS, it trusts exactly the os.sshKeys entries of config.json,
// re-read on every login (an AuthorizedKeysCommand), so editing config.json changes who gets in.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';

export interface DeviceOptions {
  /** Working directory of this device (host key, sshd_config, config.json). */
  dir: string;
  name?: string;
  host?: string;
  port?: number;
  /** Initial config.json content (object) — default: a minimal provisioned balenaOS config. */
  config?: Record<string, unknown>;
  /** Initial raw config.json text (wins over config; for malformed-file tests). */
  configText?: string;
  sshdBin?: string;
  /** Extra environment for sshd (tests: LD_PRELOAD=libfaketime to shift the device clock). */
  env?: Record<string, string>;
}

export interface Device {
  name: string;
  host: string;
  port: number;
  dir: string;
  configPath: string;
  hostPublicKey: string;
  /** `[host]:port ssh-ed25519 …` for a known_hosts file. */
  knownHostsLine: string;
  child: ChildProcess;
  log: string;
  readConfig(): string;
  stop(): Promise<void>;
}

export function findSshd(): string {
  for (const p of ['/usr/sbin/sshd', '/usr/local/sbin/sshd']) if (existsSync(p)) return p;
  throw new Error('sshd not found: run scripts/install-tools.sh (Debian openssh-server)');
}

/**
 * sshd runs an AuthorizedKeysCommand only if every directory on its path is root-owned and not
 * group/world writable — so not under /tmp. One shared helper per machine, under ~/.cache.
 */
export function authorizedKeysHelper(): string {
  const dir = join(process.env.HOME || homedir(), '.cache', 'fleetvault-device');
  const script = join(dir, 'authorized-keys-from-config-json');
  const body = `#!/bin/sh
# balenaOS copies each os.sshKeys entry of config.json verbatim into authorized_keys.
# Malformed or missing config.json → no keys (the device stays reachable only through the API).
exec jq -r '(.os.sshKeys // []) | if type == "array" then .[] | select(type == "string") else empty end' "$1" 2>/dev/null
`;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  if (!existsSync(script) || readFileSync(script, 'utf8') !== body) writeFileSync(script, body, { mode: 0o755 });
  chmodSync(script, 0o755);
  return script;
}

export function defaultDeviceConfig(name: string): Record<string, unknown> {
  return {
    applicationId: 1,
    deviceType: 'raspberrypi4-64',
    uuid: name,
    apiEndpoint: 'https://api.balena-cloud.com',
    os: { sshKeys: [] as string[] },
    persistentLogging: false,
  };
}

export async function startDevice(o: DeviceOptions): Promise<Device> {
  const sshd = o.sshdBin ?? findSshd();
  const host = o.host ?? '127.0.0.1';
  const name = o.name ?? `device-${host}`;
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(o.dir, 'ssh_host_ed25519_key');
  if (!existsSync(hostKey)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', hostKey]);
  const hostPublicKey = readFileSync(hostKey + '.pub', 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const configPath = join(o.dir, 'config.json');
  if (!existsSync(configPath) || o.config || o.configText !== undefined) {
    writeFileSync(configPath, o.configText ?? JSON.stringify(o.config ?? defaultDeviceConfig(name), null, 2) + '\n');
  }
  const helper = authorizedKeysHelper();
  const log = join(o.dir, 'sshd.log');
  for (let attempt = 0; ; attempt++) {
    const port = o.port ?? (await freePort(host));
    const cfg = join(o.dir, 'sshd_config');
    writeFileSync(cfg, [
      `Port ${port}`,
      `ListenAddress ${host}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(o.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile none`,
      `AuthorizedKeysCommand ${helper} ${configPath}`,
      `AuthorizedKeysCommandUser root`,
      `PermitRootLogin prohibit-password`,
      `PubkeyAuthentication yes`,
      `PasswordAuthentication no`,
      `KbdInteractiveAuthentication no`,
      `UsePAM no`,
      `StrictModes no`,
      `PrintMotd no`,
      `LogLevel VERBOSE`,
      `MaxStartups 200:30:400`,
      `MaxSessions 50`,
      `Subsystem sftp internal-sftp`,
      '',
    ].join('\n'));
    const fd = openSync(log, 'a');
    const child = spawn(sshd, ['-D', '-e', '-f', cfg], { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...o.env } });
    closeSync(fd);
    try {
      await waitForPort(host, port, 5000, () => child.exitCode === null);
    } catch (e) {
      child.kill('SIGKILL');
      if (o.port === undefined && attempt < 3) continue;
      throw new Error(`sshd for ${name} did not start: ${(e as Error).message}; see ${log}`);
    }
    return {
      name, host, port, dir: o.dir, configPath, hostPublicKey, child, log,
      knownHostsLine: `[${host}]:${port} ${hostPublicKey}`,
      readConfig: () => readFileSync(configPath, 'utf8'),
      stop: () => new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
    };
  }
}
