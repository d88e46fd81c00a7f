// `fleetvault dev`: a local OpenBao bootstrapped exactly like `fleetvault init` / terraform do,
// optionally with a simulated device that trusts its CA. Returns data; the command prints it.
// The device is the faithful balenaOS one by default (src/dev/balenaos/: supervisor, systemctl,
// fatrw, os-sshkeys, socket-activated sshd, any login name → root), run by a process of its own
// so that it outlives `dev --detach`; `device: 'plain'` is one sshd trusting config.json directly.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LAYOUT, type LayoutSettings } from '../config.js';
import { UsageError } from '../errors.js';
import { VaultClient } from '../vault/client.js';
import { bootstrapVault } from '../vault/bootstrap.js';
import { getCaPublicKey } from '../ca/public-key.js';
import { authorizedKeyLine } from '../ca/authorized-key.js';
import { startDevServer, type DevServer } from './openbao.js';
import { startDevice, defaultDeviceConfig } from './device.js';
import { spawnDeviceHost, stopHost, type PendingHost } from './balenaos/launch.js';
import { probeDeviceLogin } from './login-probe.js';
import { clearDevState, devStateDir, lockDevStart, processAlive, processIsOurs, readDevState, writeDevState } from './state.js';
import { preferPort } from './free-port.js';

export interface EmbeddedOptions {
  port?: number;
  detach?: boolean;
  withDevice?: boolean;
  /** Which simulated device (default balenaos). */
  device?: DeviceKind;
  /** Seconds between the balenaOS device's supervisor write-backs of config.json (default 5; 0: never). */
  supervisorIntervalSeconds?: number;
  dir?: string;
  layout?: LayoutSettings;
  /**
   * SIGINT/SIGTERM while starting (Ctrl-C): stop what started, then exit (the CLI). The device's
   * host and a detached OpenBao run in sessions of their own, out of the terminal's reach, and
   * state.json for `dev stop` is written only once everything is up.
   */
  exitOnSignal?: boolean;
}

export type DeviceKind = 'balenaos' | 'plain';

/** What stops the device and which process `fleetvault dev stop` signals for it. */
interface DeviceHandle {
  host: string; port: number; configPath: string; knownHostsLine: string; user: string; log: string;
  anyUser: boolean; anyUserMissing?: string; pid: number;
  stop(): Promise<void>;
}

export interface EmbeddedDefault {
  address: string;
  rootToken: string;
  version: string;
  auditLog: string;
  caLine: string;
  caFingerprint: string;
  changes: number;
  dir: string;
  device?: {
    name: string; host: string; port: number; configPath: string; knownHostsFile: string; sshCommand: string;
    /** The account the device logs in: root, or the invoking user when fleetvault dev is not run as root. */
    user: string;
    /** The device's sshd log: where a refused login is explained. */
    log: string;
    kind: DeviceKind;
    /** Every login name is root (balenaOS' libnss-ato); false: only `user` logs in. */
    anyUser: boolean;
    /** Why not every login name is root, when it is not (one line). */
    anyUserMissing?: string;
  };
  server: DevServer;
  stop(): Promise<void>;
}

/** What has started so far, for a signal during the start. */
interface Started { pending?: PendingHost; server?: DevServer; device?: DeviceHandle }

export async function startEmbedded(o: EmbeddedOptions = {}): Promise<EmbeddedDefault> {
  if (!o.exitOnSignal) return startEmbeddedTracked(o, {});
  const started: Started = {};
  const dir = o.dir ?? devStateDir();
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      try {
        if (started.device) await started.device.stop(); else await started.pending?.cancel();
        await started.server?.stop();
        if (started.pending || started.server) clearDevState(dir);
      } finally {
        process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGHUP' ? 129 : 143);
      }
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  try {
    return await startEmbeddedTracked(o, started);
  } finally {
    if (!stopping) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
    }
  }
}

async function startEmbeddedTracked(o: EmbeddedOptions, started: Started): Promise<EmbeddedDefault> {
  const release = lockDevStart(o.dir ?? devStateDir());
  try {
    return await startLocked(o, started);
  } finally {
    release();
  }
}

async function startLocked(o: EmbeddedOptions, started: Started): Promise<EmbeddedDefault> {
  const dir = o.dir ?? devStateDir();
  const previous = readDevState(dir);
  if (previous && processIsOurs(previous.serverPid, join(dir, 'server.hcl'))) {
    throw new UsageError(`a fleetvault dev server is already running at ${previous.address} (pid ${previous.serverPid})`, {
      hint: 'stop it with fleetvault dev stop',
    });
  }
  // The last dev server died (SIGKILL, OOM) and left its device running: stop that (the device dir
  // goes next, and with it the device's supervisor pid), so nothing runs out of dev stop's reach.
  if (previous) await stopHost(previous.devicePid ?? 0, join(dir, 'device'));
  clearDevState(dir, ['starting.pid']);
  const layout = o.layout ?? DEFAULT_LAYOUT;
  const kind = o.device ?? 'balenaos';
  // The balenaOS device's process starts now and gets ready while OpenBao starts (it needs the CA line later).
  const pending = started.pending = o.withDevice && kind === 'balenaos' ? spawnDeviceHost(join(dir, 'device')) : undefined;
  let server: DevServer;
  try {
    server = started.server = await startDevServer({ dir, port: o.port, detached: o.detach });
  } catch (e) {
    // The server's own files stay (its log says why); the device's go with its process.
    await pending?.cancel();
    rmSync(join(dir, 'device'), { recursive: true, force: true });
    throw e;
  }
  let deviceHandle: DeviceHandle | undefined;
  try {
    const client = new VaultClient({ address: server.address, token: server.rootToken });
    const { changes } = await bootstrapVault({ client, layout, factoryCidrs: ['127.0.0.0/8'] });
    const ca = await getCaPublicKey({ client, mount: layout.sshMount });
    const caLine = authorizedKeyLine({ publicKey: ca.publicKey, fingerprint: ca.fingerprint, mount: layout.sshMount, principals: ['root'] });
    let device: EmbeddedDefault['device'];
    if (o.withDevice) {
      const name = 'dev-device';
      // 22222 is balenaOS's SSH port; take it when free so the printed command looks like the real one.
      // The balenaOS device binds it or falls back in one step (two `dev` at once both saw it free).
      const config = defaultDeviceConfig(name);
      (config.os as { sshKeys: string[] }).sshKeys = [caLine];
      deviceHandle = started.device = !pending
        ? await startPlain(join(dir, 'device'), name, await preferPort('127.0.0.1', 22222), config, !!o.detach)
        : await pending.start({
          dir: join(dir, 'device'), shimDir: dir, name, host: '127.0.0.1', preferredPort: 22222, config, configMode: 0o600, nssAto: 'auto',
          supervisorIntervalSeconds: o.supervisorIntervalSeconds ?? 5,
        });
      const knownHostsFile = join(dir, 'known_hosts');
      writeFileSync(knownHostsFile, deviceHandle.knownHostsLine + '\n', { mode: 0o600 });
      // Unprivileged, the device can only log in its own user: the root-principal certificate
      // still decides (the CA line says principals="root"), ssh just names that account.
      const asUser = deviceHandle.user === 'root' ? '' : ` -o User=${deviceHandle.user}`;
      device = {
        name, host: deviceHandle.host, port: deviceHandle.port, configPath: deviceHandle.configPath, knownHostsFile,
        sshCommand: `fleetvault ssh ${name} --host ${deviceHandle.host} --port ${deviceHandle.port} --user-known-hosts-file ${knownHostsFile}${asUser}`,
        user: deviceHandle.user, log: deviceHandle.log, kind, anyUser: deviceHandle.anyUser, anyUserMissing: deviceHandle.anyUserMissing,
      };
      // Success means a login works, not that sshd listens.
      await probeDeviceLogin({
        client, mount: layout.sshMount, role: layout.sshRole, host: device.host, port: device.port,
        loginUser: device.user, knownHostsFile, deviceLog: device.log,
      });
    }
    writeDevState(dir, {
      address: server.address, rootToken: server.rootToken, serverPid: server.pid, devicePid: deviceHandle?.pid,
      device: device && { host: device.host, port: device.port, log: device.log, user: device.user },
      auditLog: server.auditLog, dir, startedAt: new Date().toISOString(),
    });
    const stop = async () => {
      await deviceHandle?.stop();
      await server.stop();
      clearDevState(dir);
    };
    return {
      address: server.address, rootToken: server.rootToken, version: server.version, auditLog: server.auditLog,
      caLine, caFingerprint: ca.fingerprint, changes: changes.length, dir, device, server, stop,
    };
  } catch (e) {
    // Nothing half-started stays behind: the caller sees the error and no running processes.
    if (deviceHandle) await deviceHandle.stop(); else await pending?.cancel();
    await server.stop();
    clearDevState(dir, ['starting.pid']);
    throw e;
  }
}

/** The plain device: one `sshd -D` child whose AuthorizedKeysCommand prints os.sshKeys. */
async function startPlain(dir: string, name: string, port: number, config: Record<string, unknown>, detach: boolean): Promise<DeviceHandle> {
  const d = await startDevice({ dir, name, host: '127.0.0.1', port, config });
  if (detach) d.child.unref();
  return {
    host: d.host, port: d.port, configPath: d.configPath, knownHostsLine: d.knownHostsLine, user: d.user, log: d.log,
    anyUser: false, anyUserMissing: 'the plain device', pid: d.child.pid!, stop: () => d.stop(),
  };
}

/** `fleetvault dev stop`: stop what a detached `fleetvault dev` started. */
export async function stopEmbedded(o: { dir?: string } = {}): Promise<{ stopped: number[]; address?: string }> {
  const dir = o.dir ?? devStateDir();
  const state = readDevState(dir);
  if (!state) throw new UsageError('no fleetvault dev server is recorded as running', { hint: 'start one with fleetvault dev --detach' });
  const stopped: number[] = [];
  // The device first (its host stops the listener, supervisor and sessions), then the server.
  // Only processes that are still the ones it started: a recorded pid may now be anybody's.
  const deviceDir = join(dir, 'device');
  if (state.devicePid && processIsOurs(state.devicePid, deviceDir)) stopped.push(state.devicePid);
  await stopHost(state.devicePid ?? 0, deviceDir);
  const pid = state.serverPid;
  if (pid && processIsOurs(pid, join(dir, 'server.hcl'))) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    stopped.push(pid);
  }
  clearDevState(dir);
  return { stopped, address: state.address };
}
