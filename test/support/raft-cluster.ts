// A 3-node OpenBao cluster with integrated storage (raft) on loopback: node1 is initialised, the
// others retry_join it, all are unsealed with the one key, and the cluster is ready once all three
// are raft voters (so losing any one node keeps a quorum of two).
//
// Trap: autopilot adds joining nodes as non-voters and promotes them only after
// server_stabilization_time (10 s by default); killing the leader before that leaves no quorum.
// We shorten it and wait for three voters explicitly.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BaoNode, initialize, unseal, waitActive } from './persistent-openbao.js';

export interface RaftCluster {
  nodes: BaoNode[];
  rootToken: string;
  unsealKey: string;
  /** The node that is active now (asks each live node's sys/leader). */
  leader(): Promise<BaoNode>;
  /** Wait until a live node other than `not` is active; returns it. */
  waitNewLeader(not: BaoNode, timeoutMs?: number): Promise<BaoNode>;
  stop(): Promise<void>;
}

interface RaftConfig { config?: { servers?: { node_id: string; voter: boolean; leader: boolean }[] } }

export async function startRaftCluster(o: { dir: string; size?: number }): Promise<RaftCluster> {
  const size = o.size ?? 3;
  const nodes: BaoNode[] = [];
  for (let i = 1; i <= size; i++) {
    const dir = join(o.dir, `node${i}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const node = new BaoNode({ dir, nodeId: `node${i}`, joinAddresses: i === 1 ? [] : [nodes[0]!.address], auditLog: join(o.dir, 'audit.log') });
    await node.configure();
    nodes.push(node);
  }
  const stop = async () => { await Promise.all(nodes.map((n) => n.kill('SIGTERM'))); };
  try {
    await nodes[0]!.start();
    const { unsealKey, rootToken } = await initialize(nodes[0]!);
    await unseal(nodes[0]!, unsealKey);
    await waitActive(nodes[0]!, rootToken);
    const root = nodes[0]!.client(rootToken);
    await root.write('sys/storage/raft/autopilot/configuration', { server_stabilization_time: '1s', cleanup_dead_servers: false });
    for (const n of nodes.slice(1)) {
      await n.start();
      await unseal(n, unsealKey);
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      const servers = (await root.read('sys/storage/raft/configuration') as unknown as { data: RaftConfig }).data.config?.servers ?? [];
      if (servers.length === size && servers.every((s) => s.voter)) break;
      if (Date.now() > deadline) throw new Error(`raft peers not all voters: ${JSON.stringify(servers)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const isActive = async (n: BaoNode) => {
      if (!n.running) return false;
      try {
        const h = await n.client().health();
        return h.initialized && !h.sealed && !h.standby;
      } catch { return false; }
    };
    return {
      nodes, rootToken, unsealKey, stop,
      async leader() {
        for (const n of nodes) if (await isActive(n)) return n;
        throw new Error('no active node');
      },
      async waitNewLeader(not, timeoutMs = 30_000) {
        const end = Date.now() + timeoutMs;
        for (;;) {
          for (const n of nodes) if (n !== not && (await isActive(n))) return n;
          if (Date.now() > end) throw new Error('no new leader elected');
          await new Promise((r) => setTimeout(r, 100));
        }
      },
    };
  } catch (e) {
    await Promise.all(nodes.map((n) => n.kill()));
    throw e;
  }
}

