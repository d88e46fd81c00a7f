// A faithful balenaOS device: what balenaOS does around config.json, not just sshd. Used by the
// tests (test/support/balenaos-device.ts, the fleet lab) and by `fleetvault dev --with-device`.
// - sshd is socket-activated (sshd-socket.ts): one `sshd -i` per connection, with systemd's trigger limit.
// - balena-supervisor (files/bin/balena-supervisor) caches config.json and writes its whole copy
//   back through fatrw every `supervisorIntervalSeconds`; a `systemctl` on the device's PATH
//   stops and starts it (balena-supervisor, alias resin-supervisor).
// - `fatrw` with the real CLI (read / write [-m MODE] from stdin / copy) is on the PATH.
// - os-sshkeys (os-sshkeys.ts) copies os.sshKeys into authorized_keys_local `sshKeysDelayMs` after
//   config.json changes; sshd reads only that file, so the device reacts late, like balenaOS.
// - libnss-ato (nss-ato.ts): any login name is root, when this runs as root and gcc can build the
//   shim. Otherwise sshd logs in only the user it runs as (`user`), like the plain device.
// - optional clock skew through libfaketime (FAKETIME for sshd only; tests); an optional slow `sync`.
// The plain device (../device.ts) stays for the simple cases.
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../../errors.js';
import { checkSshdConfigPath, defaultDeviceConfig, deviceLoginUser, findSshd, type SimulatedDevice } from '../device.js';
import { freePort, waitForPort } from '../free-port.js';
import { nssAtoShim, type NssAtoMode } from './nss-ato.js';
import { startOsSshKeys } from './os-sshkeys.js';
import { deviceFiles } from './paths.js';
import { startSshdSocket, type TriggerLimit } from './sshd-socket.js';

const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

export interface BalenaOsDeviceOptions {
  dir: string;
  name: string;
  host: string;
  port?: number;
  /** A port to take when it is free, else any free one (`dev`: balenaOS' 22222). Ignored with `port`. */
  preferredPort?: number;
  config?: Record<string, unknown>;
  configText?: string;
  /** config.json's mode (default 0640: distinct from every umask default, so a lost mode shows). */
  configMode?: number;
  /** Seconds between the supervisor's write-backs (default 2); 0: it caches but never writes. */
  supervisorIntervalSeconds?: number;
  /** Start without a supervisor running (default: running). */
  supervisorStopped?: boolean;
  /** The device has fatrw on its PATH (default true). */
  fatrw?: boolean;
  sshKeysDelayMs?: number;
  triggerLimit?: TriggerLimit;
  /** libfaketime offset for sshd, e.g. '-10m'. */
  clockSkew?: string;
  /**
   * How often os-sshkeys looks at config.json (default 100 ms). The fleet lab (test/support/fleet-lab.ts)
   * runs hundreds of devices in one process and polls less often; a device then reacts up to this much later.
   */
  sshKeysPollMs?: number;
  /**
   * root's home is <dir>/home, not this machine's /root (whose .bashrc bash would source for
   * every ssh command: ~85 ms of CPU each). The fleet lab sets it; a balenaOS root's home is its own.
   */
  ownHome?: boolean;
  /** Copy this host key instead of generating one (the fleet lab: 1,000 ssh-keygen runs cost more than the devices). */
  hostKeyFrom?: string;
  /** Any login name → root (default 'auto': when root and gcc exist; tests say 'require'). */
  nssAto?: NssAtoMode;
  /** Where the nss-ato shim is built and shared (default: the directory above `dir`). */
  shimDir?: string;
}

/** The faithful device: the plain one's endpoint plus balenaOS' behaviour around config.json. */
export interface BalenaOsDevice extends SimulatedDevice {
  /** Whether any login name is root (libnss-ato); otherwise only `user` logs in. */
  anyUser: boolean;
  /** Why not, when `anyUser` is false. */
  anyUserMissing?: string;
  writeConfig(text: string): void;
  authorizedKeys(): string[];
  supervisorRunning(): boolean;
  stopSupervisor(): void;
  startSupervisor(): void;
  /** Make every sync on the device take this long (an SD card); 0 to stop. */
  setSyncDelay(seconds: number): void;
  /** Write-backs the supervisor made so far. */
  supervisorWrites(): number;
  /** Lines of the device's systemctl log ("<time> start" / "<time> stop"). */
  systemctlLog(): string[];
  /** Times the trigger limit stopped the socket. */
  socketTrips(): number;
  /** Processes started for this device (sshd -i sessions) still alive. */
  liveSessions(): number;
  stop(): Promise<void>;
}

let jqRuns: boolean | undefined;

export async function startBalenaOsDevice(o: BalenaOsDeviceOptions): Promise<BalenaOsDevice> {
  checkSshdConfigPath(o.dir, 'directory');
  const sshd = findSshd();
  const files = deviceFiles();
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  // sshd's privilege-separation dir; only root can (and only root needs to) create it.
  if (process.geteuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(o.dir, 'ssh_host_ed25519_key');
  if (!existsSync(hostKey) && o.hostKeyFrom) {
    writeFileSync(hostKey, readFileSync(o.hostKeyFrom), { mode: 0o600 });
    writeFileSync(hostKey + '.pub', readFileSync(o.hostKeyFrom + '.pub'));
  }
  if (!existsSync(hostKey)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', o.name, '-f', hostKey]);
  const hostPublicKey = readFileSync(hostKey + '.pub', 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const configPath = join(o.dir, 'boot', 'config.json');
  mkdirSync(dirname(configPath), { recursive: true, mode: 0o755 });
  writeFileSync(configPath, o.configText ?? JSON.stringify(o.config ?? defaultDeviceConfig(o.name), null, 2) + '\n');
  chmodSync(configPath, o.configMode ?? 0o640);
  // The device-side scripts find their state here ($FV_DEVICE_DIR, set by sshd's SetEnv).
  writeFileSync(join(o.dir, 'config-path'), configPath);
  writeFileSync(join(o.dir, 'supervisor-interval'), String(o.supervisorIntervalSeconds ?? 2));
  const authorizedKeysFile = join(o.dir, 'authorized_keys_local');
  const log = join(o.dir, 'sshd.log');
  let port = o.port ?? (o.preferredPort && !o.clockSkew ? o.preferredPort : await freePort(o.host));
  const cfg = join(o.dir, 'sshd_config');
  const path = [files.bin, ...(o.fatrw === false ? [] : [files.fatrw]), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
  checkSshdConfigPath(path, 'PATH');
  // The supervisor edits config.json with jq (balenaOS ships it, and so do the device's tools):
  // without it the supervisor would never write back while `dev` says it does.
  // Asked once per process: the fleet lab starts hundreds of devices.
  jqRuns ??= spawnSync('jq', ['-n', '1'], { env: { PATH: path }, stdio: 'ignore', timeout: 10_000 }).status === 0;
  if (!jqRuns) {
    throw new UsageError('cannot start the simulated balenaOS device: jq is missing (its balena-supervisor edits config.json with it)', { hint: 'apt-get install jq' });
  }
  writeFileSync(cfg, [
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PrintMotd no',
    'PidFile none',
    'LogLevel VERBOSE',
    `SetEnv PATH=${path} FV_DEVICE_DIR=${o.dir}`,
    '',
  ].join('\n'));
  const nss = nssAtoShim(o.shimDir ?? dirname(o.dir), o.nssAto ?? 'auto');
  const preload = [...(nss.so ? [nss.so] : []), ...(o.clockSkew ? [FAKETIME] : [])].join(':');
  const home = join(o.dir, 'home');
  if (o.ownHome) mkdirSync(home, { recursive: true, mode: 0o700 });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...(preload ? { LD_PRELOAD: preload } : {}),
    ...(o.clockSkew ? { FAKETIME: o.clockSkew } : {}), ...(o.ownHome ? { FV_DEVICE_HOME: home } : {}),
  };
  const deviceEnv: Record<string, string> = { ...env, PATH: path, FV_DEVICE_DIR: o.dir };
  delete deviceEnv.LD_PRELOAD;

  const keys = startOsSshKeys({ configPath, authorizedKeysFile, delayMs: o.sshKeysDelayMs ?? 300, pollMs: o.sshKeysPollMs ?? 100 });
  const systemctl = (verb: string) => {
    try { execFileSync(join(files.bin, 'systemctl'), [verb, 'balena-supervisor'], { env: deviceEnv, stdio: 'ignore' }); return true; } catch { return false; }
  };
  let socket: Awaited<ReturnType<typeof startSshdSocket>> | undefined;
  let daemon: ChildProcess | undefined;
  try {
    if (!o.supervisorStopped) execFileSync(join(files.bin, 'systemctl'), ['start', 'balena-supervisor'], { env: deviceEnv });
    if (o.clockSkew) {
      // libfaketime in an `sshd -i` trips the seccomp sandbox of the preauth child (SIGSYS: its
      // time calls start after the sandbox is up). A skewed device runs a listening sshd instead
      // (its per-connection children re-exec, so faketime starts before the sandbox): no trigger limit.
      writeFileSync(cfg, readFileSync(cfg, 'utf8') + `ListenAddress ${o.host}:${port}\n`);
      const fd = openSync(log, 'a');
      daemon = spawn(sshd, ['-D', '-e', '-f', cfg], { stdio: ['ignore', fd, fd], env });
      closeSync(fd);
      const d = daemon;
      await waitForPort(o.host, port, 5000, () => d.exitCode === null);
    } else {
      socket = await startSshdSocket({ sshd, config: cfg, host: o.host, port, log, env, limit: o.triggerLimit ?? { intervalMs: 2000, burst: 200, recoverAfterMs: 1000 }, anyPortIfTaken: o.port === undefined });
      port = socket.port;
    }
  } catch (e) {
    // Nothing half-started stays: the poller, the supervisor, a listening sshd.
    keys.stop();
    systemctl('stop');
    daemon?.kill('SIGKILL');
    throw e;
  }

  const readLines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);
  return {
    name: o.name, host: o.host, port, dir: o.dir, configPath, hostPublicKey, log,
    user: nss.so ? 'root' : deviceLoginUser(), anyUser: !!nss.so, anyUserMissing: nss.missing,
    knownHostsLine: `[${o.host}]:${port} ${hostPublicKey}`,
    readConfig: () => readFileSync(configPath, 'utf8'),
    writeConfig: (text) => { const mode = statSync(configPath).mode & 0o7777; writeFileSync(`${configPath}.test`, text, { mode }); renameSync(`${configPath}.test`, configPath); },
    authorizedKeys: () => readLines(authorizedKeysFile),
    supervisorRunning: () => systemctl('is-active'),
    stopSupervisor: () => { systemctl('stop'); },
    startSupervisor: () => { systemctl('start'); },
    setSyncDelay: (seconds) => { if (seconds > 0) writeFileSync(join(o.dir, 'sync-delay'), String(seconds)); else rmSync(join(o.dir, 'sync-delay'), { force: true }); },
    supervisorWrites: () => readLines(join(o.dir, 'supervisor-writes.log')).length,
    systemctlLog: () => readLines(join(o.dir, 'systemctl.log')),
    socketTrips: () => socket?.trips() ?? 0,
    liveSessions: () => socket?.liveSessions() ?? 0,
    stop: async () => {
      keys.stop();
      const d = daemon;
      if (d) await new Promise<void>((r) => { if (d.exitCode !== null) return r(); d.once('exit', () => r()); d.kill('SIGTERM'); });
      // Listener first (no new sessions), then the supervisor, then the sessions still running.
      const closing = socket?.stop();
      systemctl('stop');
      await closing;
    },
  };
}
