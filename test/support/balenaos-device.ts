// A faithful balenaOS device for tests: what balenaOS does around config.json, not just sshd.
// - sshd is socket-activated: a listener accepts each connection and runs `sshd -i` for it, and
//   stops listening when more than `burst` connections arrive within `intervalMs` (systemd's
//   TriggerLimit on sshd.socket), until `recoverAfterMs` later (balenaOS' recover-sshd-socket).
// - balena-supervisor (test/support/balenaos/bin/balena-supervisor) caches config.json and writes
//   its whole copy back through fatrw every `supervisorIntervalSeconds`; a `systemctl` on the
//   device's PATH stops and starts it (balena-supervisor, alias resin-supervisor).
// - `fatrw` with the real CLI (read / write [-m MODE] from stdin / copy) is on the PATH.
// - os-sshkeys copies os.sshKeys into authorized_keys_local `sshKeysDelayMs` after config.json
//   changes; sshd reads only that file, so the device reacts late, like balenaOS.
// - libnss-ato: any login name is root. The trick: an LD_PRELOAD shim (balenaos/nss-ato.c, built
//   once per test dir with gcc) loaded only into this device's sshd maps unknown names to root's
//   passwd entry. Tests run as root, so sshd can switch to uid 0 for any name.
// - optional clock skew through libfaketime (FAKETIME for sshd only); an optional slow `sync`.
// The plain device (src/dev/device.ts) stays for the simple cases.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDeviceConfig, findSshd } from '../../src/dev/device.js';
import { freePort, waitForPort } from '../../src/dev/free-port.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = join(HERE, 'balenaos', 'bin');
const FATRW_BIN = join(HERE, 'balenaos', 'fatrw');
const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

export interface BalenaOsDeviceOptions {
  dir: string;
  name: string;
  host: string;
  port?: number;
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
  triggerLimit?: { intervalMs: number; burst: number; recoverAfterMs: number };
  /** libfaketime offset for sshd, e.g. '-10m'. */
  clockSkew?: string;
  /**
   * How often os-sshkeys looks at config.json (default 100 ms). The fleet lab (fleet-lab.ts) runs
   * hundreds of devices in one process and polls less often; a device then reacts up to this much later.
   */
  sshKeysPollMs?: number;
  /**
   * root's home is <dir>/home, not the test machine's /root (whose .bashrc bash would source for
   * every ssh command: ~85 ms of CPU each here). The fleet lab sets it; a balenaOS root's home is its own.
   */
  ownHome?: boolean;
  /** Copy this host key instead of generating one (the fleet lab: 1,000 ssh-keygen runs cost more than the devices). */
  hostKeyFrom?: string;
}

export interface BalenaOsDevice {
  name: string;
  host: string;
  port: number;
  dir: string;
  configPath: string;
  hostPublicKey: string;
  knownHostsLine: string;
  log: string;
  readConfig(): string;
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

const shims = new Map<string, string>();
function nssAtoShim(root: string): string {
  let so = shims.get(root);
  if (so && existsSync(so)) return so;
  so = join(root, 'nss-ato.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', so, join(HERE, 'balenaos', 'nss-ato.c'), '-ldl']);
  shims.set(root, so);
  return so;
}

function sshKeysOf(text: string): string[] | undefined {
  try {
    const c = JSON.parse(text) as { os?: { sshKeys?: unknown } };
    const k = c.os?.sshKeys;
    return Array.isArray(k) ? k.filter((x): x is string => typeof x === 'string' && !/[\n\r\0]/.test(x)) : [];
  } catch {
    return undefined; // os-sshkeys fails on a broken file; the keys it applied last stay
  }
}

export async function startBalenaOsDevice(o: BalenaOsDeviceOptions): Promise<BalenaOsDevice> {
  const sshd = findSshd();
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
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
  writeFileSync(join(o.dir, 'config-path'), configPath);
  writeFileSync(join(o.dir, 'supervisor-interval'), String(o.supervisorIntervalSeconds ?? 2));
  const authorizedKeysFile = join(o.dir, 'authorized_keys_local');
  const log = join(o.dir, 'sshd.log');
  const port = o.port ?? (await freePort(o.host));
  const cfg = join(o.dir, 'sshd_config');
  const path = [BIN, ...(o.fatrw === false ? [] : [FATRW_BIN]), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
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
  const preload = [nssAtoShim(dirname(o.dir)), ...(o.clockSkew ? [FAKETIME] : [])].join(':');
  const home = join(o.dir, 'home');
  if (o.ownHome) mkdirSync(home, { recursive: true, mode: 0o700 });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', LD_PRELOAD: preload,
    ...(o.clockSkew ? { FAKETIME: o.clockSkew } : {}), ...(o.ownHome ? { FV_DEVICE_HOME: home } : {}),
  };
  const deviceEnv = { ...env, PATH: path, FV_DEVICE_DIR: o.dir };
  delete (deviceEnv as Record<string, string>).LD_PRELOAD;

  // os-sshkeys: poll config.json (cheap stat, no forks) and apply os.sshKeys after the delay.
  let applied = '';
  const applyKeys = () => {
    let text: string;
    try { text = readFileSync(configPath, 'utf8'); } catch { return; }
    const keys = sshKeysOf(text);
    if (!keys) return;
    const body = keys.map((k) => k + '\n').join('');
    if (body === applied) return;
    const tmp = `${authorizedKeysFile}.tmp`;
    writeFileSync(tmp, body, { mode: 0o600 });
    renameSync(tmp, authorizedKeysFile);
    applied = body;
  };
  applyKeys();
  let lastStat = '';
  let pending: NodeJS.Timeout | undefined;
  const watcher = setInterval(() => {
    let s = '';
    try { const st = statSync(configPath); s = `${st.ino}:${st.size}:${st.mtimeMs}`; } catch { /* mid-rename */ }
    if (s === lastStat) return;
    lastStat = s;
    if (pending) clearTimeout(pending);
    pending = setTimeout(applyKeys, o.sshKeysDelayMs ?? 300);
  }, o.sshKeysPollMs ?? 100);

  if (!o.supervisorStopped) execFileSync(join(BIN, 'systemctl'), ['start', 'balena-supervisor'], { env: deviceEnv });

  // sshd.socket with Accept=yes: one `sshd -i` per connection, and a trigger limit.
  const limit = o.triggerLimit ?? { intervalMs: 2000, burst: 200, recoverAfterMs: 1000 };
  const sessions = new Set<ChildProcess>();
  let triggers: number[] = [];
  let trips = 0;
  let stopped = false;
  let server: Server | undefined;
  const listen = () => new Promise<void>((resolve, reject) => {
    server = createServer({ pauseOnConnect: true }, (sock: Socket) => {
      const now = Date.now();
      triggers = triggers.filter((t) => now - t < limit.intervalMs);
      triggers.push(now);
      if (triggers.length > limit.burst) {
        sock.destroy();
        trips++;
        triggers = [];
        server?.close();
        setTimeout(() => { if (!stopped) listen().catch(() => {}); }, limit.recoverAfterMs);
        return;
      }
      const fd = openSync(log, 'a');
      const child = spawn(sshd, ['-i', '-e', '-f', cfg], { stdio: [sock, sock, fd], env });
      closeSync(fd);
      sessions.add(child);
      child.once('exit', () => sessions.delete(child));
      child.once('error', () => sessions.delete(child));
      sock.destroy(); // the session holds its own copy of the connection
    });
    server.once('error', reject);
    server.listen(port, o.host, () => resolve());
  });
  let daemon: ChildProcess | undefined;
  if (o.clockSkew) {
    // libfaketime in an `sshd -i` trips the seccomp sandbox of the preauth child (SIGSYS: its
    // time calls start after the sandbox is up). A skewed device runs a listening sshd instead
    // (its per-connection children re-exec, so faketime starts before the sandbox): no trigger limit.
    writeFileSync(cfg, readFileSync(cfg, 'utf8') + `ListenAddress ${o.host}:${port}\n`);
    const fd = openSync(log, 'a');
    daemon = spawn(sshd, ['-D', '-e', '-f', cfg], { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    await waitForPort(o.host, port, 5000, () => daemon!.exitCode === null);
  } else {
    await listen();
  }

  const systemctl = (verb: string) => {
    try { execFileSync(join(BIN, 'systemctl'), [verb, 'balena-supervisor'], { env: deviceEnv, stdio: 'ignore' }); return true; } catch { return false; }
  };
  const readLines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);
  return {
    name: o.name, host: o.host, port, dir: o.dir, configPath, hostPublicKey, log,
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
    socketTrips: () => trips,
    liveSessions: () => sessions.size,
    stop: async () => {
      stopped = true;
      clearInterval(watcher);
      if (pending) clearTimeout(pending);
      if (daemon) await new Promise<void>((r) => { if (daemon!.exitCode !== null) return r(); daemon!.once('exit', () => r()); daemon!.kill('SIGTERM'); });
      else await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      systemctl('stop');
      await Promise.all([...sessions].map((c) => new Promise<void>((r) => { if (c.exitCode !== null) return r(); c.once('exit', () => r()); c.kill('SIGKILL'); })));
    },
  };
}
