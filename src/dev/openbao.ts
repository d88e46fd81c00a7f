// A local OpenBao (or Vault) dev server: in-memory storage, unsealed, one root token, and a file
// audit device declared in a generated config file — OpenBao ≥ 2.4 refuses audit devices created
// through the API. Used by `fleetvault dev` and by the test harness's global setup.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeFileSync, closeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { requireVaultBinary } from './find-binary.js';
import { freePort } from './free-port.js';
import { VaultClient } from '../vault/client.js';

export interface DevServerOptions {
  /** Directory for config, audit log and server log (created 0700). */
  dir: string;
  host?: string;
  port?: number;
  bin?: string;
  /** Keep running after this process exits (fleetvault dev --detach). */
  detached?: boolean;
  /** Extra HCL appended to the generated config (tests: listeners with X-Forwarded-For trust). */
  extraConfig?: string;
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  rootToken: string;
  auditLog: string;
  serverLog: string;
  pid: number;
  version: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startDevServer(o: DevServerOptions): Promise<DevServer> {
  const bin = o.bin ?? requireVaultBinary();
  const host = o.host ?? '127.0.0.1';
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  chmodSync(o.dir, 0o700);
  const auditLog = join(o.dir, 'audit.log');
  const serverLog = join(o.dir, 'server.log');
  const configFile = join(o.dir, 'server.hcl');
  writeFileSync(configFile, [
    `audit "file" "file" {`,
    `  description = "fleetvault dev audit log"`,
    `  options {`,
    `    file_path = ${JSON.stringify(auditLog)}`,
    `    mode = "0600"`,
    `  }`,
    `}`,
    o.extraConfig ?? '',
  ].join('\n'), { mode: 0o600 });

  // The root token travels by environment, never argv (readable by everyone via /proc).
  // Custom token ids may not contain '.' (reserved for Vault's own hvs./s. prefixes).
  const rootToken = 'fvdev' + randomBytes(18).toString('hex');
  for (let attempt = 0; ; attempt++) {
    const port = o.port ?? (await freePort(host));
    // The dev server prints the root token in its log: the log is 0600 inside a 0700 dir.
    const logFd = openSync(serverLog, 'a', 0o600);
    const child = spawn(bin, ['server', '-dev', `-dev-listen-address=${host}:${port}`, `-config=${configFile}`], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BAO_DEV_ROOT_TOKEN_ID: rootToken, VAULT_DEV_ROOT_TOKEN_ID: rootToken, BAO_LOG_LEVEL: 'warn', VAULT_LOG_LEVEL: 'warn' },
      stdio: ['ignore', logFd, logFd],
      detached: o.detached ?? false,
    });
    closeSync(logFd);
    if (o.detached) child.unref();
    const address = `http://${host}:${port}`;
    const client = new VaultClient({ address, token: rootToken, retries: 0, timeoutMs: 2000 });
    const deadline = Date.now() + (o.startTimeoutMs ?? 20_000);
    let exited = false;
    child.once('exit', () => { exited = true; });
    let version = '';
    while (!exited && Date.now() < deadline) {
      try {
        const h = await client.health();
        if (h.initialized && !h.sealed) {
          // Unsealed is not enough: wait for the active node to answer authenticated requests.
          await client.read('sys/mounts');
          version = h.version;
          break;
        }
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!version) {
      child.kill('SIGKILL');
      if (exited && o.port === undefined && attempt < 3) continue; // port raced away: try another
      throw new Error(`OpenBao dev server did not become ready on ${address}; see ${serverLog}`);
    }
    const stop = () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
    return { address, rootToken, auditLog, serverLog, pid: child.pid!, version, child, stop };
  }
}
