// A real, non-dev OpenBao whose state survives a restart — for fault tests that kill the server
// mid-run. The dev server (src/dev/openbao.ts) keeps everything in memory, so a "restarted" dev
// server is a different, empty server.
//
// Traps, learnt the hard way with OpenBao 2.7:
// - `storage "file"` is gone ("unknown storage type file") and `disable_mlock` is no longer a
//   field: integrated storage (raft) is the persistent backend, even for a single node.
// - A raft node needs a cluster_addr even alone; every node here gets its own API and cluster port.
// - Audit devices must be declared in the config file (OpenBao ≥ 2.4 refuses them through the API).
// - After SIGKILL a restarted node comes up sealed: unseal with the one key, then wait until it
//   is active (raft elects itself) before sending authenticated requests.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireVaultBinary } from '../../src/dev/find-binary.js';
import { freePort, waitForPort } from '../../src/dev/free-port.js';
import { VaultClient } from '../../src/vault/client.js';

export interface BaoNodeOptions {
  dir: string;
  nodeId: string;
  host?: string;
  /** Raft retry_join targets (API addresses of other nodes). */
  joinAddresses?: string[];
  /**
   * Audit log path. Trap: the declared audit device is stored in the replicated keyring, so every
   * node of a cluster must declare it identically — a follower with another file_path refuses to
   * become active ("modifications to audit devices are not allowed") and the cluster never elects.
   */
  auditLog?: string;
  /** Extra HCL (e.g. another listener). */
  extraConfig?: string;
}

export class BaoNode {
  readonly nodeId: string;
  readonly dir: string;
  readonly host: string;
  readonly auditLog: string;
  readonly serverLog: string;
  readonly configFile: string;
  address = '';
  clusterAddress = '';
  child?: ChildProcess;
  private readonly bin = requireVaultBinary();

  constructor(private readonly o: BaoNodeOptions) {
    this.nodeId = o.nodeId;
    this.dir = o.dir;
    this.host = o.host ?? '127.0.0.1';
    this.auditLog = o.auditLog ?? join(o.dir, 'audit.log');
    this.serverLog = join(o.dir, 'server.log');
    this.configFile = join(o.dir, 'server.hcl');
  }

  /** Pick ports and write the config. Ports stay fixed across restarts: peers know this node by them. */
  async configure(): Promise<void> {
    mkdirSync(join(this.dir, 'raft'), { recursive: true, mode: 0o700 });
    const api = await freePort(this.host);
    let cluster = await freePort(this.host);
    while (cluster === api) cluster = await freePort(this.host);
    this.address = `http://${this.host}:${api}`;
    this.clusterAddress = `http://${this.host}:${cluster}`;
    writeFileSync(this.configFile, [
      'storage "raft" {',
      `  path = ${JSON.stringify(join(this.dir, 'raft'))}`,
      `  node_id = ${JSON.stringify(this.nodeId)}`,
      // 1 = the fastest raft timings (Vault's default 5 is tuned for WANs): a dead leader is
      // replaced in about a second instead of several.
      '  performance_multiplier = 1',
      ...(this.o.joinAddresses ?? []).map((a) => `  retry_join {\n    leader_api_addr = ${JSON.stringify(a)}\n  }`),
      '}',
      'listener "tcp" {',
      `  address = "${this.host}:${api}"`,
      `  cluster_address = "${this.host}:${cluster}"`,
      '  tls_disable = true',
      '}',
      `api_addr = ${JSON.stringify(this.address)}`,
      `cluster_addr = ${JSON.stringify(this.clusterAddress)}`,
      'audit "file" "file" {',
      '  options {',
      `    file_path = ${JSON.stringify(this.auditLog)}`,
      '    mode = "0600"',
      '  }',
      '}',
      this.o.extraConfig ?? '',
    ].join('\n'), { mode: 0o600 });
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (!this.address) await this.configure();
    const logFd = openSync(this.serverLog, 'a', 0o600);
    const child = spawn(this.bin, ['server', `-config=${this.configFile}`], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BAO_LOG_LEVEL: 'info' },
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    this.child = child;
    const url = new URL(this.address);
    await waitForPort(url.hostname, Number(url.port), 20_000, () => this.running);
  }

  /** Kill the process (SIGKILL by default: a crash, nothing flushed, nothing handed over). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
      // A graceful stop that hangs (raft waiting for peers that are gone) becomes a kill.
      if (signal !== 'SIGKILL') setTimeout(() => c.kill('SIGKILL'), 5000).unref();
    });
  }

  client(token?: string, o: { retries?: number; timeoutMs?: number } = {}): VaultClient {
    return new VaultClient({ address: this.address, token, retries: o.retries ?? 0, timeoutMs: o.timeoutMs ?? 5000 });
  }
}

export interface InitResult { unsealKey: string; rootToken: string }

/** sys/init with one key share: test servers only (a real one splits the key among people). */
export async function initialize(node: BaoNode): Promise<InitResult> {
  const r = (await node.client(undefined, { timeoutMs: 60_000 }).write('sys/init', { secret_shares: 1, secret_threshold: 1 }, { anonymous: true })) as unknown as { keys_base64?: string[]; root_token?: string };
  if (!r.keys_base64?.[0] || !r.root_token) throw new Error(`sys/init on ${node.address} returned no key or token`);
  return { unsealKey: r.keys_base64[0], rootToken: r.root_token };
}

export async function unseal(node: BaoNode, key: string): Promise<void> {
  const c = node.client();
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = (await c.write('sys/unseal', { key }, { anonymous: true })) as unknown as { sealed?: boolean };
      if (r.sealed === false) return;
    } catch (e) {
      // A joining follower answers errors until its retry_join has fetched the keyring from the leader.
      if (Date.now() > deadline) throw new Error(`unseal of ${node.nodeId} (${node.address}) failed: ${(e as Error).message}; see ${node.serverLog}`);
    }
    if (Date.now() > deadline) throw new Error(`${node.nodeId} (${node.address}) still sealed; see ${node.serverLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Wait until this node is the active node and serves an authenticated read. */
export async function waitActive(node: BaoNode, token: string, timeoutMs = 60_000): Promise<void> {
  const c = node.client(token);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const h = await c.health();
      if (h.initialized && !h.sealed && !h.standby) {
        await c.read('sys/mounts');
        return;
      }
    } catch { /* electing itself */ }
    if (Date.now() > deadline) throw new Error(`${node.nodeId} (${node.address}) did not become active; see ${node.serverLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface PersistentOpenBao {
  node: BaoNode;
  address: string;
  rootToken: string;
  unsealKey: string;
  auditLog: string;
  /** Root client with retries off: fault tests want to see failures, not have them hidden. */
  root: VaultClient;
  /** Start again after a kill, unseal and wait until active. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** One raft node, initialised and unsealed; its state survives kill()/restart(). */
export async function startPersistentOpenBao(o: { dir: string }): Promise<PersistentOpenBao> {
  const node = new BaoNode({ dir: o.dir, nodeId: 'node1' });
  await node.start();
  try {
    const { unsealKey, rootToken } = await initialize(node);
    await unseal(node, unsealKey);
    await waitActive(node, rootToken);
    return {
      node, address: node.address, rootToken, unsealKey, auditLog: node.auditLog,
      root: new VaultClient({ address: node.address, token: rootToken }),
      async restart() {
        await node.kill();
        await node.start();
        await unseal(node, unsealKey);
        await waitActive(node, rootToken);
      },
      stop: () => node.kill('SIGTERM'),
    };
  } catch (e) {
    await node.kill();
    throw e;
  }
}
