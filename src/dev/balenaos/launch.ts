// Starts the simulated balenaOS device in a process of its own (host.ts), detached, so it keeps
// running after `fleetvault dev --detach` exits; `fleetvault dev stop` stops it by its pid.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { packageRoot } from '../../package-root.js';
import { processAlive, processIsOurs } from '../state.js';
import type { BalenaOsDeviceOptions } from './device.js';
import { descendants } from './sshd-socket.js';
import type { HostFailed, HostReady } from './host.js';

export interface HostedDevice extends Omit<HostReady, 'ok'> {
  host: string;
  pid: number;
  stop(): Promise<void>;
}

/** tsc's output of host.ts: the CLI bundle (dist/cli.cjs) and the library both run this one file. */
export function hostScript(): string {
  const js = join(packageRoot(), 'dist', 'dev', 'balenaos', 'host.js');
  if (!existsSync(js)) throw new Error(`the simulated device's host program ${js} is missing: run npm run build`);
  return js;
}

export interface PendingHost {
  /** Hand the host its options; resolves once the device is up (the host then runs on, detached). */
  start(o: BalenaOsDeviceOptions, timeoutMs?: number): Promise<HostedDevice>;
  /** `dev` failed before the device was needed: the host goes away. */
  cancel(): Promise<void>;
}

/**
 * Starts the host process now, before its options are known: it loads and warms up while OpenBao
 * starts (see host.ts). Options go over stdin, not argv or a file.
 */
export function spawnDeviceHost(deviceDir: string): PendingHost {
  mkdirSync(deviceDir, { recursive: true, mode: 0o700 });
  const hostLog = join(deviceDir, 'host.log');
  const fd = openSync(hostLog, 'a', 0o600);
  // detached: its own session, so the terminal's Ctrl-C and the launcher's exit do not reach it.
  const child = spawn(process.execPath, [hostScript(), deviceDir], { detached: true, stdio: ['pipe', 'pipe', fd] });
  closeSync(fd);
  const pid = child.pid!;
  child.stdin!.on('error', () => {}); // a host that died early: its exit says why
  let timer: NodeJS.Timeout | undefined;
  let fail: (e: Error) => void = () => {};
  const line = new Promise<string>((resolve, reject) => {
    let out = '';
    fail = reject;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once('exit', (code, signal) => {
      // After a cancel the 'exit' event can come once the dev dir is already gone (stopHost saw the
      // zombie as dead, the caller cleaned up): a missing log is no reason to throw from a listener.
      let tail = '';
      try { tail = readFileSync(hostLog, 'utf8').trim().split('\n').slice(-3).join(' | '); } catch { /* removed with the dev dir */ }
      reject(new Error(`the simulated device's host exited (${signal ?? `code ${code}`}) before it was up${tail ? `: ${tail}` : ''}; see ${hostLog}`));
    });
  }).finally(() => {
    clearTimeout(timer);
    child.stdout!.removeAllListeners('data');
    child.removeAllListeners('exit');
  });
  line.catch(() => {}); // awaited in start(); a host that dies before then must not crash `dev`
  return {
    start: async (o, timeoutMs = 30_000) => {
      timer = setTimeout(() => fail(new Error(`the simulated device did not start within ${timeoutMs / 1000} s; see ${hostLog}`)), timeoutMs);
      child.stdin!.end(JSON.stringify(o));
      const text = await line.catch(async (e: Error) => {
        await stopHost(pid, deviceDir);
        throw e;
      });
      child.stdout!.destroy();
      child.unref();
      const r = JSON.parse(text) as HostReady | HostFailed;
      if (!r.ok) {
        await stopHost(pid, deviceDir);
        if (r.usage) throw new UsageError(r.message, { hint: r.hint });
        throw new Error(`cannot start the simulated device: ${r.message}`);
      }
      const { ok: _ok, ...ready } = r;
      return { ...ready, host: o.host, pid, stop: () => stopHost(pid, deviceDir) };
    },
    cancel: async () => {
      child.stdin!.end();
      child.stdout!.destroy();
      child.unref();
      await stopHost(pid, deviceDir);
    },
  };
}

/** Spawn and start in one go (when there is nothing to overlap the host's start with). */
export function launchDeviceHost(o: BalenaOsDeviceOptions, timeoutMs?: number): Promise<HostedDevice> {
  return spawnDeviceHost(o.dir).start(o, timeoutMs);
}

/**
 * SIGTERM: the host stops its listener, supervisor and sessions. One that does not exit in 5 s is
 * killed, and then its supervisor (a session of its own, pid in the device dir) too.
 */
export async function stopHost(pid: number, deviceDir: string): Promise<void> {
  if (processIsOurs(pid, deviceDir)) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    if (processAlive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  // A host that was killed (SIGKILL, the OOM killer) could not end its sessions: `sshd -i`
  // processes in its session (its pid is their session id, which Linux does not hand out again
  // while they live), and what they run. Only once no process has that pid, so never a stranger's session.
  if (pid > 1 && !processAlive(pid)) {
    const sessions = sessionSshds(pid);
    for (const p of [...descendants(sessions), ...sessions]) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  }
  let supervisor = 0;
  try { supervisor = Number(readFileSync(join(deviceDir, 'supervisor.pid'), 'utf8').trim()); } catch { /* none running */ }
  if (supervisor > 1 && processIsOurs(supervisor, `FV_DEVICE_DIR=${deviceDir}`, 'environ')) {
    try { process.kill(-supervisor, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** sshd processes (sshd, sshd-session, sshd-auth) whose session id is `sid` (Linux /proc). */
function sessionSshds(sid: number): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try { entries = readdirSync('/proc'); } catch { return out; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp session …"
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]) !== sid) continue;
      if (/^sshd(-session|-auth)?$/.test(basename(readlinkSync(`/proc/${e}/exe`)))) out.push(Number(e));
    } catch { /* gone, or not ours to read */ }
  }
  return out;
}
