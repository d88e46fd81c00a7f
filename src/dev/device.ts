// A simulated balenaOS device: a real OpenSSH sshd on a loopback address with its own host key
// and its own config.json. Like balenaOS, it trusts exactly the os.sshKeys entries of config.json,
// re-read on every login (an AuthorizedKeysCommand), so editing config.json changes who gets in.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { UsageError } from '../errors.js';

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

/** What every simulated device offers: where it listens, its host key, its config.json and log. */
export interface SimulatedDevice {
  name: string;
  host: string;
  port: number;
  dir: string;
  configPath: string;
  hostPublicKey: string;
  /** `[host]:port ssh-ed25519 …` for a known_hosts file. */
  knownHostsLine: string;
  /** The account this device logs in: root, or the invoking user when not run as root. */
  user: string;
  /** sshd's own log: the evidence when a login is refused. */
  log: string;
  readConfig(): string;
  stop(): Promise<void>;
}

/** The plain device: one `sshd -D` (its child process). */
export interface Device extends SimulatedDevice {
  child: ChildProcess;
}

/**
 * sshd_config splits its lines like a shell (quotes, backslashes, spaces) and expands %-tokens: a
 * device's paths must be plain, or sshd reads another path than the one we wrote.
 */
export function checkSshdConfigPath(path: string, what: string, consequence = 'which sshd_config cannot hold'): void {
  if (/["'\\\s%]/.test(path)) {
    throw new UsageError(`cannot start the simulated device: its ${what} ${JSON.stringify(path)} has a quote, backslash, space or %, ${consequence}`, { hint: 'set FLEETVAULT_DEV_DIR to a plain path' });
  }
}

export function findSshd(): string {
  for (const p of ['/usr/sbin/sshd', '/usr/local/sbin/sshd']) if (existsSync(p)) return p;
  throw new Error('sshd not found: run scripts/install-tools.sh (Debian openssh-server)');
}

// balenaOS copies each os.sshKeys entry of config.json verbatim into authorized_keys; a malformed
// or missing config.json yields no keys (the device stays reachable only through the API).
const OS_SSH_KEYS_FILTER = '(.os.sshKeys // []) | if type == "array" then .[] | select(type == "string") else empty end';

/**
 * sshd runs an AuthorizedKeysCommand only if the program and every directory above it are owned
 * by root and not group/world writable (StrictModes does not relax this). A helper script under
 * $HOME or /tmp fails that check whenever HOME is under /tmp ("bad ownership or modes for
 * directory /tmp"), and an unprivileged user cannot create a root-owned directory at all. So the
 * command is the system's own jq, run directly: it already lives in a root-owned directory.
 */
export function authorizedKeysCommand(configPath: string, jqBin = findJq()): string {
  checkSshdConfigPath(configPath, 'config path', 'and sshd cannot pass it to the AuthorizedKeysCommand');
  return `${jqBin} -r '${OS_SSH_KEYS_FILTER}' ${configPath}`;
}

/** jq on PATH, checked the way sshd will check it, so a refusal is reported before sshd starts. */
export function findJq(env: Record<string, string | undefined> = process.env): string {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/local/bin'].filter((d) => d.startsWith('/'));
  const found = dirs.map((d) => join(d, 'jq')).filter((p) => existsSync(p));
  if (found.length === 0) throw new UsageError('cannot start the simulated device: jq not found (it reads config.json os.sshKeys)', { hint: 'apt-get install jq' });
  const safe = found.map((p) => realpathSync(p)).find(rootOwnedPath);
  if (!safe) throw new UsageError(`cannot start the simulated device: jq at ${found[0]} is not in root-owned, non-writable directories, so sshd refuses to run it`, { hint: 'install jq with apt-get' });
  return safe;
}

function rootOwnedPath(p: string): boolean {
  for (let cur = p; ; cur = dirname(cur)) {
    const st = statSync(cur);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) return false;
    if (cur === '/') return true;
  }
}

/**
 * Which account the device lets in. Run as root it is balenaOS: root. An unprivileged sshd can
 * only start sessions as the user it runs as, so the device logs in that user — with the same
 * root-principal certificate, because the CA line's principals="root" is what sshd checks for a
 * cert-authority key, not the login name.
 */
export function deviceLoginUser(): string {
  return process.geteuid?.() === 0 ? 'root' : userInfo().username;
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
  // sshd's privilege-separation dir; only root can (and only root needs to) create it.
  if (process.geteuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(o.dir, 'ssh_host_ed25519_key');
  if (!existsSync(hostKey)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', hostKey]);
  const hostPublicKey = readFileSync(hostKey + '.pub', 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const configPath = join(o.dir, 'config.json');
  if (!existsSync(configPath) || o.config || o.configText !== undefined) {
    writeFileSync(configPath, o.configText ?? JSON.stringify(o.config ?? defaultDeviceConfig(name), null, 2) + '\n');
  }
  const keysCommand = authorizedKeysCommand(configPath);
  const user = deviceLoginUser();
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
      `AuthorizedKeysCommand ${keysCommand}`,
      // Unprivileged, sshd cannot switch to another user for the command: run it as ourselves.
      `AuthorizedKeysCommandUser ${user}`,
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
    // -E: sshd logs to the file itself; stdout/stderr (errors before logging starts) go there too.
    const child = spawn(sshd, ['-D', '-E', log, '-f', cfg], { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...o.env } });
    closeSync(fd);
    try {
      await waitForPort(host, port, 5000, () => child.exitCode === null);
    } catch (e) {
      child.kill('SIGKILL');
      if (o.port === undefined && attempt < 3) continue;
      throw new Error(`sshd for ${name} did not start: ${(e as Error).message}; see ${log}`);
    }
    return {
      name, host, port, dir: o.dir, configPath, hostPublicKey, child, log, user,
      knownHostsLine: `[${host}]:${port} ${hostPublicKey}`,
      readConfig: () => readFileSync(configPath, 'utf8'),
      stop: () => new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.ref(); // unref'd for `dev --detach`: keep node alive until it has exited
        child.kill('SIGTERM');
      }),
    };
  }
}
