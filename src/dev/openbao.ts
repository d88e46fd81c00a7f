// A local OpenBao (or Vault) dev server: in-memory storage, unsealed, one root token, and a file
// audit device declared in a generated config file — OpenBao ≥ 2.4 refuses audit devices created
// through the API. Used by `fleetvault dev` and by the test harness's global setup.
// HashiCorp Vault has no declarative audit stanza, so against a Vault binary the same file audit
// device is enabled through the API instead (see serverFlavour below).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeFileSync, closeSync, chmodSync, readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
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
  /** Which server this is: decides how the audit device was enabled; tests report it. */
  flavour: ServerFlavour;
  child: ChildProcess;
  stop(): Promise<void>;
}

export type ServerFlavour = 'openbao' | 'vault';

/**
 * `<bin> version` prints "OpenBao v2.7.2 (…)" or "Vault v1.14.2". The binary's name says
 * nothing (packagers install OpenBao as `vault` too), and the health endpoint's version number
 * is ambiguous (both projects have had 1.x and 2.x), so ask the binary itself.
 */
export function serverFlavour(bin: string): ServerFlavour {
  const out = execFileSync(bin, ['version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  if (/^OpenBao v/m.test(out)) return 'openbao';
  if (/^Vault v/m.test(out)) return 'vault';
  throw new Error(`${bin} is neither OpenBao nor HashiCorp Vault ('${bin} version' printed ${JSON.stringify(out.trim().slice(0, 80))})`);
}

const noStoreTokenSupport = new Map<string, boolean>();
/** OpenBao 2.x and Vault ≥ 1.13 have -dev-no-store-token; ask the binary's help, once per binary. */
export function supportsNoStoreToken(bin: string): boolean {
  let known = noStoreTokenSupport.get(bin);
  if (known === undefined) {
    const r = spawnSync(bin, ['server', '-h'], { encoding: 'utf8', timeout: 10_000 });
    known = /-dev-no-store-token\b/.test(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    noStoreTokenSupport.set(bin, known);
  }
  return known;
}

export async function startDevServer(o: DevServerOptions): Promise<DevServer> {
  const bin = o.bin ?? requireVaultBinary();
  const flavour = serverFlavour(bin);
  const host = o.host ?? '127.0.0.1';
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  chmodSync(o.dir, 0o700);
  const auditLog = join(o.dir, 'audit.log');
  const serverLog = join(o.dir, 'server.log');
  const configFile = join(o.dir, 'server.hcl');
  // Vault ignores an `audit` stanza (only a WARN "unknown or unsupported field audit"), which
  // would leave it with no audit device at all; it gets the same device via the API once ready
  // (below). The OpenBao config stays exactly as it always was.
  writeFileSync(configFile, flavour === 'vault' ? (o.extraConfig ?? '') : [
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
    // A dev server writes its root token to $HOME/.vault-token, clobbering the user's own login:
    // -dev-no-store-token where the binary has it, else a HOME of its own (its token helper's dir).
    const noStore = supportsNoStoreToken(bin);
    const child = spawn(bin, ['server', '-dev', `-dev-listen-address=${host}:${port}`, `-config=${configFile}`, ...(noStore ? ['-dev-no-store-token'] : [])], {
      env: { PATH: process.env.PATH ?? '', HOME: noStore ? (process.env.HOME ?? '') : o.dir, BAO_DEV_ROOT_TOKEN_ID: rootToken, VAULT_DEV_ROOT_TOKEN_ID: rootToken, BAO_LOG_LEVEL: 'warn', VAULT_LOG_LEVEL: 'warn' },
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
      // A port the user chose and something else holds: their mistake to fix, not a bug to report.
      if (exited && o.port !== undefined && /address already in use/.test(readTail(serverLog))) {
        throw new UsageError(`port ${port} on ${host} is in use: the dev server cannot listen there`, {
          hint: 'choose another --port, or leave it out for a free one',
        });
      }
      throw new Error(`${flavour === 'vault' ? 'Vault' : 'OpenBao'} dev server did not become ready on ${address}; see ${serverLog}`);
    }
    if (flavour === 'vault') {
      // Before anything else touches the server, so the audit log is as complete as OpenBao's.
      // Same name ("file"), path, mode and description as the OpenBao stanza.
      try {
        await client.write('sys/audit/file', {
          type: 'file', description: 'fleetvault dev audit log', options: { file_path: auditLog, mode: '0600' },
        });
      } catch (e) {
        child.kill('SIGKILL');
        throw new Error(`Vault dev server on ${address}: failed to enable the file audit device: ${(e as Error).message}`);
      }
    }
    const stop = () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      // A detached server was unref'd: without this, node exits before the exit event arrives.
      child.ref();
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
    return { address, rootToken, auditLog, serverLog, pid: child.pid!, version, flavour, child, stop };
  }
}

function readTail(file: string): string {
  try { return readFileSync(file, 'utf8').slice(-4096); } catch { return ''; }
}
