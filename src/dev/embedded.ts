// `fleetvault dev`: a local OpenBao bootstrapped exactly like `fleetvault init` / terraform do,
// optionally with a simulated device that trusts its CA. Returns data; the command prints it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LAYOUT, type LayoutSettings } from '../config.js';
import { UsageError } from '../errors.js';
import { VaultClient } from '../vault/client.js';
import { bootstrapVault } from '../vault/bootstrap.js';
import { getCaPublicKey } from '../ca/public-key.js';
import { authorizedKeyLine } from '../ca/authorized-key.js';
import { startDevServer, type DevServer } from './openbao.js';
import { startDevice, defaultDeviceConfig, type Device } from './device.js';
import { probeDeviceLogin } from './login-probe.js';
import { clearDevState, devStateDir, processAlive, readDevState, writeDevState } from './state.js';
import { preferPort } from './free-port.js';

export interface EmbeddedOptions {
  port?: number;
  detach?: boolean;
  withDevice?: boolean;
  dir?: string;
  layout?: LayoutSettings;
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
  };
  server: DevServer;
  deviceHandle?: Device;
  stop(): Promise<void>;
}

export async function startEmbedded(o: EmbeddedOptions = {}): Promise<EmbeddedDefault> {
  const dir = o.dir ?? devStateDir();
  const previous = readDevState(dir);
  if (previous && processAlive(previous.serverPid)) {
    throw new UsageError(`a fleetvault dev server is already running at ${previous.address} (pid ${previous.serverPid})`, {
      hint: 'stop it with fleetvault dev stop',
    });
  }
  clearDevState(dir);
  const layout = o.layout ?? DEFAULT_LAYOUT;
  const server = await startDevServer({ dir, port: o.port, detached: o.detach });
  let deviceHandle: Device | undefined;
  try {
    const client = new VaultClient({ address: server.address, token: server.rootToken });
    const { changes } = await bootstrapVault({ client, layout, factoryCidrs: ['127.0.0.0/8'] });
    const ca = await getCaPublicKey({ client, mount: layout.sshMount });
    const caLine = authorizedKeyLine({ publicKey: ca.publicKey, fingerprint: ca.fingerprint, mount: layout.sshMount, principals: ['root'] });
    let device: EmbeddedDefault['device'];
    if (o.withDevice) {
      const name = 'dev-device';
      // 22222 is balenaOS's SSH port; take it when free so the printed command looks like the real one.
      const port = await preferPort('127.0.0.1', 22222);
      const config = defaultDeviceConfig(name);
      (config.os as { sshKeys: string[] }).sshKeys = [caLine];
      deviceHandle = await startDevice({ dir: join(dir, 'device'), name, host: '127.0.0.1', port, config });
      if (o.detach) deviceHandle.child.unref();
      const knownHostsFile = join(dir, 'known_hosts');
      writeFileSync(knownHostsFile, deviceHandle.knownHostsLine + '\n', { mode: 0o600 });
      // Unprivileged, the device can only log in its own user: the root-principal certificate
      // still decides (the CA line says principals="root"), ssh just names that account.
      const asUser = deviceHandle.user === 'root' ? '' : ` -o User=${deviceHandle.user}`;
      device = {
        name, host: deviceHandle.host, port: deviceHandle.port, configPath: deviceHandle.configPath, knownHostsFile,
        sshCommand: `fleetvault ssh ${name} --host ${deviceHandle.host} --port ${deviceHandle.port} --user-known-hosts-file ${knownHostsFile}${asUser}`,
        user: deviceHandle.user, log: deviceHandle.log,
      };
      // Success means a login works, not that sshd listens.
      await probeDeviceLogin({
        client, mount: layout.sshMount, role: layout.sshRole, host: device.host, port: device.port,
        loginUser: device.user, knownHostsFile, deviceLog: device.log,
      });
    }
    writeDevState(dir, {
      address: server.address, rootToken: server.rootToken, serverPid: server.pid, devicePid: deviceHandle?.child.pid,
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
      caLine, caFingerprint: ca.fingerprint, changes: changes.length, dir, device, server, deviceHandle, stop,
    };
  } catch (e) {
    // Nothing half-started stays behind: the caller sees the error and no running processes.
    await deviceHandle?.stop();
    await server.stop();
    clearDevState(dir);
    throw e;
  }
}

/** `fleetvault dev stop`: stop what a detached `fleetvault dev` started. */
export async function stopEmbedded(o: { dir?: string } = {}): Promise<{ stopped: number[]; address?: string }> {
  const dir = o.dir ?? devStateDir();
  const state = readDevState(dir);
  if (!state) throw new UsageError('no fleetvault dev server is recorded as running', { hint: 'start one with fleetvault dev --detach' });
  const stopped: number[] = [];
  for (const pid of [state.devicePid, state.serverPid]) {
    if (!pid || !processAlive(pid)) continue;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    stopped.push(pid);
  }
  clearDevState(dir);
  return { stopped, address: state.address };
}
