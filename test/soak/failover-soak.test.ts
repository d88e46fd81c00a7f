// Soak: the fault tests of test/integration/faults, longer and repeated.
// 1. A raft cluster whose leader is SIGKILLed, restarted and rejoined ROUNDS times during a long
//    run of signings: every signing succeeds, the client always follows the active node.
// 2. A factory run of ENVELOPES envelopes with OpenBao SIGKILLed RESTARTS times: each re-run
//    resumes from the journal; the audit log shows one decrypt per envelope plus at most
//    concurrency per restart.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, slugFor, testLayout } from '../support/context.js';
import { startRaftCluster } from '../support/raft-cluster.js';
import { startPersistentOpenBao, unseal } from '../support/persistent-openbao.js';
import { auditHash, decryptsByCiphertext, pool } from '../support/faults.js';
import { VaultClient } from '../../src/vault/client.js';
import { bootstrapVault } from '../../src/vault/bootstrap.js';
import { appRoleLogin } from '../../src/vault/connect.js';
import { generateEd25519KeyPair } from '../../src/ssh/keys.js';
import { signUserKey } from '../../src/ssh/sign.js';
import { sealConfig } from '../../src/provision/seal.js';
import { formatEnvelope, type SealedEnvelope } from '../../src/provision/envelope.js';
import { createBatch, unwrapSecretId } from '../../src/provision/batch.js';
import { unsealBatch } from '../../src/provision/factory-run.js';
import { VaultError } from '../../src/errors.js';

const n = (name: string, dflt: number) => Number(process.env[name] ?? dflt);

test('soak: leader killed and rejoined repeatedly during a long signing run', async ({ tmp }) => {
  expect(process.env.FLEETVAULT_SOAK, 'run through npm run test:soak').toBe('1');
  const ROUNDS = n('SOAK_ROUNDS', 6);
  const SIGNINGS = n('SOAK_SIGNINGS', 6000);
  const CONCURRENCY = 8;
  const cluster = await startRaftCluster({ dir: tmp });
  try {
    const first = await cluster.leader();
    const layout = testLayout(slugFor('soak raft'));
    await bootstrapVault({ client: first.client(cluster.rootToken, { timeoutMs: 30_000 }), layout, factoryCidrs: ['127.0.0.0/8'] });
    const client = new VaultClient({ address: first.address, addresses: cluster.nodes.filter((x) => x !== first).map((x) => x.address), token: cluster.rootToken, retries: 5 });
    const pair = generateEd25519KeyPair('soak');
    let next = 0, done = 0, cutOff = 0, kills = 0, chaos = Promise.resolve();
    const every = Math.floor(SIGNINGS / (ROUNDS + 1));
    const worker = async () => {
      while (next < SIGNINGS) {
        next++;
        for (;;) {
          try { await signUserKey({ client, mount: layout.sshMount, role: layout.sshRole, publicKey: pair.publicKey, principals: ['root'], ttlSeconds: 300 }); break; }
          catch (e) { if (e instanceof VaultError && /may or may not have been applied/.test(e.message)) { cutOff++; continue; } throw e; }
        }
        if (++done % every === 0 && kills < ROUNDS) {
          kills++;
          // Kill the active node, then bring it back as a follower so the next round has a quorum.
          chaos = chaos.then(async () => {
            const l = await cluster.leader();
            await l.kill('SIGKILL');
            await cluster.waitNewLeader(l);
            await l.start();
            await unseal(l, cluster.unsealKey);
          });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await chaos;
    expect(done).toBe(SIGNINGS);
    expect(kills).toBe(ROUNDS);
    expect(cutOff).toBeLessThanOrEqual(CONCURRENCY * ROUNDS);
    console.log(`soak raft: ${SIGNINGS} signings, ${ROUNDS} leader kills, ${cutOff} cut off mid-flight and repeated`);
  } finally {
    await cluster.stop();
  }
});

test('soak: factory run with OpenBao killed several times', async ({ tmp }) => {
  expect(process.env.FLEETVAULT_SOAK, 'run through npm run test:soak').toBe('1');
  const ENVELOPES = n('SOAK_ENVELOPES', 3000);
  const RESTARTS = n('SOAK_RESTARTS', 4);
  const CONCURRENCY = 8;
  const bao = await startPersistentOpenBao({ dir: join(tmp, 'bao') });
  try {
    const layout = testLayout(slugFor('soak factory'));
    await bootstrapVault({ client: bao.root, layout, factoryCidrs: ['127.0.0.0/8'] });
    const sealedDir = join(tmp, 'sealed'), outDir = join(tmp, 'out');
    mkdirSync(sealedDir);
    const names = Array.from({ length: ENVELOPES }, (_, i) => `dev${String(i).padStart(5, '0')}`);
    const envelopes = new Map<string, SealedEnvelope>();
    await pool(names, 8, async (name) => {
      const env = await sealConfig({ client: bao.root, mount: layout.transitMount, key: layout.transitKey, fleet: 'acme/soak', plaintext: Buffer.from(JSON.stringify({ uuid: name })) });
      writeFileSync(join(sealedDir, `${name}.sealed.json`), formatEnvelope(env));
      envelopes.set(name, env);
    });
    const batch = await createBatch({ client: bao.root, mount: layout.approleMount, role: layout.approleRole, transitMount: layout.transitMount, transitKey: layout.transitKey, policyPrefix: layout.policyPrefix, fleets: ['acme/soak'], name: 'soak', count: ENVELOPES + CONCURRENCY * RESTARTS, cidrs: ['127.0.0.0/8'], ttlSeconds: 7200, wrapTtl: '10m' });
    const { secretId } = await unwrapSecretId({ client: bao.root, wrappingToken: batch.wrappingToken, mount: layout.approleMount, role: layout.approleRole });
    const session = async () => { const c = new VaultClient({ address: bao.address, retries: 0 }); await appRoleLogin(c, layout.approleMount, batch.roleId, secretId); return c; };
    for (let round = 0; round <= RESTARTS; round++) {
      const killAt = round < RESTARTS ? Math.floor((ENVELOPES * (round + 1)) / (RESTARTS + 1)) : -1;
      let killed = false;
      const r = await unsealBatch({ envelopesDir: sealedDir, outDir, concurrency: CONCURRENCY, session, onProgress: ({ done }) => {
        if (done === killAt && !killed) { killed = true; void bao.node.kill('SIGKILL'); }
      } }).then(() => 'ok', (e: unknown) => e);
      if (round < RESTARTS) { expect(r).toBeInstanceOf(VaultError); await bao.restart(); } else expect(r).toBe('ok');
    }
    expect(readdirSync(outDir).filter((f) => f.endsWith('.config.json'))).toHaveLength(ENVELOPES);
    const counts = decryptsByCiphertext(bao.auditLog, layout.transitMount);
    let total = 0;
    await pool(names, 8, async (name) => {
      const c = counts.get(await auditHash(bao.root, 'file', envelopes.get(name)!.ciphertext)) ?? 0;
      expect(c, name).toBeGreaterThanOrEqual(1);
      expect(c, name).toBeLessThanOrEqual(2);
      expect(JSON.parse(readFileSync(join(outDir, `${name}.config.json`), 'utf8')).uuid).toBe(name);
      total += c;
    });
    expect(total - ENVELOPES).toBeLessThanOrEqual(CONCURRENCY * RESTARTS);
    console.log(`soak factory: ${ENVELOPES} envelopes, ${RESTARTS} restarts, ${total - ENVELOPES} decrypted twice (in flight)`);
  } finally {
    await bao.stop();
  }
});
