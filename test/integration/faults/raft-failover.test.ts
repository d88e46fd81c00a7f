// A 3-node OpenBao raft cluster on loopback; the leader is SIGKILLed in the middle of a run of
// certificate signings. The client (VaultClient with `addresses`) finds the new active node and
// the run finishes with every signing done.
import { test, expect, slugFor, testLayout } from '../../support/context.js';
import { startRaftCluster } from '../../support/raft-cluster.js';
import { VaultClient } from '../../../src/vault/client.js';
import { bootstrapVault } from '../../../src/vault/bootstrap.js';
import { generateEd25519KeyPair } from '../../../src/ssh/keys.js';
import { signUserKey } from '../../../src/ssh/sign.js';
import { VaultError } from '../../../src/errors.js';

const SIGNINGS = 300;
const CONCURRENCY = 8;
const KILL_AFTER = 80;

test('leader killed mid-run: the client follows the new leader and every signing succeeds', async ({ tmp }) => {
  const cluster = await startRaftCluster({ dir: tmp });
  try {
    const leader = await cluster.leader();
    const layout = testLayout(slugFor('raft failover'));
    await bootstrapVault({ client: leader.client(cluster.rootToken, { timeoutMs: 30_000 }), layout, factoryCidrs: ['127.0.0.0/8'] });
    const client = new VaultClient({
      address: leader.address,
      addresses: cluster.nodes.filter((n) => n !== leader).map((n) => n.address),
      token: cluster.rootToken,
      retries: 5,
    });
    const pair = generateEd25519KeyPair('raft-failover');
    let next = 0;
    let done = 0;
    let killedAt = -1;
    /** Signings cut off mid-flight on the dying leader: outcome unknown, so the client did not repeat them. */
    const cutOff: string[] = [];
    const serials = new Set<string>();
    const worker = async () => {
      while (next < SIGNINGS) {
        next++;
        for (;;) {
          try {
            const s = await signUserKey({ client, mount: layout.sshMount, role: layout.sshRole, publicKey: pair.publicKey, principals: ['root'], ttlSeconds: 300 });
            serials.add(s.serial);
            break;
          } catch (e) {
            // A signing changes no server state, so the run (not the client, which cannot know
            // that about an arbitrary write) repeats one whose outcome is unknown.
            if (e instanceof VaultError && /may or may not have been applied/.test(e.message)) { cutOff.push(e.message); continue; }
            throw e;
          }
        }
        if (++done === KILL_AFTER) {
          killedAt = done;
          void leader.kill('SIGKILL');
        }
      }
    };
    const t0 = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = Date.now() - t0;

    expect(killedAt).toBe(KILL_AFTER);
    expect(leader.running).toBe(false);
    expect(done).toBe(SIGNINGS);
    expect(serials.size).toBe(SIGNINGS);
    // Only requests in flight at the moment of the kill can be cut off.
    expect(cutOff.length).toBeLessThanOrEqual(CONCURRENCY);
    const newLeader = await cluster.waitNewLeader(leader);
    expect(client.address).toBe(newLeader.address);
    console.log(`raft failover: ${SIGNINGS} signings in ${elapsed} ms, ${cutOff.length} cut off mid-flight and repeated, new leader ${newLeader.nodeId}`);
  } finally {
    await cluster.stop();
  }
}, 180_000);
