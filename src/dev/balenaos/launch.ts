// Starts the simulated balenaOS device in a process of its own (host.ts), detached, so it keeps
// running after `fleetvault dev --detach` exits; `fleetvault dev stop` stops it by its pid.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { packageRoot } from '../../package-root.js';
import { processAlive } from '../state.js';
import type { BalenaOsDeviceOptions } from './device.js';
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

export async function launchDeviceHost(o: BalenaOsDeviceOptions, timeoutMs = 30_000): Promise<HostedDevice> {
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const optionsFile = join(o.dir, 'host.json');
  writeFileSync(optionsFile, JSON.stringify(o), { mode: 0o600 });
  const hostLog = join(o.dir, 'host.log');
  const fd = openSync(hostLog, 'a', 0o600);
  // detached: its own session, so the terminal's Ctrl-C and the launcher's exit do not reach it.
  const child = spawn(process.execPath, [hostScript(), optionsFile], { detached: true, stdio: ['ignore', 'pipe', fd] });
  closeSync(fd);
  const pid = child.pid!;
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => done(new Error(`the simulated device did not start within ${timeoutMs / 1000} s; see ${hostLog}`)), timeoutMs);
    const done = (e: Error | undefined, l?: string) => {
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      child.removeAllListeners('exit');
      if (e) reject(e); else resolve(l!);
    };
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl >= 0) done(undefined, out.slice(0, nl));
    });
    child.once('exit', (code, signal) => {
      const tail = readFileSync(hostLog, 'utf8').trim().split('\n').slice(-3).join(' | ');
      done(new Error(`the simulated device's host exited (${signal ?? `code ${code}`}) before it was up${tail ? `: ${tail}` : ''}; see ${hostLog}`));
    });
  }).catch(async (e: Error) => {
    await stopHost(pid, o.dir);
    throw e;
  });
  child.stdout!.destroy();
  child.unref();
  const r = JSON.parse(line) as HostReady | HostFailed;
  if (!r.ok) {
    await stopHost(pid, o.dir);
    if (r.usage) throw new UsageError(r.message, { hint: r.hint });
    throw new Error(`cannot start the simulated device: ${r.message}`);
  }
  const { ok: _ok, ...ready } = r;
  return { ...ready, host: o.host, pid, stop: () => stopHost(pid, o.dir) };
}

/**
 * SIGTERM: the host stops its listener, supervisor and sessions. One that does not exit in 5 s is
 * killed, and then its supervisor (a session of its own, pid in the device dir) too.
 */
export async function stopHost(pid: number, deviceDir: string): Promise<void> {
  if (processAlive(pid)) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    if (processAlive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  let supervisor = 0;
  try { supervisor = Number(readFileSync(join(deviceDir, 'supervisor.pid'), 'utf8').trim()); } catch { /* none running */ }
  if (supervisor > 1 && processAlive(supervisor)) {
    try { process.kill(-supervisor, 'SIGKILL'); } catch { /* gone */ }
  }
}
