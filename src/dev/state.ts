// Where `fleetvault dev --detach` remembers what it started, so `fleetvault dev stop` can stop it.
import { existsSync, mkdirSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { writeFileAtomic } from '../fs/atomic.js';
import { homedir } from 'node:os';
import { join } from 'node:path';

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
  if (env.FLEETVAULT_DEV_DIR) return env.FLEETVAULT_DEV_DIR;
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'fleetvault', 'dev');
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

export function clearDevState(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
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
  if (!s?.device || s.device.host !== host || s.device.port !== port || !processAlive(s.devicePid)) return undefined;
  return { log: s.device.log, user: s.device.user };
}
