// The balenaOS-safe config.json read/write protocol, once, for rollout, rotate and status.
//   read   one authenticated connection (ssh ControlMaster, private socket dir), fatrw when the
//          device has it, output capped at the config limit + 1 byte
//   write  same connection: supervisor stopped (watchdog armed), hash re-checked under flock right
//          before the replace, content on stdin, fatrw write -m <mode> or new + sync + rename,
//          mode kept, temp files removed and the supervisor started again on every path
//   verify a fresh login (never the master) that reads config.json back: the certificate works
//          and the line survived the supervisor's restart
import { mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceTarget } from '../ca/devices-file.js';
import { MAX_CONFIG_BYTES, parseConfigJson, serializeConfig } from '../ca/config-json.js';
import { describeSshFailure, sha256, sshExec, type ExecOptions, type ExecResult, type SshAccess } from './remote-config.js';
import { holdScript, readScript, releaseScript, writeScript } from './config-scripts.js';

/** A private 0700 directory for control sockets, short enough for sun_path (108 bytes). */
export class ControlSockets {
  readonly dir: string;
  private n = 0;
  constructor() {
    const base = tmpdir().length <= 60 ? tmpdir() : '/tmp';
    this.dir = mkdtempSync(join(base, 'fvc-')); // mkdtemp creates it 0700
  }
  next(): string { return join(this.dir, String(++this.n)); }
  /**
   * Close masters still open (an interrupted run) before removing their sockets: a master left
   * alone keeps a device's write session open until ControlPersist ends, and with it the supervisor
   * stopped; closed, the device-side script sees EOF at once and its trap starts the supervisor.
   */
  dispose(): void {
    let left: string[] = [];
    try { left = readdirSync(this.dir); } catch { /* already gone */ }
    for (const s of left) spawnSync('ssh', ['-o', `ControlPath=${join(this.dir, s)}`, '-O', 'exit', 'fleetvault'], { stdio: 'ignore', timeout: 2000 });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface DeviceConnection {
  run(command: string, stdin?: Buffer, o?: Omit<ExecOptions, 'controlPath'>): Promise<ExecResult>;
  close(): Promise<void>;
}

/** One device's connection: multiplexed over a master when sockets are given, else one login per run. */
export function connectDevice(t: DeviceTarget, access: SshAccess, sockets?: ControlSockets): DeviceConnection {
  const controlPath = sockets?.next();
  return {
    run: async (command, stdin, o = {}) => {
      const r = await sshExec(t, access, command, stdin, { ...o, controlPath });
      // Under ControlPersist ssh sends a ProxyCommand's stderr to /dev/null, and with it the tunnel's
      // one-line reason. No master was made, so nothing ran on the device: ask once more without one.
      if (r.code === 255 && t.proxyCommand && controlPath && !existsSync(controlPath)) return sshExec(t, access, command, stdin, o);
      return r;
    },
    close: () => new Promise<void>((resolve) => {
      if (!controlPath || !existsSync(controlPath)) return resolve();
      const c = spawn('ssh', ['-o', `ControlPath=${controlPath}`, '-O', 'exit', '--', t.host], { stdio: 'ignore' });
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      c.on('error', () => { clearTimeout(timer); resolve(); });
      c.on('close', () => { clearTimeout(timer); resolve(); });
    }),
  };
}

export type Outcome<T> = ({ ok: true } & T) | { ok: false; reason: string; code?: number };

export async function readDeviceConfig(conn: DeviceConnection, t: DeviceTarget): Promise<Outcome<{ bytes: Buffer }>> {
  const r = await conn.run(readScript(t.configPath), undefined, { maxStdoutBytes: MAX_CONFIG_BYTES + 1, timeoutMs: 60_000 });
  if (r.overflow) return { ok: false, reason: `${t.configPath} on the device is larger than ${MAX_CONFIG_BYTES} bytes (connection cut)` };
  if (r.code !== 0) return { ok: false, code: r.code, reason: r.code === 89 ? `no config.json at ${t.configPath}` : describeSshFailure(r) };
  return { ok: true, bytes: r.stdout };
}

export interface Hold { token: string; bytes: Buffer }

/**
 * Stop the supervisor (watchdog armed first) and read config.json as it left it. The supervisor
 * stays stopped until writeDeviceConfig or releaseHold — or the watchdog, after leaseSeconds.
 */
export async function holdDeviceConfig(conn: DeviceConnection, t: DeviceTarget, o: { leaseSeconds?: number; owner?: string } = {}): Promise<Outcome<Hold>> {
  const token = randomBytes(8).toString('hex');
  const r = await conn.run(holdScript({ path: t.configPath, token, leaseSeconds: o.leaseSeconds ?? 120, owner: o.owner }), undefined, { maxStdoutBytes: MAX_CONFIG_BYTES + 1, timeoutMs: 60_000 });
  if (r.overflow) {
    await releaseHold(conn, t, token);
    return { ok: false, reason: `${t.configPath} on the device is larger than ${MAX_CONFIG_BYTES} bytes (connection cut)` };
  }
  if (r.code !== 0) return { ok: false, code: r.code, reason: r.code === 89 ? `no config.json at ${t.configPath}` : describeSshFailure(r) };
  return { ok: true, token, bytes: r.stdout };
}

export async function releaseHold(conn: DeviceConnection, t: DeviceTarget, token: string): Promise<Outcome<object>> {
  const r = await conn.run(releaseScript({ path: t.configPath, token }), undefined, { timeoutMs: 60_000 });
  return r.code === 0 ? { ok: true } : { ok: false, code: r.code, reason: describeSshFailure(r) };
}

/** Write next over the held config.json (whose bytes were hold.bytes); starts the supervisor again. */
export async function writeDeviceConfig(conn: DeviceConnection, t: DeviceTarget, o: { hold: Hold; next: Buffer; backup: boolean; onSpawn?: (pid: number) => void }): Promise<Outcome<object>> {
  const script = writeScript({ path: t.configPath, newSha: sha256(o.next), expectSha: sha256(o.hold.bytes), backup: o.backup, token: o.hold.token });
  const r = await conn.run(script, o.next, { maxStdoutBytes: 4096, timeoutMs: 180_000, onSpawn: o.onSpawn });
  return r.code === 0 ? { ok: true } : { ok: false, code: r.code, reason: describeSshFailure(r) };
}

/**
 * The whole edit on one device: read (no supervisor touched), and only when the edit changes
 * something: hold, edit what the hold read, write (or release when nothing is left to change).
 */
export async function editDeviceConfig(conn: DeviceConnection, t: DeviceTarget, o: {
  edit: (bytes: Buffer) => { changed: boolean; text: string };
  dryRun?: boolean; backup: boolean; leaseSeconds?: number; onWriteSpawn?: (pid: number) => void; beforeWrite?: () => string | undefined;
  /** Who the hold is for (see holdScript): a run's own leftover hold is taken over. */
  holdOwner?: string;
}): Promise<Outcome<{ original: Buffer; written?: Buffer }>> {
  const read = await readDeviceConfig(conn, t);
  if (!read.ok) return read;
  let edited;
  try { edited = o.edit(read.bytes); } catch (e) { return { ok: false, reason: (e as Error).message }; }
  if (!edited.changed || o.dryRun) return { ok: true, original: read.bytes, written: edited.changed ? Buffer.from(edited.text) : undefined };
  const refuse = o.beforeWrite?.();
  if (refuse) return { ok: false, reason: refuse };
  const hold = await holdDeviceConfig(conn, t, { leaseSeconds: o.leaseSeconds, owner: o.holdOwner });
  if (!hold.ok) return { ok: false, code: hold.code, reason: `write failed: ${hold.reason}` };
  try { edited = o.edit(hold.bytes); } catch (e) {
    await releaseHold(conn, t, hold.token);
    return { ok: false, reason: (e as Error).message };
  }
  if (!edited.changed) {
    const rel = await releaseHold(conn, t, hold.token);
    return rel.ok ? { ok: true, original: hold.bytes } : { ok: false, code: rel.code, reason: `releasing the supervisor failed: ${rel.reason}` };
  }
  const next = Buffer.from(edited.text);
  const w = await writeDeviceConfig(conn, t, { hold, next, backup: o.backup, onSpawn: o.onWriteSpawn });
  if (!w.ok) return { ok: false, code: w.code, reason: `write failed: ${w.reason}` };
  return { ok: true, original: hold.bytes, written: next };
}

/**
 * Put back the original os.sshKeys, keeping whatever else changed since (the supervisor rewrites
 * config.json with its own keys: restoring the original bytes would throw its changes away).
 */
export function restoreSshKeys(current: Buffer, original: Buffer, source: string): Buffer {
  const cur = parseConfigJson(current, source);
  const orig = parseConfigJson(original, source);
  const origOs = orig.config.os as Record<string, unknown> | undefined;
  const config = cur.config;
  const os = { ...((config.os ?? {}) as Record<string, unknown>) };
  if (origOs && 'sshKeys' in origOs) os.sshKeys = origOs.sshKeys;
  else delete os.sshKeys;
  if (!origOs && Object.keys(os).length === 0) delete config.os;
  else config.os = os;
  return Buffer.from(serializeConfig({ ...cur, config }));
}

export interface ExpectedKeys { present?: string; absentFingerprints?: string[] }

/** Does this config.json (read back after the write) still hold what we wrote? */
export function holdsExpectedKeys(bytes: Buffer, expect: ExpectedKeys, source: string, fingerprintOf: (line: string) => string | undefined): string | undefined {
  let keys: string[];
  try { keys = parseConfigJson(bytes, source).sshKeys; } catch (e) { return (e as Error).message; }
  if (expect.present && !keys.includes(expect.present)) return 'the CA line is gone from config.json again (something wrote an older copy back)';
  // The expected line itself may share a removed fingerprint (a migration drops the CA's other lines).
  const stale = keys.filter((k) => k !== expect.present && expect.absentFingerprints?.includes(fingerprintOf(k) ?? ''));
  if (stale.length) return 'a removed CA line is back in config.json (something wrote an older copy back)';
  return undefined;
}
