// Where `fleetvault dev --detach` remembers what it started, so `fleetvault dev stop` can stop it.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic.js';
import { takePidLock } from '../fs/pid-lock.js';
import { join, resolve } from 'node:path';
import { xdgBaseDir } from '../xdg.js';

export interface DevState {
  address: string;
  rootToken: string;
  serverPid: number;
  devicePid?: number;
  /** The simulated device: where it listens and where its sshd logs (evidence for a refused login). */
  device?: { host: string; port: number; log: string; user?: string };
  auditLog: string;
  dir: string;
  startedAt: string;
}

export function devStateDir(env: Record<string, string | undefined> = process.env): string {
  // Absolute: sshd_config, the device's SetEnv and the recorded command lines need it whole.
  if (env.FLEETVAULT_DEV_DIR) return resolve(env.FLEETVAULT_DEV_DIR);
  return join(xdgBaseDir('XDG_STATE_HOME', env), 'fleetvault', 'dev');
}

export function writeDevState(dir: string, s: DevState): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  // Holds the dev root token: 0600, written whole or not at all.
  writeFileAtomic(join(dir, 'state.json'), JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
}

export function readDevState(dir: string): DevState | undefined {
  const f = join(dir, 'state.json');
  if (!existsSync(f)) return undefined;
  try { return JSON.parse(readFileSync(f, 'utf8')) as DevState; } catch { return undefined; }
}

/** What `fleetvault dev` writes in its directory (the plain device's and the balenaOS device's files under device/). */
const OWN_ENTRIES = ['state.json', 'server.hcl', 'server.log', 'audit.log', 'known_hosts', 'nss-ato.so', 'device', '.vault-token', 'starting.pid'];
const OWN_TEMPS = /^(\.state\.json\.[0-9a-f]+\.tmp|nss-ato\.so\.\d+\.tmp)$/;

/**
 * Removes what `fleetvault dev` wrote, and the directory once nothing else is in it. The directory
 * is the user's to choose (FLEETVAULT_DEV_DIR): a project directory or $HOME must keep their files.
 */
export function clearDevState(dir: string, keep: string[] = []): void {
  let names: string[];
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names) {
    if (keep.includes(name)) continue;
    if (OWN_ENTRIES.includes(name) || OWN_TEMPS.test(name)) rmSync(join(dir, name), { recursive: true, force: true });
  }
  try { rmdirSync(dir); } catch { /* the user's own files stay, and so does their directory */ }
}

/**
 * Alive and still the process `fleetvault dev` started: its command line (or, for the supervisor,
 * whose command line names no directory, its environment) holds `needle`. A recorded pid outlives
 * its process (SIGKILL, a reboot keeps ~/.local/state) and may now be anybody's. Without /proc
 * (not Linux) only liveness can be checked.
 */
export function processIsOurs(pid: number | undefined, needle: string, where: 'cmdline' | 'environ' = 'cmdline'): boolean {
  if (!processAlive(pid)) return false;
  let text: string;
  try { text = readFileSync(`/proc/${pid}/${where}`, 'utf8'); } catch { return !existsSync('/proc/self'); }
  return text.split('\0').some((part) => part.includes(needle));
}

export function processAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try { process.kill(pid, 0); } catch { return false; }
  // A zombie has exited: a detached process that stopped waits for whoever reaps orphans (PID 1
  // in a container may take seconds), and must not count as still running meanwhile.
  try { return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; }
}

/**
 * The sshd log of the device `fleetvault dev --with-device` runs at host:port, if that is where
 * this session goes: the one device whose refusals fleetvault can explain from its own log.
 */
export function devDevice(host: string, port: number, env: Record<string, string | undefined> = process.env): { log: string; user?: string } | undefined {
  const s = readDevState(devStateDir(env));
  if (!s?.device || s.device.host !== host || s.device.port !== port || !processIsOurs(s.devicePid, join(s.dir, 'device'))) return undefined;
  return { log: s.device.log, user: s.device.user };
}

/**
 * One `fleetvault dev` starting per state dir: state.json is written only once everything is up, so
 * two started at once would clear each other's files. Returns the release (which also removes the
 * directory when nothing else is left in it).
 */
export function lockDevStart(dir: string): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, 'starting.pid');
  // One that was killed while starting leaves its file; takePidLock finds it stale and replaces it.
  const release = takePidLock(lock, (h) => new UsageError(`a fleetvault dev server is already starting in ${dir} (pid ${h.pid})`, {
    hint: `wait for it (then fleetvault dev stop stops it), or remove ${lock} if no fleetvault dev runs`,
  }));
  return () => {
    release();
    try { rmdirSync(dir); } catch { /* state or the user's files are in it */ }
  };
}
