// A real Toxiproxy server (built by scripts/install-toxiproxy.sh into .tools/bin) for the fleet
// lab: one TCP proxy per device, with latency and connection resets, because this kernel has no
// netem. Toxiproxy's model (toxics/latency.go, toxics/reset_peer.go, v2.5.0):
// - a `latency` toxic delays every chunk on its stream (upstream: client to device; downstream:
//   device to client) by `latency` ms from the chunk's arrival: one toxic per direction at half the
//   RTT gives the RTT, whatever the number of packets in flight;
// - `toxicity` is the chance that a toxic applies to a given connection (rolled once per connection
//   and stream), so a `reset_peer` toxic with toxicity 0.01 resets ~1 % of connections: it waits for
//   the first data, then `timeout` ms, then closes with a TCP RST (SO_LINGER 0).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from '../../src/dev/free-port.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function toxiproxyBinary(): string {
  const bin = process.env.FLEETVAULT_TOXIPROXY ?? join(process.env.FLEETVAULT_TOOLS_DIR ?? join(ROOT, '.tools'), 'bin', 'toxiproxy-server');
  // Never a silent skip: the lab without its links measures something else.
  if (!existsSync(bin)) throw new Error(`toxiproxy-server not found at ${bin}${process.env.CI === 'true' ? ' (CI=true: the fleet lab needs it)' : ''}. Run: bash scripts/install-toxiproxy.sh`);
  return bin;
}

export interface LinkShape {
  /** Round-trip time the link adds, ms (half each way). */
  rttMs: number;
  /** Percentage of connections reset (0-100). */
  resetPercent: number;
  /** When a reset connection is cut: ms after its first data (default 5 RTT: mid-handshake or mid-session). */
  resetAfterMs?: number;
}

export interface ProxySpec { name: string; listen: string; upstream: string }

export interface Toxiproxy {
  url: string;
  pid: number;
  /** Create proxies in batches (POST /populate); resolves when all listen. */
  addProxies(specs: ProxySpec[]): Promise<void>;
  /** Put the same link shape on every proxy, or on the named ones (replaces the toxics; new connections see it). */
  shapeAll(shape: LinkShape, only?: string[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startToxiproxy(o: { host?: string } = {}): Promise<Toxiproxy> {
  const host = o.host ?? '127.0.0.1';
  const port = await freePort(host);
  const child: ChildProcess = spawn(toxiproxyBinary(), ['-host', host, '-port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-4000); });
  await waitForPort(host, port, 10_000, () => child.exitCode === null).catch((e: Error) => {
    child.kill('SIGKILL');
    throw new Error(`toxiproxy-server did not start: ${e.message}\n${log}`);
  });
  const url = `http://${host}:${port}`;
  const names: string[] = [];
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!r.ok && !(method === 'DELETE' && r.status === 404)) throw new Error(`toxiproxy ${method} ${path}: ${r.status} ${await r.text()}`);
    return r.status === 204 ? undefined : r.json();
  };
  // A bounded number of API calls in flight: 1,000 proxies x 3 toxics is 3,000 requests.
  const each = async <T>(xs: T[], f: (x: T) => Promise<unknown>, width = 16) => {
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(width, xs.length) }, async () => { while (next < xs.length) await f(xs[next++]!); }));
  };
  return {
    url,
    pid: child.pid!,
    addProxies: async (specs) => {
      for (let i = 0; i < specs.length; i += 200) await api('POST', '/populate', specs.slice(i, i + 200).map((s) => ({ ...s, enabled: true })));
      names.push(...specs.map((s) => s.name));
    },
    shapeAll: async (shape, only) => {
      const half = Math.round(shape.rttMs / 2);
      await each(only ?? names, async (name) => {
        const existing = (await api('GET', `/proxies/${name}/toxics`)) as { name: string }[];
        for (const t of existing) await api('DELETE', `/proxies/${name}/toxics/${t.name}`);
        if (half > 0) {
          await api('POST', `/proxies/${name}/toxics`, { name: 'up', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: half, jitter: 0 } });
          await api('POST', `/proxies/${name}/toxics`, { name: 'down', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: half, jitter: 0 } });
        }
        if (shape.resetPercent > 0) {
          await api('POST', `/proxies/${name}/toxics`, {
            name: 'reset', type: 'reset_peer', stream: 'upstream', toxicity: shape.resetPercent / 100,
            attributes: { timeout: shape.resetAfterMs ?? 5 * Math.max(shape.rttMs, 20) },
          });
        }
      });
    },
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }),
  };
}
